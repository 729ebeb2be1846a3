import { createHash } from "node:crypto";
import { basename } from "node:path";
import { type InputFile, InputFileError, type InputRecord, labelsField, textField, wordsAndTags } from "../input-file.js";

/** What an example teaches: a text and its labels, or (TOKEN heads) words and one tag per word. */
export type ExampleContent = { readonly text: string; readonly textPair?: string; readonly labels: string[] } | { readonly words: string[]; readonly tags: string[] };

export interface FileExample {
  readonly id: string;
  readonly line: number;
  readonly content: ExampleContent;
  readonly weight?: number;
}

/** The fields of the text and label(s), or (TOKEN heads) of the words and tags. */
export type ExampleFields = ({ readonly text: string; readonly label: string; /** Pair heads: the field of the second text. */ readonly pair?: string } | { readonly words: string; readonly tags: string }) & {
  /** Take ids from this field instead of `<file name>:<line>:<hash>`. */
  readonly id?: string;
  readonly weight?: string;
  /** Splits one CSV label cell into several labels (multilabel). */
  readonly labelSeparator?: string;
};

/** Every record as an Adapt example; every problem found, located (file:line), at most `limit`. */
export function fileExamples(input: InputFile, fields: ExampleFields, limit = 10): { examples: FileExample[]; problems: InputFileError[] } {
  const examples: FileExample[] = [];
  const problems: InputFileError[] = [];
  const name = basename(input.path);
  const seen = new Map<string, number>();
  for (const record of input.records) {
    try {
      const content = contentOf(input.path, record, fields);
      const id = fields.id === undefined ? exampleId(name, record.line, ...hashedParts(content)) : idOf(input.path, record.line, record.fields[fields.id], fields.id);
      const first = seen.get(id);
      if (first !== undefined) throw new InputFileError(input.path, record.line, `id "${id}" repeats line ${first}`);
      seen.set(id, record.line);
      const weight = fields.weight === undefined ? undefined : weightOf(input.path, record.line, record.fields[fields.weight], fields.weight);
      examples.push({ id, line: record.line, content, weight });
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      problems.push(error);
      if (problems.length >= limit) break;
    }
  }
  return { examples, problems };
}

function contentOf(file: string, record: InputRecord, fields: ExampleFields): ExampleContent {
  if ("words" in fields) return wordsAndTags(file, record, fields.words, fields.tags);
  const labels = labelsField(file, record, fields.label, fields.labelSeparator);
  if (fields.pair !== undefined) return { text: textField(file, record, fields.text), textPair: textField(file, record, fields.pair), labels };
  return { text: textField(file, record, fields.text), labels };
}

/** Words are hashed as one string joined by a separator no word holds in practice, like labels. */
function hashedParts(content: ExampleContent): [string, string[]] {
  if ("words" in content) return [content.words.join("\u001f"), content.tags];
  return [content.textPair === undefined ? content.text : `${content.text}\u001e${content.textPair}`, content.labels];
}

/** The labels (or tags) an example teaches. */
export function labelsOf(content: ExampleContent): string[] {
  return "words" in content ? content.tags : content.labels;
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
