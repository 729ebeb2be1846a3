import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";

/** A problem in an input file, located: `data.jsonl:17: missing field "label"`. */
export class InputFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
  }
}

export type InputFormat = "jsonl" | "csv" | "tsv" | "text";

/** One record of an input file: a JSON object, a CSV row by column name, or a line of text (`text`). */
export interface InputRecord {
  readonly line: number;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface InputFile {
  readonly path: string;
  readonly format: InputFormat;
  readonly bytes: Buffer;
  readonly records: readonly InputRecord[];
}

export function formatOf(path: string): InputFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  if (ext === ".csv") return "csv";
  if (ext === ".tsv") return "tsv";
  return "text";
}

/** Reads a whole file, strict UTF-8: JSON lines, CSV/TSV with a header row, or plain text (one input per line). */
export function readInputFile(path: string, format: InputFormat = formatOf(path)): InputFile {
  const bytes = readWhole(path);
  const text = decodeStrict(path, bytes);
  const records = format === "jsonl" ? jsonLines(path, text) : format === "text" ? textLines(text) : csvRows(path, text, format === "tsv" ? "\t" : ",");
  return { path, format, bytes, records };
}

/** readFileSync, with the path on every error (node leaves it off EISDIR), for the one-line message. */
function readWhole(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const errno = error as NodeJS.ErrnoException;
    if (errno.path === undefined) errno.path = path;
    throw errno;
  }
}

function decodeStrict(path: string, bytes: Buffer): string {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  try {
    return decoder.decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      const slice = bytes.subarray(start, end === -1 ? bytes.length : end);
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(slice);
      } catch {
        throw new InputFileError(path, line, "not valid UTF-8 (save the file as UTF-8)");
      }
      if (end === -1) throw new InputFileError(path, line, "not valid UTF-8 (save the file as UTF-8)");
      start = end + 1;
    }
  }
}

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

function textLines(text: string): InputRecord[] {
  return lines(text).flatMap((line, i) => (line.trim() === "" ? [] : [{ line: i + 1, fields: { text: line } }]));
}

function jsonLines(path: string, text: string): InputRecord[] {
  const records: InputRecord[] = [];
  lines(text).forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InputFileError(path, i + 1, `invalid JSON: ${(error as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InputFileError(path, i + 1, "expected a JSON object per line");
    records.push({ line: i + 1, fields: value as Record<string, unknown> });
  });
  return records;
}

function csvRows(path: string, text: string, delimiter: string): InputRecord[] {
  try {
    const rows: { info: { lines: number }; record: Record<string, string> }[] = parseCsv(text, { columns: true, info: true, skip_empty_lines: true, delimiter, bom: true });
    return rows.map((row) => ({ line: row.info.lines, fields: row.record }));
  } catch (error) {
    const line = typeof (error as { lines?: unknown }).lines === "number" ? ((error as { lines: number }).lines) : 1;
    throw new InputFileError(path, line, `invalid CSV: ${(error as Error).message.replace(/ (on|at) line \d+/, "")}`);
  }
}

/** The non-empty string in `field`, or a located error naming the fields the record has. */
export function textField(file: string, record: InputRecord, field: string): string {
  const value = record.fields[field];
  if (value === undefined || value === null) throw new InputFileError(file, record.line, `missing field "${field}" (the record has ${describeFields(record)}; see --text-field)`);
  if (typeof value !== "string") throw new InputFileError(file, record.line, `field "${field}" must be a string; got ${JSON.stringify(value)}`);
  if (value.trim() === "") throw new InputFileError(file, record.line, `field "${field}" is empty`);
  return value;
}

/** Labels: a string, or (JSON) an array of strings, or (with a separator) a string of several. */
export function labelsField(file: string, record: InputRecord, field: string, separator?: string): string[] {
  const value = record.fields[field];
  if (value === undefined || value === null) throw new InputFileError(file, record.line, `missing field "${field}" (the record has ${describeFields(record)}; see --label-field)`);
  const labels = Array.isArray(value) ? value : typeof value === "string" ? (separator ? value.split(separator) : [value]) : [value];
  const cleaned = labels.map((label) => {
    if (typeof label !== "string") throw new InputFileError(file, record.line, `field "${field}" must hold strings; got ${JSON.stringify(value)}`);
    return label.trim();
  });
  if (cleaned.length === 0 || cleaned.some((label) => label === "")) throw new InputFileError(file, record.line, `field "${field}" has an empty label`);
  return cleaned;
}

/** A non-empty array of non-empty strings: the words of a sentence. */
export function wordsField(file: string, record: InputRecord, field: string): string[] {
  const value = record.fields[field];
  if (value === undefined || value === null) throw new InputFileError(file, record.line, `missing field "${field}" (the record has ${describeFields(record)}; see --words-field)`);
  if (!Array.isArray(value) || value.some((word) => typeof word !== "string")) throw new InputFileError(file, record.line, `field "${field}" must be an array of strings; got ${clipJson(value)}`);
  if (value.length === 0) throw new InputFileError(file, record.line, `field "${field}" has no words`);
  const empty = (value as string[]).findIndex((word) => word.trim() === "");
  if (empty !== -1) throw new InputFileError(file, record.line, `field "${field}": word ${empty + 1} is empty`);
  return value as string[];
}

const TAG = /^(O|[BI]-\S+)$/;

/** The words and one BIO tag per word (O, B-TYPE or I-TYPE) of a TOKEN example. */
export function wordsAndTags(file: string, record: InputRecord, wordsName: string, tagsName: string): { words: string[]; tags: string[] } {
  const words = wordsField(file, record, wordsName);
  const tags = record.fields[tagsName];
  if (tags === undefined || tags === null) throw new InputFileError(file, record.line, `missing field "${tagsName}" (the record has ${describeFields(record)}; see --tags-field)`);
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string")) throw new InputFileError(file, record.line, `field "${tagsName}" must be an array of strings; got ${clipJson(tags)}`);
  if (tags.length !== words.length) throw new InputFileError(file, record.line, `${tags.length} tags for ${words.length} words (one tag per word)`);
  const bad = (tags as string[]).findIndex((tag) => !TAG.test(tag));
  if (bad !== -1) throw new InputFileError(file, record.line, `tag ${bad + 1} ${JSON.stringify(tags[bad])} is not O, B-TYPE or I-TYPE`);
  return { words, tags: tags as string[] };
}

function clipJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 59)}…` : json;
}

function describeFields(record: InputRecord): string {
  const names = Object.keys(record.fields);
  return names.length === 0 ? "no fields" : `fields ${names.map((n) => `"${n}"`).join(", ")}`;
}
