/**
 * BertNormalizer and BertPreTokenizer character rules, written to give the same strings as
 * transformers.js (@huggingface/tokenizers 0.2, which @huggingface/transformers 4.x uses), whose
 * regular expressions are reused here verbatim so that both follow the Unicode tables of the
 * running V8/ICU. See bert-tokenizer.ts for where this differs from the Rust `tokenizers`.
 *
 * Two layers:
 *  - `normalizeExact`: the normalizer applied to a whole string (the reference semantics);
 *  - `charClasses`: a per-UTF-16-unit table that lets the tokenizer's hot loop handle most
 *    characters without building strings (see the CLASS_* constants).
 */

export interface NormalizerFlags {
  readonly cleanText: boolean;
  readonly handleChineseChars: boolean;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
}

/** BertPreTokenizer's punctuation: Unicode P* plus the ASCII ranges 33-47, 58-64, 91-96, 123-126. */
const PUNCTUATION = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E";
/** BertPreTokenizer: runs of non-space non-punctuation, or one punctuation char. Global: reset lastIndex before use. */
export const PRE_TOKENIZE_RE = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, "gu");
const PUNCTUATION_CHAR_RE = new RegExp(`^[${PUNCTUATION}]$`, "u");
/** transformers.js's BertNormalizer.is_control, operator precedence included (same result on one code point). */
const CONTROL_RE = /^\p{Cc}|\p{Cf}|\p{Co}|\p{Cs}$/u;
const WHITESPACE_RE = /^\s$/;
const NONSPACING_MARK_RE = /\p{Mn}/gu;
const CASE_SENSITIVE_RE = /^[\p{Cased}\p{Case_Ignorable}]$/u;

/** JS's \s (WhiteSpace + LineTerminator): what String.prototype.trim removes. All in the BMP. */
export function isJsWhitespace(c: number): boolean {
  return c < 0x80 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : WHITESPACE_RE.test(String.fromCharCode(c));
}

/** Only the BMP ranges: transformers.js tests UTF-16 units, so astral ideographs never match. */
export function isChineseUnit(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff);
}

const KEEP = 0;
const DROP = 1;
const SPACE = 2;
const PAIR = 3;
let cleanTable: Uint8Array | undefined;

/** clean_text's action per UTF-16 unit: keep, drop, map to ' ', or (surrogates) decide per code point. */
function cleanActions(): Uint8Array {
  if (cleanTable) return cleanTable;
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) {
      table[c] = PAIR;
      continue;
    }
    const ch = String.fromCharCode(c);
    if (c === 0 || c === 0xfffd || (c !== 9 && c !== 10 && c !== 13 && CONTROL_RE.test(ch))) table[c] = DROP;
    else if (WHITESPACE_RE.test(ch)) table[c] = SPACE;
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
    if (action === KEEP) continue;
    if (action === PAIR) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        width = 2;
        action = CONTROL_RE.test(text.slice(i, i + 2)) ? DROP : KEEP;
        if (action === KEEP) {
          i++;
          continue;
        }
      } else {
        action = DROP; // a lone surrogate is Cs
      }
    }
    out += text.slice(runStart, i);
    if (action === SPACE) out += " ";
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

/* What the tokenizer's hot loop does with one UTF-16 unit (tables are per normalizer flags). */
/** ASCII letter/digit (or, without clean_text, an ASCII control that is not \s): part of a word, lowercased by table. */
export const CLASS_WORD = 0;
/** Whitespace that normalizes to whitespace and touches no case context: ends a chunk. */
export const CLASS_SEPARATOR = 1;
/** Normalizes, by itself and in any context, to one pre-token: punctuation, CJK ideographs. */
export const CLASS_STANDALONE = 2;
/** Removed by clean_text before anything else looks at it. */
export const CLASS_DROP = 3;
/** Anything else (non-ASCII letters, marks, surrogates…): the chunk goes the exact, string-based way. */
export const CLASS_OTHER = 4;

export interface CharClasses {
  readonly classes: Uint8Array;
  /** For Standalone units: the normalized pre-token (one code point). */
  readonly standalone: ReadonlyMap<number, string>;
}

const classCache = new Map<string, CharClasses>();

export function charClasses(flags: NormalizerFlags): CharClasses {
  const key = `${+flags.cleanText}${+flags.handleChineseChars}${+flags.lowercase}${+flags.stripAccents}`;
  const cached = classCache.get(key);
  if (cached) return cached;
  const clean = cleanActions();
  const classes = new Uint8Array(0x10000);
  const standalone = new Map<number, string>();
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) {
      classes[c] = CLASS_OTHER;
      continue;
    }
    const ch = String.fromCharCode(c);
    if (flags.cleanText) {
      if (clean[c] === DROP) {
        classes[c] = CLASS_DROP;
        continue;
      }
      if (clean[c] === SPACE) {
        classes[c] = CLASS_SEPARATOR;
        continue;
      }
    } else if (WHITESPACE_RE.test(ch) && !CASE_SENSITIVE_RE.test(ch)) {
      // Without clean_text, whitespace reaches toLowerCase; U+FEFF is case-ignorable, so it may not split chunks.
      classes[c] = CLASS_SEPARATOR;
      continue;
    }
    const punct = PUNCTUATION_CHAR_RE.test(ch);
    if (c < 0x80) {
      classes[c] = punct ? CLASS_STANDALONE : CLASS_WORD;
      if (punct) standalone.set(c, ch);
      continue;
    }
    const cjk = flags.handleChineseChars && isChineseUnit(c);
    classes[c] = CLASS_OTHER;
    if (!punct && !cjk) continue;
    const normalized = normalizeExact(ch, flags);
    const words = normalized.match(PRE_TOKENIZE_RE);
    if (!words || words.length !== 1) continue;
    const word = words[0];
    const cp = word.codePointAt(0)!;
    if (word.length !== (cp > 0xffff ? 2 : 1)) continue;
    // A punctuation mark must stay punctuation, or it would join its neighbours into one word.
    if (!cjk && !PUNCTUATION_CHAR_RE.test(word)) continue;
    classes[c] = CLASS_STANDALONE;
    standalone.set(c, word);
  }
  const result = { classes, standalone };
  classCache.set(key, result);
  return result;
}

/**
 * Normalizes text[start, end) like normalizeExact and maps every UTF-16 unit of the result back
 * to the original code point it came from ([origStart[k], origEnd[k])). The mapping is built
 * per code point; the text itself is normalizeExact's, so context rules (final sigma) hold.
 */
export function normalizeAligned(
  text: string,
  start: number,
  end: number,
  flags: NormalizerFlags,
  classes: Uint8Array,
): { normalized: string; origStart: Uint32Array; origEnd: Uint32Array } {
  const normalized = normalizeExact(text.slice(start, end), flags);
  const origStart = new Uint32Array(normalized.length);
  const origEnd = new Uint32Array(normalized.length);
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
    const cls = classes[c];
    if (cls === CLASS_WORD || (cls === CLASS_STANDALONE && c < 0x80) || cls === CLASS_SEPARATOR) outLength = 1;
    else if (cls === CLASS_DROP) outLength = 0;
    else outLength = normalizeExact(text.slice(i, i + width), flags).length;
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
