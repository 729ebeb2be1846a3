/**
 * The generic tokenizer: tokenizer.json's stages one after the other, each from its folder.
 *
 *   added tokens ("normalized": false) split the raw text
 *   → normalizer → added tokens ("normalized": true) split the normalized text
 *   → pre-tokenizer (words) → model (pieces) → truncation → post-processor (template)
 *
 * Every stage keeps the alignment to the original text (NormalizedText), so offsets come out of
 * any combination of stages. Any tokenizer.json bertd reads runs here; BertTokenizer is the fused
 * fast path for the BERT combination and must give the same encodings (test/unit/tokenizer-pipeline.test.ts).
 */
import { AddedVocabulary } from "./added-tokens.js";
import { createDecoder, type Decoder } from "./decoders/index.js";
import { specFromDirectory, specFromTokenizerJson, type TokenizerSpec } from "./loader.js";
import { createModel, type TokenizerModel } from "./models/index.js";
import { NormalizedText } from "./normalized-text.js";
import { createNormalizer, type Normalizer } from "./normalizers/index.js";
import { Template } from "./post-processors/template.js";
import { createPreTokenizer, type PreTokenizer } from "./pre-tokenizers/index.js";
import type { DecodeOptions, Encoding, EncodingOptions, SpecialTokenIds, Tokenizer } from "./tokenizer.js";
import type { TokenSequence } from "./truncation.js";
import type { EncodeOptions, Encoded } from "./types.js";
import { Vocabulary } from "./vocabulary.js";
import { IdBuffer, WordIdsCache } from "./word-ids.js";

/** Words whose ids the ids-only path keeps. */
const WORD_CACHE_SIZE = 65_536;

/** Collects a sequence's tokens with their original offsets and words. */
class SequenceBuilder {
  private readonly ids: number[] = [];
  private readonly offsets: number[] = [];
  private readonly words: number[] = [];
  private readonly texts: (string | null)[] = [];
  private word = 0;

  /** A token of the current word. */
  push(id: number, start: number, end: number): void {
    this.ids.push(id);
    this.offsets.push(start, end);
    this.words.push(this.word);
    this.texts.push(null);
  }

  endWord(): void {
    this.word++;
  }

  /** A word of one token (an added token, named by the text it matched). */
  pushWord(id: number, start: number, end: number, text: string | null = null): void {
    this.push(id, start, end);
    this.texts[this.texts.length - 1] = text;
    this.endWord();
  }

  build(): TokenSequence {
    return { ids: Int32Array.from(this.ids), offsets: Uint32Array.from(this.offsets), words: Uint32Array.from(this.words), texts: this.texts };
  }
}

export class PipelineTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialIds: SpecialTokenIds;
  readonly modelMaxLength: number;
  readonly type: string;

  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer;
  private readonly model: TokenizerModel;
  private readonly template: Template;
  private readonly decoder: Decoder;
  private readonly added: AddedVocabulary;
  private readonly vocabulary: Vocabulary;
  private readonly wordIds: WordIdsCache;
  /** The ids-only path's scratch (encode is synchronous, so one per tokenizer). */
  private readonly buffer = new IdBuffer();
  private readonly bounds: number[] = [];

  constructor(spec: TokenizerSpec) {
    this.normalizer = spec.normalizer && createNormalizer(spec.normalizer);
    const normalizer = this.normalizer;
    this.preTokenizer = createPreTokenizer(spec.preTokenizer);
    this.added = new AddedVocabulary(spec.addedTokens, (content) => (normalizer ? normalizer.normalizeString(content) : content));
    this.vocabulary = new Vocabulary(spec.model.vocab, spec.model.unkToken, this.added);
    const resolve = (token: string): number => this.vocabulary.resolve(token);
    this.model = createModel(spec.model, resolve);
    this.template = new Template(spec.postProcessor, resolve, (id) => this.vocabulary.idToToken(id));
    this.decoder = createDecoder(spec.decoder);
    this.vocabSize = this.vocabulary.size;
    this.specialIds = this.vocabulary.specialIds(spec.specialTokens);
    this.modelMaxLength = spec.modelMaxLength;
    this.type = this.model.type;
    const wordOf = this.preTokenizer.wordOf ?? ((key: string) => key);
    this.wordIds = new WordIdsCache(WORD_CACHE_SIZE, (key) => {
      const pieces = this.model.pieces(wordOf(key));
      return pieces.length === 1 ? pieces[0].id : Int32Array.from(pieces, (piece) => piece.id);
    });
  }

  static fromDirectory(dir: string): PipelineTokenizer {
    return new PipelineTokenizer(specFromDirectory(dir));
  }

  static fromTokenizerJson(tokenizerJson: unknown, tokenizerConfig?: unknown): PipelineTokenizer {
    return new PipelineTokenizer(specFromTokenizerJson(tokenizerJson, tokenizerConfig));
  }

  tokenToId(token: string): number | undefined {
    return this.vocabulary.tokenToId(token);
  }

  idToToken(id: number): string {
    return this.vocabulary.idToToken(id);
  }

  encode(text: string, options?: EncodeOptions): Encoded {
    const addSpecialTokens = options?.addSpecialTokens ?? true;
    if (options?.offsets || !this.preTokenizer.words) {
      const encoding = this.encodeText(text, { addSpecialTokens });
      return options?.offsets ? { ids: encoding.ids, offsets: encoding.offsets } : { ids: encoding.ids };
    }
    // The ids-only path: the same stages on plain strings, words' ids from the cache.
    if (typeof text !== "string") throw new TypeError(`encode() needs a string, got ${typeof text}`);
    const out = this.buffer;
    out.length = 0;
    if (addSpecialTokens) out.pushAll(this.template.prefixIds);
    const raw = this.added.rawSplitter;
    if (raw && raw.mayMatch(text)) {
      for (const section of raw.split(text, 0, text.length)) {
        if (section.token) out.push(section.token.id);
        else if (section.end > section.start) this.sectionIds(text.slice(section.start, section.end), out);
      }
    } else if (text.length > 0) this.sectionIds(text, out);
    if (addSpecialTokens) out.pushAll(this.template.suffixIds);
    return { ids: out.take() };
  }

  /** tokenizeSection's ids without alignments. */
  private sectionIds(section: string, out: IdBuffer): void {
    const normalized = this.normalizer ? this.normalizer.normalizeString(section) : section;
    if (normalized.length === 0) return;
    const splitter = this.added.normalizedSplitter;
    if (!splitter || !splitter.mayMatch(normalized)) return this.wordsIds(normalized, out);
    for (const sub of splitter.split(normalized, 0, normalized.length)) {
      if (sub.end <= sub.start) continue;
      if (sub.token) out.push(sub.token.id);
      else this.wordsIds(normalized.slice(sub.start, sub.end), out);
    }
  }

  private wordsIds(text: string, out: IdBuffer): void {
    const bounds = this.bounds;
    bounds.length = 0;
    const split = this.preTokenizer.words!(text, bounds);
    for (let k = 0; k < bounds.length; k += 2) out.pushIds(this.wordIds.get(split, bounds[k], bounds[k + 1]));
  }

  encodeText(text: string, options?: EncodingOptions): Encoding {
    return this.template.encode(this.tokenize(text), null, options);
  }

  encodePair(first: string, second: string, options?: EncodingOptions): Encoding {
    return this.template.encode(this.tokenize(first), this.tokenize(second), options);
  }

  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    return this.decoder.decode(this.vocabulary.tokensOf(ids, options?.skipSpecialTokens ?? false));
  }

  /** One text's tokens, before the template. */
  private tokenize(text: string): TokenSequence {
    if (typeof text !== "string") throw new TypeError(`encode() needs a string, got ${typeof text}`);
    const out = new SequenceBuilder();
    for (const section of this.added.splitRaw(text, 0, text.length)) {
      if (!section.token && section.end <= section.start) continue;
      if (section.token) out.pushWord(section.token.id, section.start, section.end, text.slice(section.start, section.end));
      else this.tokenizeSection(NormalizedText.original(text, section.start, section.end), out);
    }
    return out.build();
  }

  private tokenizeSection(original: NormalizedText, out: SequenceBuilder): void {
    const normalized = this.normalizer ? this.normalizer.normalize(original) : original;
    if (normalized.text.length === 0) return;
    for (const sub of this.added.splitNormalized(normalized.text)) {
      if (sub.end <= sub.start) continue;
      if (sub.token) {
        out.pushWord(sub.token.id, ...normalized.originalRange(sub.start, sub.end), normalized.text.slice(sub.start, sub.end));
        continue;
      }
      for (const word of this.preTokenizer.preTokenize(normalized.slice(sub.start, sub.end))) {
        for (const piece of this.model.pieces(word.text)) out.push(piece.id, ...word.originalRange(piece.start, piece.end));
        out.endWord();
      }
    }
  }
}
