/**
 * SentencePiece's precompiled charsmap (tokenizer.json {"type": "Precompiled"}), decoded for real:
 * a Darts double-array trie over UTF-8 bytes whose leaves index NUL-terminated replacement strings
 * (crate spm_precompiled), applied per grapheme cluster as tokenizers/src/normalizers/precompiled.rs.
 */
import { TokenizerLoadError } from "../errors.js";
import { pushReplacement, transformText, type CharChange, type NormalizedText } from "../normalized-text.js";
import { utf8, utf8Length } from "../utf8.js";

export interface PrecompiledSpec {
  readonly type: "Precompiled";
  /** The charsmap bytes (tokenizer.json holds them base64-encoded). */
  readonly charsmap: Uint8Array;
}

const decoder = new TextDecoder();
const bytes = new Uint8Array(4);

/** A double-array unit's offset (spm_precompiled). */
function offset(u: number): number {
  return (u >>> 10) << ((u & 0x200) >>> 6);
}
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Code points that, alone, may start or join a multi-char grapheme (then the slow path decides). */
const JOINING_RE = /[\p{M}\p{Cf}\p{Cc}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u0e33\u0eb3\u0d4e\u{1f1e6}-\u{1f1ff}\u{1f3fb}-\u{1f3ff}\u{110bd}\u{110cd}\u{111c2}\u{111c3}\u{1193f}\u{11941}\u{11a3a}\u{11a84}-\u{11a89}\u{11d46}\u{11f02}\p{Cn}\p{Co}\p{Cs}\p{Zl}\p{Zp}]/u;

export class Precompiled {
  readonly type = "Precompiled";
  private readonly units: Uint32Array;
  private readonly blob: Uint8Array;
  /** Per BMP code point: 0 unknown, 1 safe (maps to itself, never joins a grapheme), 2 not. */
  private readonly safe = new Uint8Array(0x10000);
  private readonly replacements = new Map<number, string>();

  constructor(spec: PrecompiledSpec) {
    const bytes = spec.charsmap;
    if (bytes.length < 4) throw new TokenizerLoadError("Precompiled: charsmap too short");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > bytes.length) throw new TokenizerLoadError("Precompiled: bad charsmap trie size");
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.blob = bytes.subarray(4 + trieSize);
  }

  /** The replacement for the shortest charsmap key that prefixes `chunk`, or null. */
  transform(chunk: string): string | null {
    const a = this.units;
    let p = offset(a[0]);
    for (let i = 0; i < chunk.length; ) {
      const cp = chunk.codePointAt(i)!;
      i += cp > 0xffff ? 2 : 1;
      const count = utf8(cp, bytes);
      for (let k = 0; k < count; k++) {
        const c = bytes[k];
        if (c === 0) return null;
        p ^= c;
        const u = a[p];
        if (u === undefined || (u & 0x800000ff) >>> 0 !== c) return null;
        p ^= offset(u);
        if ((u >>> 8) & 1) return this.replacement(a[p] & 0x7fffffff);
      }
    }
    return null;
  }

  /** The NUL-terminated string at blob[index]. */
  private replacement(index: number): string {
    let text = this.replacements.get(index);
    if (text === undefined) {
      let end = index;
      while (end < this.blob.length && this.blob[end] !== 0) end++;
      text = decoder.decode(this.blob.subarray(index, end));
      this.replacements.set(index, text);
    }
    return text;
  }

  private isSafe(text: string): boolean {
    for (let i = 0; i < text.length; i++) if (!this.isSafeUnit(text.charCodeAt(i))) return false;
    return true;
  }

  private isSafeUnit(c: number): boolean {
    let s = this.safe[c];
    if (s === 0) {
      const ch = String.fromCharCode(c);
      s = c >= 0xd800 && c <= 0xdfff ? 2 : c === 13 || JOINING_RE.test(ch) || this.transform(ch) !== null ? 2 : 1;
      this.safe[c] = s;
    }
    return s === 1;
  }

  normalize(input: NormalizedText): NormalizedText {
    if (this.isSafe(input.text)) return input;
    const dest: CharChange[] = [];
    let modified = false;
    const replace = (old: string, replacement: string): void => pushReplacement(dest, old, replacement);
    for (const { segment } of segmenter.segment(input.text)) {
      if (utf8Length(segment, 6) < 6) {
        const norm = this.transform(segment);
        if (norm !== null) {
          modified = true;
          replace(segment, norm);
          continue;
        }
      }
      for (const c of segment) {
        const norm = this.transform(c);
        if (norm !== null) {
          modified = true;
          replace(c, norm);
        } else dest.push([c, 0]);
      }
    }
    return modified ? transformText(input, dest, 0) : input;
  }

  normalizeString(text: string): string {
    if (this.isSafe(text)) return text;
    // Safe chars are their own graphemes and map to themselves: only the stretches around the
    // others go through grapheme segmentation (with one safe neighbour each side, which a
    // grapheme may take in: a base before a mark, an emoji after a ZWJ).
    let out = "";
    let done = 0;
    for (let i = 0; i < text.length; i++) {
      if (this.isSafeUnit(text.charCodeAt(i))) continue;
      const from = Math.max(done, i - 1);
      let to = i + 1;
      while (to < text.length && !(this.isSafeUnit(text.charCodeAt(to)) && (to + 1 >= text.length || this.isSafeUnit(text.charCodeAt(to + 1))))) to++;
      to = Math.min(to + 1, text.length);
      out += text.slice(done, from) + this.normalizeGraphemes(text.slice(from, to));
      done = to;
      i = to - 1;
    }
    return out + text.slice(done);
  }

  private normalizeGraphemes(text: string): string {
    let out = "";
    for (const { segment } of segmenter.segment(text)) {
      const norm = utf8Length(segment, 6) < 6 ? this.transform(segment) : null;
      if (norm !== null) {
        out += norm;
        continue;
      }
      for (const c of segment) out += this.transform(c) ?? c;
    }
    return out;
  }
}
