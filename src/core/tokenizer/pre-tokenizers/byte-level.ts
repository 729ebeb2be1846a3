/** ByteLevel (tokenizers/src/pre_tokenizers/byte_level.rs): GPT-2's regex split, then every UTF-8 byte as one printable char. */
import { bool, type Json } from "../json.js";
import { transformText, type CharChange, type NormalizedText } from "../normalized-text.js";
import { utf8 } from "../utf8.js";
import { gpt2Split } from "./gpt2-split.js";

export interface ByteLevelSpec {
  readonly type: "ByteLevel";
  readonly addPrefixSpace: boolean;
  readonly trimOffsets: boolean;
  readonly useRegex: boolean;
}

export function byteLevelSpec(json: Json, source: string): ByteLevelSpec {
  return {
    type: "ByteLevel",
    addPrefixSpace: bool(json.add_prefix_space, true, "ByteLevel.add_prefix_space", source),
    trimOffsets: bool(json.trim_offsets, true, "ByteLevel.trim_offsets", source),
    useRegex: bool(json.use_regex, true, "ByteLevel.use_regex", source),
  };
}

/** GPT-2's bytes_to_unicode: byte → printable char. */
export const BYTE_CHARS: readonly string[] = (() => {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = new Array<string>(256);
  for (const b of bytes) chars[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === undefined) chars[b] = String.fromCharCode(256 + n++);
  return chars;
})();
export const CHAR_BYTES: ReadonlyMap<string, number> = new Map(BYTE_CHARS.map((c, b) => [c, b]));

const bytes = new Uint8Array(4);

/** A word as its bytes' chars (the ids-only path: no alignment). Printable ASCII maps to itself. */
export function byteLevelString(word: string): string {
  let k = 0;
  while (k < word.length) {
    const c = word.charCodeAt(k);
    if (c < 0x21 || c > 0x7e) break;
    k++;
  }
  if (k === word.length) return word;
  let out = word.slice(0, k);
  while (k < word.length) {
    const cp = word.codePointAt(k)!;
    const count = utf8(cp, bytes);
    for (let b = 0; b < count; b++) out += BYTE_CHARS[bytes[b]];
    k += cp > 0xffff ? 2 : 1;
  }
  return out;
}

/** Each char of the text as its bytes' chars (the first replaces the char, the others are inserted). */
export function byteLevelChars(input: NormalizedText): NormalizedText {
  const text = input.text;
  let ascii = true;
  for (let k = 0; k < text.length && ascii; k++) ascii = text.charCodeAt(k) < 0x80;
  // ASCII: one byte, so one char, per char; the alignments stay.
  if (ascii) return input.withText(byteLevelString(text));
  const dest: CharChange[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const count = utf8(cp, bytes);
    for (let b = 0; b < count; b++) dest.push([BYTE_CHARS[bytes[b]], b > 0 ? 1 : 0]);
    i += cp > 0xffff ? 2 : 1;
  }
  return transformText(input, dest, 0);
}

export class ByteLevel {
  readonly type = "ByteLevel";
  constructor(readonly spec: ByteLevelSpec) {}

  preTokenize(input: NormalizedText): NormalizedText[] {
    let text = input;
    if (this.spec.addPrefixSpace && text.text.length > 0 && !text.text.startsWith(" ")) text = text.prepended(" ");
    const ends = this.split(text.text);
    const words: NormalizedText[] = [];
    for (let k = 0; k < ends.length; k++) words.push(byteLevelChars(text.slice(k === 0 ? 0 : ends[k - 1], ends[k])));
    return words;
  }

  readonly words = (input: string, bounds: number[]): string => {
    const text = this.spec.addPrefixSpace && input.length > 0 && input.charCodeAt(0) !== 0x20 ? " " + input : input;
    const ends = this.split(text);
    for (let k = 0; k < ends.length; k++) bounds.push(k === 0 ? 0 : ends[k - 1], ends[k]);
    return text;
  };

  readonly wordOf = byteLevelString;

  private readonly ends: number[] = [];

  /** The words' ends: GPT-2's regex matches, or the whole text. */
  private split(text: string): number[] {
    const ends = this.ends;
    ends.length = 0;
    if (this.spec.useRegex) gpt2Split(text, ends);
    else if (text.length > 0) ends.push(text.length);
    return ends;
  }
}
