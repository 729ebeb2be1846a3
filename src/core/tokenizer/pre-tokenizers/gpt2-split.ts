/**
 * GPT-2's pre-tokenizer regex, ByteLevel's split, as a scanner (no match objects, no regex per
 * piece): `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, with
 * \s read as White_Space (Rust's regex, not JS's \s). Its alternatives cover every code point, so
 * the matches tile the text.
 */
const LETTER = 1;
const NUMBER = 2;
const SPACE = 3;
const OTHER = 4;

/** Per code point: 0 not looked up yet, else one of the classes above. */
const classes = new Uint8Array(0x110000);
const LETTER_RE = /^\p{L}$/u;
const NUMBER_RE = /^\p{N}$/u;
const SPACE_RE = /^\p{White_Space}$/u;

function classOf(cp: number): number {
  let c = classes[cp];
  if (c === 0) {
    const s = String.fromCodePoint(cp);
    c = LETTER_RE.test(s) ? LETTER : NUMBER_RE.test(s) ? NUMBER : SPACE_RE.test(s) ? SPACE : OTHER;
    classes[cp] = c;
  }
  return c;
}
for (let cp = 0; cp < 0x80; cp++) classOf(cp);

/** The code point at i (a lone surrogate is one code point, as in a `u` regex). */
function codePointAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}

/** End of the run of code points of class `cls` from i. */
function runEnd(text: string, i: number, cls: number): number {
  const n = text.length;
  while (i < n) {
    const cp = codePointAt(text, i);
    if (classOf(cp) !== cls) break;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

const APOSTROPHE = 0x27;
const s = 0x73, t = 0x74, m = 0x6d, d = 0x64, r = 0x72, e = 0x65, v = 0x76, l = 0x6c;

/** End of the match that starts at i (i < text.length). */
function matchEnd(text: string, i: number): number {
  const n = text.length;
  const c0 = text.charCodeAt(i);
  if (c0 === APOSTROPHE && i + 1 < n) {
    const c1 = text.charCodeAt(i + 1);
    if (c1 === s || c1 === t || c1 === m || c1 === d) return i + 2;
    if (i + 2 < n) {
      const c2 = text.charCodeAt(i + 2);
      if ((c2 === e && (c1 === r || c1 === v)) || (c1 === l && c2 === l)) return i + 3;
    }
  }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the class of the char after an optional space decides.
  const from = c0 === 0x20 && i + 1 < n ? i + 1 : i;
  const cls = classOf(codePointAt(text, from));
  if (cls !== SPACE) return runEnd(text, from, cls);
  // \s+(?!\S) keeps the last space for the next word when something follows; else \s+.
  const end = runEnd(text, i, SPACE);
  return end < n && end - i > 1 ? end - 1 : end;
}

/** The matches' ends, in order (they tile the text: each starts where the previous ended). */
export function gpt2Split(text: string, ends: number[]): void {
  for (let i = 0; i < text.length; ) {
    i = matchEnd(text, i);
    ends.push(i);
  }
}
