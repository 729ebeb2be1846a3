/** ByteLevel (tokenizers/src/pre_tokenizers/byte_level.rs): GPT-2's regex split, then every UTF-8 byte as one printable char. */
import { bool, type Json } from "../json.js";
import { transformText, type CharChange, type NormalizedText } from "../normalized-text.js";
import { findMatches, splitWith } from "./whitespace.js";

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

export const BYTE_LEVEL_RE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

const encoder = new TextEncoder();

/** Each char of the text as its bytes' chars (the first replaces the char, the others are inserted). */
export function byteLevelChars(input: NormalizedText): NormalizedText {
  const dest: CharChange[] = [];
  let ascii = true;
  for (const c of input.text) {
    const bytes = encoder.encode(c);
    bytes.forEach((b, k) => dest.push([BYTE_CHARS[b], k > 0 ? 1 : 0]));
    if (bytes.length > 1 || BYTE_CHARS[bytes[0]] !== c) ascii = false;
  }
  return ascii ? input : transformText(input, dest, 0);
}

export class ByteLevel {
  readonly type = "ByteLevel";
  constructor(readonly spec: ByteLevelSpec) {}

  preTokenize(input: NormalizedText): NormalizedText[] {
    let text = input;
    if (this.spec.addPrefixSpace && text.text.length > 0 && !text.text.startsWith(" ")) {
      const first = String.fromCodePoint(text.text.codePointAt(0)!);
      const dest: CharChange[] = [[" ", 0], [first, 1]];
      for (const c of text.text.slice(first.length)) dest.push([c, 0]);
      text = transformText(text, dest, 0);
    }
    const words = this.spec.useRegex ? splitWith(text, findMatches(text.text, BYTE_LEVEL_RE), "Isolated") : text.text.length > 0 ? [text] : [];
    return words.map(byteLevelChars);
  }
}
