import type { Command, Parsed, Values } from "./command.js";
import { UsageError, numberOption, stringOption } from "./command.js";
import { type InputRecord, readInputFile, textField } from "./input-file.js";

export const TEXT_INPUT_OPTIONS = {
  file: { type: "string", value: "F", help: "read inputs from F: .jsonl (see --text-field), .csv/.tsv with a header row, or one text per line" },
  "text-field": { type: "string", value: "NAME", help: "field or column holding the text (default: text)" },
} as const;

/** How a command reads one input from a TEXT argument, and from a record of --file. */
export interface InputReader<T> {
  argument(text: string): T;
  record(file: string, record: InputRecord): T;
}

/** The inputs of a command: one per positional TEXT, or one per record of --file. */
export function inputs<T>(command: Command, parsed: Parsed, reader: InputReader<T>): T[] {
  const file = stringOption(parsed.values, "file");
  if (file !== undefined && parsed.positionals.length > 0) throw new UsageError(`give TEXT arguments or --file, not both (see bertd ${command.name} --help)`);
  if (file === undefined) {
    if (parsed.positionals.length === 0) throw new UsageError(`nothing to do: give TEXT arguments or --file (see bertd ${command.name} --help)`);
    return parsed.positionals.map((text) => reader.argument(text));
  }
  const read = readInputFile(file).records.map((record) => reader.record(file, record));
  if (read.length === 0) throw new UsageError(`${file} holds no inputs`);
  return read;
}

/** The inputs of embed and classify: the positional TEXTs, or the texts of --file. */
export function inputTexts(command: Command, parsed: Parsed): string[] {
  const field = stringOption(parsed.values, "text-field") ?? "text";
  return inputs(command, parsed, { argument: (text) => text, record: (file, record) => textField(file, record, field) });
}

/** Sentence pairs: positional TEXT PAIR two by two, or --file records' --text-field and --pair-field (default text_pair). */
export function inputPairs(command: Command, parsed: Parsed): { text: string; textPair: string }[] {
  const field = stringOption(parsed.values, "text-field") ?? "text";
  const pairField = stringOption(parsed.values, "pair-field") ?? "text_pair";
  const fromFile = stringOption(parsed.values, "file") !== undefined;
  if (!fromFile && parsed.positionals.length % 2 !== 0) {
    throw new UsageError(`--pair takes TEXT PAIR arguments two by two; got ${parsed.positionals.length} (see bertd ${command.name} --help)`);
  }
  const records = inputs(command, parsed, {
    argument: (text) => ({ text, textPair: "" }),
    record: (file, record) => ({ text: textField(file, record, field), textPair: textField(file, record, pairField) }),
  });
  if (fromFile) return records;
  const pairs: { text: string; textPair: string }[] = [];
  for (let i = 0; i < records.length; i += 2) pairs.push({ text: records[i].text, textPair: records[i + 1].text });
  return pairs;
}

/** Splits work into requests of at most `size` inputs (the server caps inputs per request). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const HEAD_VERSION_OPTIONS = {
  version: { type: "string", value: "V", help: "a version other than the active one" },
  "min-version": { type: "string", value: "V", help: "read your writes: wait briefly until the active version is at least V (else FAILED_PRECONDITION)" },
} as const;

/** The version and min_version fields of a Classify or Tag request (0 = unset). */
export function headVersion(values: Values): { version: number; minVersion: number } {
  return { version: numberOption(values, "version", { integer: true, min: 1 }) ?? 0, minVersion: numberOption(values, "min-version", { integer: true, min: 1 }) ?? 0 };
}
