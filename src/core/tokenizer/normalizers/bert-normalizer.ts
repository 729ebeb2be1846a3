/**
 * BertNormalizer, written to give the same strings as transformers.js (@huggingface/tokenizers
 * 0.2, which @huggingface/transformers 4.x uses), whose regular expressions are reused here
 * verbatim so that both follow the Unicode tables of the running V8/ICU. See bert-tokenizer.ts for
 * where this differs from the Rust `tokenizers`.
 *
 * `normalizeExact` applies it to a whole string (the reference semantics), `normalizeAligned` also
 * maps the result back to the original text, and `BertNormalizer` is the pipeline stage.
 */
import { bool, type Json } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";

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

/** transformers.js's BertNormalizer.is_control, operator precedence included (same result on one code point). */
const CONTROL_RE = /^\p{Cc}|\p{Cf}|\p{Co}|\p{Cs}$/u;
const WHITESPACE_RE = /^\s$/;
const NONSPACING_MARK_RE = /\p{Mn}/gu;

/** JS's \s (WhiteSpace + LineTerminator): what String.prototype.trim removes. All in the BMP. */
export function isJsWhitespace(c: number): boolean {
  return c < 0x80 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : WHITESPACE_RE.test(String.fromCharCode(c));
}

/** Only the BMP ranges: transformers.js tests UTF-16 units, so astral ideographs never match. */
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
    if (c === 0 || c === 0xfffd || (c !== 9 && c !== 10 && c !== 13 && CONTROL_RE.test(ch))) table[c] = CLEAN_DROP;
    else if (WHITESPACE_RE.test(ch)) table[c] = CLEAN_SPACE;
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
        action = CONTROL_RE.test(text.slice(i, i + 2)) ? CLEAN_DROP : CLEAN_KEEP;
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

/** BertNormalizer.handle_chinese_chars: a space on each side of every CJK ideograph (BMP units only). */
export function spaceChineseChars(text: string): string {
  let out = "";
  let runStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x3400 || !isChineseUnit(c)) continue;
    out += text.slice(runStart, i) + " " + text[i] + " ";
    runStart = i + 1;
  }
  return runStart === 0 ? text : out + text.slice(runStart);
}

/** NFD, then drop nonspacing marks (Mn). */
export function stripAccents(text: string): string {
  return text.normalize("NFD").replace(NONSPACING_MARK_RE, "");
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * The whole BertNormalizer as transformers.js applies it: clean, CJK spacing, then lowercase and
 * strip accents (in that order; the Rust crate strips first, which gives the same text in practice).
 */
export function normalizeExact(text: string, flags: NormalizerFlags): string {
  if (flags.cleanText) text = cleanText(text);
  if (flags.handleChineseChars) text = spaceChineseChars(text);
  if (flags.lowercase) text = text.toLowerCase();
  if (flags.stripAccents && !isAscii(text)) text = stripAccents(text);
  return text;
}

/** Per combination of the four flags. */
const outLengths: (Int16Array | undefined)[] = [];

/**
 * normalizeExact(one BMP unit).length for these flags, filled in on demand (-1: not yet); the
 * length never depends on the context.
 */
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
 * mapping is built per code point; the text itself is normalizeExact's, so context rules (final
 * sigma) hold.
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
    // Like the Rust crate's NormalizedString::filter: what normalizes to nothing (dropped controls,
    // stripped accents) belongs to the unit before it.
    if (outLength === 0 && k > 0 && origEnd[k - 1] === i) origEnd[k - 1] = i + width;
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
