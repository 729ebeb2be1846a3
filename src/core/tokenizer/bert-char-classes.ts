/**
 * What BertTokenizer's hot loop does with one UTF-16 unit: BertNormalizer and BertPreTokenizer
 * fused into a table per set of normalizer flags, so that most characters need no strings.
 */
import { CLEAN_DROP, CLEAN_SPACE, cleanActions, isChineseUnit, isWhitespace, normalizeExact, type NormalizerFlags } from "./normalizers/bert-normalizer.js";
import { PRE_TOKENIZE_RE, PUNCTUATION_CHAR_RE } from "./pre-tokenizers/bert-pre-tokenizer.js";

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
      if (clean[c] === CLEAN_DROP) {
        classes[c] = CLASS_DROP;
        continue;
      }
      if (clean[c] === CLEAN_SPACE) {
        classes[c] = CLASS_SEPARATOR;
        continue;
      }
    } else if (isWhitespace(c)) {
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

