import type { AddedTokenSpec } from "./types.js";

/** A piece of text between added tokens ([start, end) of the text), or one added token. */
export interface Segment {
  start: number;
  end: number;
  token: AddedTokenSpec | null;
}

interface TrieNode {
  next: Map<number, TrieNode>;
  match: string | null;
}

/**
 * Hugging Face's AddedVocabulary matching: at each position the longest added-token content that
 * starts there (leftmost-longest, case-sensitive, on UTF-16 units); single_word, lstrip and rstrip
 * as added_vocabulary.rs (the stripped whitespace belongs to the token and its offsets).
 */
export class AddedTokenSplitter {
  private readonly root: TrieNode = { next: new Map(), match: null };
  /** First units of the contents: a text without any of them has no match. */
  private readonly firstUnits: string[];

  /** `lookup` maps matched contents to tokens (the added_tokens_map). */
  constructor(
    contents: readonly string[],
    private readonly lookup: ReadonlyMap<string, AddedTokenSpec>,
  ) {
    const first = new Set<string>();
    for (const content of contents) {
      if (content.length === 0) continue;
      first.add(content[0]);
      let node = this.root;
      for (let i = 0; i < content.length; i++) {
        const c = content.charCodeAt(i);
        let child = node.next.get(c);
        if (!child) {
          child = { next: new Map(), match: null };
          node.next.set(c, child);
        }
        node = child;
      }
      node.match = content;
    }
    this.firstUnits = [...first];
  }

  get empty(): boolean {
    return this.firstUnits.length === 0;
  }

  /** Cheap pre-check: false means split() would return the whole text as one segment. */
  mayMatch(text: string): boolean {
    for (const unit of this.firstUnits) if (text.includes(unit)) return true;
    return false;
  }

  split(text: string, start: number, end: number): Segment[] {
    const segments: Segment[] = [];
    let textStart = start;
    let i = start;
    while (i < end) {
      let node: TrieNode | undefined = this.root;
      let match: string | null = null;
      for (let j = i; j < end; j++) {
        node = node.next.get(text.charCodeAt(j));
        if (!node) break;
        if (node.match !== null) match = node.match;
      }
      const token = match === null ? undefined : this.lookup.get(match);
      if (match === null || !token) {
        i++;
        continue;
      }
      let tokenStart = i;
      let tokenEnd = i + match.length;
      // added_vocabulary.rs find_matches: single_word needs no word char on either side; lstrip and
      // rstrip take the neighbouring whitespace into the token (never into an earlier token).
      if (token.singleWord && ((i > start && WORD_END_RE.test(text.slice(Math.max(start, i - 2), i))) || (tokenEnd < end && WORD_START_RE.test(text.slice(tokenEnd, tokenEnd + 2))))) {
        i++;
        continue;
      }
      if (token.lstrip) while (tokenStart > textStart && isRustSpace(text, tokenStart - 1)) tokenStart--;
      if (token.rstrip) while (tokenEnd < end && isRustSpace(text, tokenEnd)) tokenEnd++;
      if (tokenStart > textStart) segments.push({ start: textStart, end: tokenStart, token: null });
      segments.push({ start: tokenStart, end: tokenEnd, token });
      i = tokenEnd;
      textStart = i;
    }
    if (textStart < end) segments.push({ start: textStart, end, token: null });
    return segments;
  }
}

const W = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
const WORD_END_RE = new RegExp(`[${W}]$`, "u");
const WORD_START_RE = new RegExp(`^[${W}]`, "u");
const SPACE_RE = /\p{White_Space}/u;

/** Rust's char::is_whitespace on the (BMP) unit at i. */
function isRustSpace(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c < 0x80 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : SPACE_RE.test(text[i]);
}

/**
 * The added tokens as the tokenizer matches them: those with "normalized": false in the raw text,
 * the others in the normalized text (by their normalized content).
 */
export class AddedVocabulary {
  /** Content, and normalized content, → token (token_to_id). */
  readonly map: ReadonlyMap<string, AddedTokenSpec>;
  /** Null when no token is matched in the raw (resp. normalized) text. */
  readonly rawSplitter: AddedTokenSplitter | null;
  readonly normalizedSplitter: AddedTokenSplitter | null;

  constructor(
    readonly tokens: readonly AddedTokenSpec[],
    normalize: (content: string) => string,
  ) {
    const map = new Map<string, AddedTokenSpec>();
    const rawContents: string[] = [];
    const normalizedContents: string[] = [];
    for (const token of tokens) {
      map.set(token.content, token);
      if (token.normalized) {
        const normalized = normalize(token.content);
        normalizedContents.push(normalized);
        map.set(normalized, token);
      } else {
        rawContents.push(token.content);
      }
    }
    this.map = map;
    this.rawSplitter = rawContents.length > 0 ? new AddedTokenSplitter(rawContents, map) : null;
    this.normalizedSplitter = normalizedContents.length > 0 ? new AddedTokenSplitter(normalizedContents, map) : null;
  }

  /** text[start, end) split on the raw-matched tokens. */
  splitRaw(text: string, start: number, end: number): Segment[] {
    return this.rawSplitter ? this.rawSplitter.split(text, start, end) : [{ start, end, token: null }];
  }

  /** A normalized text split on the normalized-matched tokens. */
  splitNormalized(text: string): Segment[] {
    return this.normalizedSplitter ? this.normalizedSplitter.split(text, 0, text.length) : [{ start: 0, end: text.length, token: null }];
  }
}
