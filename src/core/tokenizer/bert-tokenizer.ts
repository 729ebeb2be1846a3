/**
 * A fast BERT tokenizer (BertNormalizer → BertPreTokenizer → WordPiece → [CLS] … [SEP]) whose ids
 * equal Hugging Face's Rust `tokenizers` (what Python's transformers and TEI run), which
 * test/fixtures/tokenizer-parity.json was made with.
 *
 * Literal special tokens. The added tokens of tokenizer.json ([PAD] [UNK] [CLS] [SEP] [MASK] for
 * BERT, all "normalized": false) are searched for in the RAW text, before normalization, and the
 * match is case-sensitive: "[CLS]" typed in user text becomes id 101 (like HF, Rust and JS alike),
 * while "[cls]" or "[Cls]" is ordinary text → "[", "cl", "##s", "]" (1031 18856 2015 1033). We do
 * the same, since parity is the requirement; callers that must not let users inject special tokens
 * have to escape or reject them before encode(). (Tokens with "normalized": true are searched for
 * in the normalized text instead, as HF does.)
 *
 * transformers.js differs from the crate on a few inputs, and we follow the crate: characters newer
 * than the crate's Unicode tables (bert-unicode-tables.ts holds the crate's classes), astral CJK
 * ideographs (spaced), a word-final capital sigma (σ: the crate lowercases per code point), and a
 * text section that only normalizes to an added token's content (ordinary text to the crate).
 *
 * Speed: encode() walks the text once over UTF-16 units with a per-unit class table (normalizer.ts):
 * ASCII words are looked up in a bounded word → piece-ids cache by their raw slice (no per-char
 * strings), punctuation and CJK ideographs map straight to an id, dropped control/format chars are
 * skipped. A whitespace-delimited chunk holding anything else (accented letters, marks, surrogates)
 * is normalized as a string exactly as the crate does, then pre-tokenized with the same regex.
 * Offsets, and tokenizers with normalized added tokens, always take that string path.
 *
 * This is the fast specialisation of PipelineTokenizer (pipeline.ts) for BertNormalizer (or none)
 * + BertPreTokenizer + WordPiece; both share the vocabulary, added tokens, template and decoder,
 * and test/unit/tokenizer-pipeline.test.ts checks that they give the same encodings.
 */
import { AddedVocabulary, type Segment } from "./added-tokens.js";
import { CLASS_DROP, CLASS_SEPARATOR, CLASS_STANDALONE, CLASS_WORD, charClasses } from "./bert-char-classes.js";
import { createDecoder, type Decoder } from "./decoders/index.js";
import { TokenizerLoadError } from "./errors.js";
import { specFromDirectory, specFromTokenizerJson, specFromVocabList, type TokenizerSpec } from "./loader.js";
import { wordPieceFromSpec, type WordPiece, type WordPieceSpec } from "./models/wordpiece.js";
import { normalizeAligned, normalizeExact, type BertNormalizerSpec, type NormalizerFlags } from "./normalizers/bert-normalizer.js";
import { Template } from "./post-processors/template.js";
import { PRE_TOKENIZE_RE } from "./pre-tokenizers/bert-pre-tokenizer.js";
import type { DecodeOptions, Encoding, EncodingOptions, SpecialTokenIds, Tokenizer } from "./tokenizer.js";
import type { TokenSequence } from "./truncation.js";
import type { BertTokenizerOptions, EncodeOptions, Encoded, TokenizerConfig } from "./types.js";
import { Vocabulary } from "./vocabulary.js";

const DEFAULT_WORD_CACHE_SIZE = 65_536;

/** Internal knobs for tests; not part of the API. */
export interface BertTokenizerInternals {
  /** Encode every text the string-based way (the reference path), even without offsets. */
  forceExactPath?: boolean;
}

export class BertTokenizer implements Tokenizer {
  readonly config: TokenizerConfig;
  readonly type = "WordPiece";
  readonly vocabSize: number;
  readonly specialIds: SpecialTokenIds;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maskId: number;

  private readonly vocabulary: Vocabulary;
  private readonly model: WordPiece;
  private readonly flags: NormalizerFlags;
  private readonly classes: Uint8Array;
  private readonly standaloneIds: Int32Array;
  private readonly template: Template;
  private readonly prefixIds: Int32Array;
  private readonly suffixIds: Int32Array;
  private readonly decoder: Decoder;
  private readonly added: AddedVocabulary;
  private readonly exactOnly: boolean;
  private readonly cache: Map<string, number | Int32Array>;
  private readonly cacheLimit: number;
  private readonly maxCachedWord: number;
  private buf = new Int32Array(1024);

  /** Whether the spec is the combination this fast path implements (else use PipelineTokenizer). */
  static supports(spec: TokenizerSpec): boolean {
    return (spec.normalizer === null || spec.normalizer.type === "BertNormalizer") && spec.preTokenizer.type === "BertPreTokenizer" && spec.model.type === "WordPiece";
  }

  constructor(spec: TokenizerSpec, options: BertTokenizerOptions = {}, internals: BertTokenizerInternals = {}) {
    if (!BertTokenizer.supports(spec)) throw new TokenizerLoadError("BertTokenizer needs BertNormalizer (or none), BertPreTokenizer and WordPiece: use PipelineTokenizer");
    const normalizer = spec.normalizer as BertNormalizerSpec | null;
    this.flags = {
      cleanText: normalizer?.cleanText ?? false,
      handleChineseChars: normalizer?.handleChineseChars ?? false,
      lowercase: normalizer?.lowercase ?? false,
      stripAccents: normalizer?.stripAccents ?? false,
    };
    const names = spec.specialTokens;
    this.config = Object.freeze({
      ...this.flags,
      maxInputCharsPerWord: (spec.model as WordPieceSpec).maxInputCharsPerWord,
      continuingSubwordPrefix: (spec.model as WordPieceSpec).continuingSubwordPrefix,
      unkToken: names.unk,
      clsToken: names.cls,
      sepToken: names.sep,
      padToken: names.pad,
      maskToken: names.mask,
      modelMaxLength: spec.modelMaxLength,
    });

    this.added = new AddedVocabulary(spec.addedTokens, (content) => normalizeExact(content, this.flags));
    this.vocabulary = new Vocabulary(spec.model.vocab, spec.model.unkToken, this.added);
    this.vocabSize = this.vocabulary.size;
    const resolve = (token: string): number => this.vocabulary.resolve(token);
    this.model = wordPieceFromSpec(spec.model as WordPieceSpec, resolve);
    this.specialIds = this.vocabulary.specialIds(names);
    ({ unk: this.unkId, cls: this.clsId, sep: this.sepId, pad: this.padId, mask: this.maskId } = this.specialIds);
    this.template = new Template(spec.postProcessor, resolve);
    this.prefixIds = this.template.prefixIds;
    this.suffixIds = this.template.suffixIds;
    this.decoder = createDecoder(spec.decoder);
    this.exactOnly = internals.forceExactPath === true || this.added.normalizedSplitter !== null;

    this.cacheLimit = Math.max(0, Math.floor(options.wordCacheSize ?? DEFAULT_WORD_CACHE_SIZE));
    this.cache = new Map();
    this.maxCachedWord = Math.max(16, Math.min(this.config.maxInputCharsPerWord, 256));

    const { classes, standalone } = charClasses(this.flags);
    this.classes = classes;
    this.standaloneIds = new Int32Array(0x10000);
    for (const [unit, word] of standalone) {
      const ids = this.model.tokenize(word);
      this.standaloneIds[unit] = typeof ids === "number" ? ids : ids[0]; // one code point: one piece
    }
  }

  /**
   * From a model directory: tokenizer.json when present, else vocab.txt + tokenizer_config.json
   * (do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length). Throws an Error
   * naming the file when neither is usable.
   */
  static fromDirectory(dir: string, options?: BertTokenizerOptions): BertTokenizer {
    return new BertTokenizer(specFromDirectory(dir), options);
  }

  /** From a parsed tokenizer.json (and optionally tokenizer_config.json, for token names and model_max_length). */
  static fromTokenizerJson(tokenizerJson: unknown, tokenizerConfig?: unknown, options?: BertTokenizerOptions): BertTokenizer {
    return new BertTokenizer(specFromTokenizerJson(tokenizerJson, tokenizerConfig), options);
  }

  /**
   * From vocab.txt's tokens (id = index). Unset settings are BERT-uncased's; stripAccents defaults
   * to `lowercase`. The special tokens become added tokens, the template [CLS] $A [SEP].
   */
  static fromVocab(tokens: string[], config?: Partial<TokenizerConfig>, options?: BertTokenizerOptions): BertTokenizer {
    return new BertTokenizer(specFromVocabList(tokens, config), options);
  }

  get modelMaxLength(): number {
    return this.config.modelMaxLength;
  }

  idToToken(id: number): string {
    return this.vocabulary.idToToken(id);
  }

  tokenToId(token: string): number | undefined {
    return this.vocabulary.tokenToId(token);
  }

  encodeText(text: string, options?: EncodingOptions): Encoding {
    return this.template.encode(this.sequence(text), null, options);
  }

  encodePair(first: string, second: string, options?: EncodingOptions): Encoding {
    return this.template.encode(this.sequence(first), this.sequence(second), options);
  }

  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    return this.decoder.decode(this.vocabulary.tokensOf(ids, options?.skipSpecialTokens ?? false));
  }

  /** One text's tokens, before the template. */
  private sequence(text: string): TokenSequence {
    if (typeof text !== "string") throw new TypeError(`encode() needs a string, got ${typeof text}`);
    const words: number[] = [];
    const { ids, offsets } = this.encodeExact(text, false, true, words);
    return { ids, offsets, words: Uint32Array.from(words) };
  }

  /** Entries in the word cache now (for tests and metrics). */
  get cachedWords(): number {
    return this.cache.size;
  }

  encode(text: string, options?: EncodeOptions): Encoded {
    if (typeof text !== "string") throw new TypeError(`encode() needs a string, got ${typeof text}`);
    const special = options?.addSpecialTokens ?? true;
    const withOffsets = options?.offsets ?? false;
    if (withOffsets || this.exactOnly) {
      const encoded = this.encodeExact(text, special, withOffsets);
      return withOffsets ? encoded : { ids: encoded.ids };
    }

    let n = 0;
    const buf = this.reserve(text.length + this.prefixIds.length + this.suffixIds.length + 1);
    if (special) for (let k = 0; k < this.prefixIds.length; k++) buf[n++] = this.prefixIds[k];
    const rawSplitter = this.added.rawSplitter;
    if (rawSplitter === null || !rawSplitter.mayMatch(text)) {
      n = this.fastSection(text, 0, text.length, n);
    } else {
      for (const segment of rawSplitter.split(text, 0, text.length)) {
        if (segment.token !== null) {
          this.reserve(n + 1)[n++] = segment.token.id;
        } else if (segment.end > segment.start) {
          n = this.fastSection(text, segment.start, segment.end, n);
        }
      }
    }
    if (special) {
      const out = this.reserve(n + this.suffixIds.length);
      for (let k = 0; k < this.suffixIds.length; k++) out[n++] = this.suffixIds[k];
    }
    return { ids: this.buf.slice(0, n) };
  }

  /** Makes this.buf hold at least `size` ids (keeping its content) and returns it. */
  private reserve(size: number): Int32Array {
    if (size > this.buf.length) {
      const grown = new Int32Array(Math.max(size, this.buf.length * 2));
      grown.set(this.buf);
      this.buf = grown;
    }
    return this.buf;
  }

  /**
   * The hot loop: ids of text[start, end) (a section without added tokens) appended at n.
   * Chunks (runs between separators) that hold a CLASS_OTHER unit are redone by exactChunk().
   */
  private fastSection(text: string, start: number, end: number, n: number): number {
    const classes = this.classes;
    const standaloneIds = this.standaloneIds;
    let buf = this.reserve(n + (end - start) + 1);
    let chunkStart = start;
    let chunkOut = n;
    let wordStart = -1;
    let dirty = false;
    let i = start;
    while (i < end) {
      const c = text.charCodeAt(i);
      const cls = classes[c];
      if (cls === CLASS_WORD) {
        if (wordStart < 0) wordStart = i;
        i++;
        continue;
      }
      if (cls === CLASS_DROP) {
        if (wordStart >= 0) dirty = true;
        i++;
        continue;
      }
      if (cls === CLASS_SEPARATOR || cls === CLASS_STANDALONE) {
        if (wordStart >= 0) {
          n = this.asciiWord(text, wordStart, i, dirty, n);
          wordStart = -1;
          dirty = false;
        }
        if (cls === CLASS_STANDALONE) {
          buf[n++] = standaloneIds[c];
        } else {
          chunkStart = i + 1;
          chunkOut = n;
        }
        i++;
        continue;
      }
      // CLASS_OTHER: redo the whole chunk the exact way.
      let chunkEnd = i + 1;
      while (chunkEnd < end && classes[text.charCodeAt(chunkEnd)] !== CLASS_SEPARATOR) chunkEnd++;
      n = this.exactChunk(text, chunkStart, chunkEnd, chunkOut);
      buf = this.reserve(n + (end - chunkEnd) + 1);
      wordStart = -1;
      dirty = false;
      i = chunkEnd;
    }
    if (wordStart >= 0) n = this.asciiWord(text, wordStart, end, dirty, n);
    return n;
  }

  /** An ASCII word text[start, end), maybe with dropped units inside (dirty), appended at n. */
  private asciiWord(text: string, start: number, end: number, dirty: boolean, n: number): number {
    let key: string;
    if (dirty) {
      key = "";
      let run = start;
      for (let i = start; i < end; i++) {
        if (this.classes[text.charCodeAt(i)] === CLASS_DROP) {
          key += text.slice(run, i);
          run = i + 1;
        }
      }
      key += text.slice(run, end);
    } else {
      key = text.slice(start, end);
    }
    let ids = this.cache.get(key);
    if (ids === undefined) {
      ids = this.model.tokenize(this.flags.lowercase ? key.toLowerCase() : key);
      this.remember(key, ids);
    }
    return appendIds(this.buf, n, ids);
  }

  private remember(key: string, ids: number | Int32Array): void {
    if (this.cacheLimit === 0 || key.length > this.maxCachedWord) return;
    if (this.cache.size >= this.cacheLimit) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, ids);
  }

  /** Piece ids of one normalized pre-token (cached). */
  private wordIds(word: string): number | Int32Array {
    // Cache keys are raw ASCII words too, looked up as if lowercased: keep words with upper-case ASCII out.
    const cacheable = !this.flags.lowercase || !/[A-Z]/.test(word);
    let ids = cacheable ? this.cache.get(word) : undefined;
    if (ids === undefined) {
      ids = this.model.tokenize(word);
      if (cacheable) this.remember(word, ids);
    }
    return ids;
  }

  /** text[start, end) normalized as a string and pre-tokenized with the regex; ids appended at n. */
  private exactChunk(text: string, start: number, end: number, n: number): number {
    const normalized = normalizeExact(text.slice(start, end), this.flags);
    const re = PRE_TOKENIZE_RE;
    re.lastIndex = 0;
    let match: RegExpExecArray | null;
    while ((match = re.exec(normalized)) !== null) {
      const word = match[0];
      const ids = this.wordIds(word);
      n = appendIds(this.reserve(n + word.length), n, ids);
    }
    return n;
  }

  /**
   * The string-based path, a transcription of transformers.js's encode_text: split on raw added
   * tokens, normalize each section, split on normalized added tokens, pre-tokenize, WordPiece.
   * Computes offsets when asked (mapping normalized units back to the original text), and the
   * word (pre-token or added token) of each token when `words` is given.
   */
  private encodeExact(text: string, special: boolean, withOffsets: boolean, words?: number[]): Required<Encoded> {
    const ids: number[] = [];
    const offsets: number[] = [];
    let word = 0;
    const push = (id: number, start: number, end: number): void => {
      ids.push(id);
      offsets.push(start, end);
      words?.push(word);
    };
    if (special) for (const id of this.prefixIds) push(id, 0, 0);
    const sections: Segment[] = this.added.splitRaw(text, 0, text.length);
    for (const section of sections) {
      if (section.token) {
        push(section.token.id, section.start, section.end);
        word++;
        continue;
      }
      if (section.end <= section.start) continue;
      const raw = text.slice(section.start, section.end);
      let normalized: string;
      let origStart: Uint32Array | undefined;
      let origEnd: Uint32Array | undefined;
      if (withOffsets) {
        ({ normalized, origStart, origEnd } = normalizeAligned(text, section.start, section.end, this.flags));
      } else {
        normalized = normalizeExact(raw, this.flags);
      }
      if (normalized.length === 0) continue;
      const from = (k: number): number => (origStart ? origStart[k] : 0);
      const to = (k: number): number => (origEnd ? origEnd[k] : 0);
      const subsections: Segment[] = this.added.splitNormalized(normalized);
      for (const sub of subsections) {
        if (sub.end <= sub.start) continue;
        if (sub.token) {
          push(sub.token.id, from(sub.start), to(sub.end - 1));
          word++;
          continue;
        }
        const subText = normalized.slice(sub.start, sub.end);
        PRE_TOKENIZE_RE.lastIndex = 0; // matchAll copies lastIndex
        for (const match of subText.matchAll(PRE_TOKENIZE_RE)) {
          const wordStart = sub.start + match.index;
          const wordEnd = wordStart + match[0].length;
          const pieces = this.wordIds(match[0]);
          if (typeof pieces === "number") {
            push(pieces, from(wordStart), to(wordEnd - 1));
            word++;
            continue;
          }
          let p = wordStart;
          for (let k = 0; k < pieces.length; k++) {
            const id = pieces[k];
            const length = (this.vocabulary.token(id)?.length ?? 1) - (k > 0 ? this.config.continuingSubwordPrefix.length : 0);
            const q = k === pieces.length - 1 ? wordEnd : Math.min(wordEnd, p + Math.max(1, length));
            push(id, from(p), to(Math.max(p, q - 1)));
            p = q;
          }
          word++;
        }
      }
    }
    if (special) for (const id of this.suffixIds) push(id, 0, 0);
    return { ids: Int32Array.from(ids), offsets: Uint32Array.from(offsets) };
  }
}

/** Writes a word's piece ids (one id, or several) at buf[n]; returns the new end. */
function appendIds(buf: Int32Array, n: number, ids: number | Int32Array): number {
  if (typeof ids === "number") {
    buf[n] = ids;
    return n + 1;
  }
  buf.set(ids, n);
  return n + ids.length;
}
