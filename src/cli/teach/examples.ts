import { createHash } from "node:crypto";
import { basename } from "node:path";
import { type InputFile, InputFileError, labelsField, textField } from "../input-file.js";

export interface FileExample {
  readonly id: string;
  readonly line: number;
  readonly text: string;
  readonly labels: string[];
  readonly weight?: number;
}

export interface ExampleFields {
  readonly text: string;
  readonly label: string;
  /** Take ids from this field instead of `<file name>:<line>:<hash>`. */
  readonly id?: string;
  readonly weight?: string;
  /** Splits one CSV label cell into several labels (multilabel). */
  readonly labelSeparator?: string;
}

/** Every record as an Adapt example; every problem found, located (file:line), at most `limit`. */
export function fileExamples(input: InputFile, fields: ExampleFields, limit = 10): { examples: FileExample[]; problems: InputFileError[] } {
  const examples: FileExample[] = [];
  const problems: InputFileError[] = [];
  const name = basename(input.path);
  const seen = new Map<string, number>();
  for (const record of input.records) {
    try {
      const text = textField(input.path, record, fields.text);
      const labels = labelsField(input.path, record, fields.label, fields.labelSeparator);
      const id = fields.id === undefined ? exampleId(name, record.line, text, labels) : idOf(input.path, record.line, record.fields[fields.id], fields.id);
      const first = seen.get(id);
      if (first !== undefined) throw new InputFileError(input.path, record.line, `id "${id}" repeats line ${first}`);
      seen.set(id, record.line);
      const weight = fields.weight === undefined ? undefined : weightOf(input.path, record.line, record.fields[fields.weight], fields.weight);
      examples.push({ id, line: record.line, text, labels, weight });
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      problems.push(error);
      if (problems.length >= limit) break;
    }
  }
  return { examples, problems };
}

/**
 * `<file name>:<line>:<8 hex digits of sha256(text, labels)>`: the same file taught again gives the same
 * ids (the server skips them); another file of the same name, or an edited line, gives new ones.
 */
export function exampleId(fileName: string, line: number, text: string, labels: readonly string[]): string {
  const digest = createHash("sha256").update(text).update("\0").update(labels.join("\u001f")).digest("hex");
  return `${fileName}:${line}:${digest.slice(0, 8)}`;
}

function idOf(file: string, line: number, value: unknown, field: string): string {
  if (typeof value === "number" || (typeof value === "string" && value !== "")) return String(value);
  throw new InputFileError(file, line, `missing field "${field}" (see --id-field)`);
}

function weightOf(file: string, line: number, value: unknown, field: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const weight = Number(value);
  if (!Number.isFinite(weight) || weight <= 0) throw new InputFileError(file, line, `field "${field}" must be a number > 0; got ${JSON.stringify(value)}`);
  return weight;
}
