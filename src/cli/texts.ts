import type { Command, Parsed } from "./command.js";
import { UsageError, stringOption } from "./command.js";
import { readInputFile, textField } from "./input-file.js";

export const TEXT_INPUT_OPTIONS = {
  file: { type: "string", value: "F", help: "read inputs from F: .jsonl (see --text-field), .csv/.tsv with a header row, or one text per line" },
  "text-field": { type: "string", value: "NAME", help: "field or column holding the text (default: text)" },
} as const;

/** The inputs of embed and classify: the positional TEXTs, or the texts of --file. */
export function inputTexts(command: Command, parsed: Parsed): string[] {
  const file = stringOption(parsed.values, "file");
  if (file !== undefined && parsed.positionals.length > 0) throw new UsageError(`give TEXT arguments or --file, not both (see bertd ${command.name} --help)`);
  if (file === undefined) {
    if (parsed.positionals.length === 0) throw new UsageError(`nothing to do: give TEXT arguments or --file (see bertd ${command.name} --help)`);
    return parsed.positionals;
  }
  const input = readInputFile(file);
  const field = stringOption(parsed.values, "text-field") ?? "text";
  const texts = input.records.map((record) => textField(file, record, field));
  if (texts.length === 0) throw new UsageError(`${file} holds no inputs`);
  return texts;
}

/** Splits work into requests of at most `size` inputs (the server caps inputs per request). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
