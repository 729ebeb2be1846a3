/** NFC/NFD/NFKC/NFKD, Nmt, Strip, Lowercase (tokenizers/src/normalizers/{unicode,strip,utils}.rs). */
import { pushReplacement, transformText, type CharChange, type NormalizedText } from "../normalized-text.js";

export type UnicodeForm = "NFC" | "NFD" | "NFKC" | "NFKD";
export interface UnicodeSpec {
  readonly type: UnicodeForm;
}
export interface NmtSpec {
  readonly type: "Nmt";
}
export interface StripSpec {
  readonly type: "Strip";
  readonly left: boolean;
  readonly right: boolean;
}
export interface LowercaseSpec {
  readonly type: "Lowercase";
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const ASCII_RE = /^[\x00-\x7f]*$/;

/** Each grapheme through f; a changed grapheme aligned as precompiled.rs's replace does. */
function perGrapheme(input: NormalizedText, f: (s: string) => string): NormalizedText {
  const dest: CharChange[] = [];
  let modified = false;
  for (const { segment } of segmenter.segment(input.text)) {
    const out = f(segment);
    if (out === segment) for (const c of segment) dest.push([c, 0]);
    else {
      modified = true;
      pushReplacement(dest, segment, out);
    }
  }
  return modified ? transformText(input, dest, 0) : input;
}

export class UnicodeNormalizer {
  constructor(readonly type: UnicodeForm) {}
  normalize(input: NormalizedText): NormalizedText {
    if (ASCII_RE.test(input.text)) return input;
    return perGrapheme(input, (s) => s.normalize(this.type));
  }
  normalizeString(text: string): string {
    return text.normalize(this.type);
  }
}

function nmtDropped(c: number): boolean {
  return (c >= 0x01 && c <= 0x08) || c === 0x0b || (c >= 0x0e && c <= 0x1f) || c === 0x7f || c === 0x8f || c === 0x9f;
}
function nmtSpace(c: number): boolean {
  return c === 9 || c === 10 || c === 12 || c === 13 || c === 0x1680 || (c >= 0x200b && c <= 0x200f) || c === 0x2028 || c === 0x2029 || c === 0x2581 || c === 0xfeff || c === 0xfffd;
}

/** NormalizedString::filter: a removed char is charged to the kept char before it (or removed first). */
function filterChars(input: NormalizedText, keep: (c: number) => boolean, map: (c: string) => string = (c) => c): NormalizedText {
  const dest: CharChange[] = [];
  let removed = 0;
  let removedStart = 0;
  let last: string | null = null;
  let changed = false;
  for (const ch of input.text) {
    if (keep(ch.codePointAt(0)!)) {
      if (last !== null) dest.push([map(last), -removed]);
      else removedStart = removed;
      last = ch;
      removed = 0;
    } else {
      removed++;
      changed = true;
    }
  }
  if (last !== null) dest.push([map(last), -removed]);
  if (!changed && dest.every(([c], k) => c === [...input.text][k])) return input;
  return transformText(input, dest, last === null ? removed : removedStart);
}

export class Nmt {
  readonly type = "Nmt";
  normalize(input: NormalizedText): NormalizedText {
    return filterChars(input, (c) => !nmtDropped(c), (c) => (nmtSpace(c.codePointAt(0)!) ? " " : c));
  }
  normalizeString(text: string): string {
    let out = "";
    for (const c of text) {
      const cp = c.codePointAt(0)!;
      if (!nmtDropped(cp)) out += nmtSpace(cp) ? " " : c;
    }
    return out;
  }
}

const WHITE_SPACE_RE = /^\p{White_Space}$/u;
export const isRustWhitespace = (c: string): boolean => WHITE_SPACE_RE.test(c);

export class Strip {
  readonly type = "Strip";
  constructor(private readonly spec: StripSpec) {}
  normalize(input: NormalizedText): NormalizedText {
    const chars = [...input.text];
    let from = 0;
    let to = chars.length;
    if (this.spec.left) while (from < to && isRustWhitespace(chars[from])) from++;
    if (this.spec.right) while (to > from && isRustWhitespace(chars[to - 1])) to--;
    if (from === 0 && to === chars.length) return input;
    const start = chars.slice(0, from).join("").length;
    const end = input.text.length - chars.slice(to).join("").length;
    return input.slice(start, end);
  }
  normalizeString(text: string): string {
    const chars = [...text];
    let from = 0;
    let to = chars.length;
    if (this.spec.left) while (from < to && isRustWhitespace(chars[from])) from++;
    if (this.spec.right) while (to > from && isRustWhitespace(chars[to - 1])) to--;
    return chars.slice(from, to).join("");
  }
}

export class Lowercase {
  readonly type = "Lowercase";
  normalize(input: NormalizedText): NormalizedText {
    const lower = input.text.toLowerCase();
    if (lower === input.text) return input;
    const dest: CharChange[] = [];
    for (const c of input.text) {
      const l = [...c.toLowerCase()];
      l.forEach((x, k) => dest.push([x, k === 0 ? 0 : 1]));
    }
    return transformText(input, dest, 0);
  }
  normalizeString(text: string): string {
    let out = "";
    for (const c of text) out += c.toLowerCase();
    return out;
  }
}
