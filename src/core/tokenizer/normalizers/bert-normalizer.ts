/**
 * BertNormalizer, giving the same strings as Hugging Face's Rust `tokenizers` (what Python's
 * transformers, TEI and sentence-transformers run): clean_text, handle_chinese_chars, strip_accents,
 * lowercase, in that order, each per code point, with the crate's own character classes
 * (bert-unicode-tables.ts, read off the crate) rather than the running ICU's \p{…}.
 *
 * `normalizeExact` applies it to a whole string (the reference semantics), `normalizeAligned` also
 * maps the result back to the original text, and `BertNormalizer` is the pipeline stage.
 */
import { bool, type Json } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";
import { CHINESE, CLEAN_WHITESPACE, NFD_UNCHANGED, NONSPACING_MARK, OTHER, WHITESPACE } from "./bert-unicode-tables.js";

export interface NormalizerFlags {
  readonly cleanText: boolean;
  readonly handleChineseChars: boolean;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
}

/** tokenizer.json's {"type": "BertNormalizer", …}, strip_accents resolved (HF's null means "same as lowercase"). */
export interface BertNormalizerSpec extends NormalizerFlags {
  readonly type: "BertNormalizer";
}

export function bertNormalizerSpec(json: Json, source: string): BertNormalizerSpec {
  const lowercase = bool(json.lowercase, true, "normalizer.lowercase", source);
  return {
    type: "BertNormalizer",
    lowercase,
    stripAccents: bool(json.strip_accents, lowercase, "normalizer.strip_accents", source),
    handleChineseChars: bool(json.handle_chinese_chars, true, "normalizer.handle_chinese_chars", source),
    cleanText: bool(json.clean_text, true, "normalizer.clean_text", source),
  };
}

const OTHER_RE = new RegExp(`^[${OTHER}]$`, "u");
const CLEAN_SPACE_RE = new RegExp(`^[${CLEAN_WHITESPACE}]$`, "u");
const WHITESPACE_RE = new RegExp(`^[${WHITESPACE}]$`, "u");
const NONSPACING_MARK_RE = new RegExp(`[${NONSPACING_MARK}]`, "gu");
const CHINESE_RE = new RegExp(`[${CHINESE}]`, "gu");
const NFD_UNCHANGED_RE = new RegExp(`[${NFD_UNCHANGED}]`, "u");
const DECOMPOSABLE_RUN_RE = new RegExp(`[^${NFD_UNCHANGED}]+`, "gu");
const CAPITAL_SIGMA = "\u03a3";

/** char::is_whitespace (what BertPreTokenizer splits on), for a BMP unit; there is none outside the BMP. */
export function isWhitespace(c: number): boolean {
  return c < 0x80 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : WHITESPACE_RE.test(String.fromCharCode(c));
}

/** The crate's CJK ideograph ranges that lie in the BMP (the others are astral: see CHINESE). */
export function isChineseUnit(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff);
}

/* clean_text's action per UTF-16 unit. */
export const CLEAN_KEEP = 0;
export const CLEAN_DROP = 1;
export const CLEAN_SPACE = 2;
/** A surrogate: decided per code point. */
const CLEAN_PAIR = 3;
let cleanTable: Uint8Array | undefined;

/** clean_text's action per UTF-16 unit: keep, drop, map to ' ', or (surrogates) decide per code point. */
export function cleanActions(): Uint8Array {
  if (cleanTable) return cleanTable;
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) {
      table[c] = CLEAN_PAIR;
      continue;
    }
    const ch = String.fromCharCode(c);
    if (OTHER_RE.test(ch)) table[c] = CLEAN_DROP;
    else if (CLEAN_SPACE_RE.test(ch)) table[c] = CLEAN_SPACE;
  }
  cleanTable = table;
  return table;
}

/** BertNormalizer.clean_text. */
export function cleanText(text: string): string {
  const table = cleanActions();
  let out = "";
  let runStart = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let action = table[c];
    let width = 1;
    if (action === CLEAN_KEEP) continue;
    if (action === CLEAN_PAIR) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        width = 2;
        action = OTHER_RE.test(text.slice(i, i + 2)) ? CLEAN_DROP : CLEAN_KEEP;
        if (action === CLEAN_KEEP) {
          i++;
          continue;
        }
      } else {
        action = CLEAN_DROP; // a lone surrogate is Cs
      }
    }
    out += text.slice(runStart, i);
    if (action === CLEAN_SPACE) out += " ";
    runStart = i + width;
    i += width - 1;
  }
  return runStart === 0 ? text : out + text.slice(runStart);
}

/** BertNormalizer.handle_chinese_chars: a space on each side of every CJK ideograph. */
export function spaceChineseChars(text: string): string {
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x3400 && (isChineseUnit(c) || (c >= 0xd840 && c <= 0xd87e))) break;
  }
  return i === text.length ? text : text.replace(CHINESE_RE, " $& ");
}

/** NFD, then drop the nonspacing marks. */
export function stripAccents(text: string): string {
  const decomposed = NFD_UNCHANGED_RE.test(text) ? text.replace(DECOMPOSABLE_RUN_RE, (run) => run.normalize("NFD")) : text.normalize("NFD");
  return decomposed.replace(NONSPACING_MARK_RE, "");
}

/** Each code point on its own, as the crate does: a word-final Σ becomes σ, not ς as in String.prototype.toLowerCase. */
export function lowercase(text: string): string {
  if (!text.includes(CAPITAL_SIGMA)) return text.toLowerCase();
  let out = "";
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** The whole BertNormalizer, in the crate's order: clean, CJK spacing, strip accents, lowercase. */
export function normalizeExact(text: string, flags: NormalizerFlags): string {
  if (flags.cleanText) text = cleanText(text);
  if (flags.handleChineseChars) text = spaceChineseChars(text);
  if (flags.stripAccents && !isAscii(text)) text = stripAccents(text);
  if (flags.lowercase) text = lowercase(text);
  return text;
}

/** Per combination of the four flags. */
const outLengths: (Int16Array | undefined)[] = [];

/** normalizeExact(one BMP unit).length for these flags, filled in on demand (-1: not yet). */
function outLengthTable(flags: NormalizerFlags): Int16Array {
  const key = (+flags.cleanText << 3) | (+flags.handleChineseChars << 2) | (+flags.lowercase << 1) | +flags.stripAccents;
  let table = outLengths[key];
  if (!table) {
    table = new Int16Array(0x10000).fill(-1);
    outLengths[key] = table;
  }
  return table;
}

/**
 * Normalizes text[start, end) like normalizeExact and maps every UTF-16 unit of the result back
 * to the original code point it came from ([origStart[k], origEnd[k]), offsets into `text`). The
 * mapping is built per code point (every step works per code point, so lengths add up).
 */
export function normalizeAligned(
  text: string,
  start: number,
  end: number,
  flags: NormalizerFlags,
): { normalized: string; origStart: Uint32Array; origEnd: Uint32Array } {
  const normalized = normalizeExact(text.slice(start, end), flags);
  const origStart = new Uint32Array(normalized.length);
  const origEnd = new Uint32Array(normalized.length);
  const lengths = outLengthTable(flags);
  let k = 0;
  let ok = true;
  for (let i = start; i < end; ) {
    const c = text.charCodeAt(i);
    let width = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) width = 2;
    }
    let outLength: number;
    if (width === 2) outLength = normalizeExact(text.slice(i, i + 2), flags).length;
    else if ((outLength = lengths[c]) < 0) lengths[c] = outLength = normalizeExact(text[i], flags).length;
    if (k + outLength > normalized.length) {
      ok = false;
      break;
    }
    // What normalizes to nothing (dropped controls, stripped accents) belongs to no unit: the Rust
    // crate's NormalizedString::filter drops its alignment.
    for (let j = 0; j < outLength; j++, k++) {
      origStart[k] = i;
      origEnd[k] = i + width;
    }
    i += width;
  }
  if (!ok || k !== normalized.length) {
    // Never seen in practice: fall back to the whole span for every unit.
    origStart.fill(start);
    origEnd.fill(end);
  }
  return { normalized, origStart, origEnd };
}

/** The pipeline stage. */
export class BertNormalizer {
  readonly type = "BertNormalizer";
  readonly flags: NormalizerFlags;

  constructor(spec: BertNormalizerSpec) {
    this.flags = { cleanText: spec.cleanText, handleChineseChars: spec.handleChineseChars, lowercase: spec.lowercase, stripAccents: spec.stripAccents };
  }

  normalizeString(text: string): string {
    return normalizeExact(text, this.flags);
  }

  normalize(input: NormalizedText): NormalizedText {
    const { normalized, origStart, origEnd } = normalizeAligned(input.text, 0, input.text.length, this.flags);
    return input.transformed(normalized, origStart, origEnd);
  }
}
