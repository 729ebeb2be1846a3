/** The model stage, selected by tokenizer.json's model.type. */
import { TokenizerLoadError } from "../errors.js";
import { isObject, type Json } from "../json.js";
import { DEFAULT_CONFIG } from "../types.js";
import { Bpe, bpeSpec, type BpeSpec } from "./bpe.js";
import type { TokenizerModel } from "./model.js";
import { Unigram, unigramSpec, type UnigramSpec } from "./unigram.js";
import { wordPieceFromSpec, type WordPieceSpec } from "./wordpiece.js";

export type { ModelPiece, TokenizerModel } from "./model.js";
export { WordPiece, type WordPieceSpec } from "./wordpiece.js";
export { Unigram, type UnigramSpec } from "./unigram.js";
export { Bpe, type BpeSpec } from "./bpe.js";

/** Every model type bertd implements. */
export type ModelSpec = WordPieceSpec | UnigramSpec | BpeSpec;

function vocabOf(model: Json, source: string): Map<string, number> {
  if (!isObject(model.vocab)) throw new TokenizerLoadError(`${source}: model.vocab must be an object of token → id`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new TokenizerLoadError(`${source}: bad id for token ${JSON.stringify(token)}`);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerLoadError(`${source}: model.vocab is empty`);
  return vocab;
}

/**
 * tokenizer.json's "model". A file without model.type is read as WordPiece; any other type is a
 * load error naming it. `unkToken` is the tokenizer_config.json name, used when the model names none.
 */
export function modelSpecFromJson(model: unknown, unkToken: string, source: string): ModelSpec {
  if (!isObject(model)) throw new TokenizerLoadError(`${source}: no "model" object`);
  if (model.type === undefined || model.type === "WordPiece") {
    const vocab = vocabOf(model, source);
    const maxChars = model.max_input_chars_per_word;
    const prefix = model.continuing_subword_prefix;
    return {
      type: "WordPiece",
      vocab,
      unkToken: typeof model.unk_token === "string" ? model.unk_token : unkToken,
      continuingSubwordPrefix: typeof prefix === "string" ? prefix : DEFAULT_CONFIG.continuingSubwordPrefix,
      maxInputCharsPerWord: typeof maxChars === "number" && maxChars >= 0 ? maxChars : DEFAULT_CONFIG.maxInputCharsPerWord,
    };
  }
  if (model.type === "Unigram") return unigramSpec(model, source);
  if (model.type === "BPE") return bpeSpec(model, vocabOf(model, source), source);
  throw new TokenizerLoadError(`${source}: model type ${JSON.stringify(model.type)} is not supported (WordPiece, Unigram or BPE)`);
}

export function createModel(spec: ModelSpec, resolve: (token: string) => number): TokenizerModel {
  switch (spec.type) {
    case "WordPiece":
      return wordPieceFromSpec(spec, resolve);
    case "Unigram":
      return new Unigram(spec, resolve);
    case "BPE":
      return new Bpe(spec, resolve);
  }
}
