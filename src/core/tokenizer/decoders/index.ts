/** The decoder stage (ids back to text), selected by tokenizer.json's decoder.type. */
import { TokenizerLoadError } from "../errors.js";
import { bool, isObject, typeOf } from "../json.js";
import { WordPieceDecoder, type WordPieceDecoderSpec } from "./wordpiece.js";

export { WordPieceDecoder, type WordPieceDecoderSpec } from "./wordpiece.js";

/** Every decoder bertd implements; null: tokens joined by spaces (Hugging Face without a decoder). */
export type DecoderSpec = WordPieceDecoderSpec | null;

export interface Decoder {
  decode(tokens: readonly string[]): string;
}

/** What transformers' BertConverter writes. */
export const BERT_DECODER: WordPieceDecoderSpec = { type: "WordPiece", prefix: "##", cleanup: true };

export function decoderSpecFromJson(decoder: unknown, source: string): DecoderSpec {
  if (decoder === null || decoder === undefined) return null;
  if (isObject(decoder) && decoder.type === "WordPiece") {
    return {
      type: "WordPiece",
      prefix: typeof decoder.prefix === "string" ? decoder.prefix : BERT_DECODER.prefix,
      cleanup: bool(decoder.cleanup, BERT_DECODER.cleanup, "decoder.cleanup", source),
    };
  }
  throw new TokenizerLoadError(`${source}: decoder ${JSON.stringify(typeOf(decoder))} is not supported (only WordPiece or none)`);
}

const JOIN_WITH_SPACES: Decoder = { decode: (tokens) => tokens.join(" ") };

export function createDecoder(spec: DecoderSpec): Decoder {
  return spec === null ? JOIN_WITH_SPACES : new WordPieceDecoder(spec);
}
