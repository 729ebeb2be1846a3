import type { CallOptions, EmbedOptions, Embedded, EncoderModel } from "../core/encoder.js";
import { zipPairs } from "../core/pair-inputs.js";

export interface Embedding extends Embedded {
  /** The id of the model that embedded the inputs. */
  readonly model: string;
}

export async function embed(model: EncoderModel, inputs: readonly string[], options: EmbedOptions, call: CallOptions): Promise<Embedding> {
  model.requireHiddenStates("Embed");
  const embedded = await model.embed(inputs, options, call);
  return { ...embedded, model: model.info.id };
}

/** A text's tokens: ids, vocabulary entries, and each token's [start, end) in the text. */
export interface TokenizedText {
  readonly ids: number[];
  readonly tokens: string[];
  readonly starts: number[];
  readonly ends: number[];
  /** Pairs only: token type ids and which text each token came from (-1: a special token). */
  readonly typeIds?: number[];
  readonly sequenceIds?: number[];
}

export function tokenize(model: EncoderModel, inputs: readonly string[], addSpecialTokens: boolean, textPairs: readonly string[] = []): TokenizedText[] {
  const { tokenizer } = model;
  if (textPairs.length > 0) {
    const pairs = zipPairs(inputs, textPairs, "inputs", "text_pairs");
    model.checkPairs(pairs);
    return pairs.map(({ text, textPair }) => {
      const encoding = tokenizer.encodePair(text, textPair, { addSpecialTokens });
      const ids = Array.from(encoding.ids);
      const starts = ids.map((_, i) => encoding.offsets[2 * i]);
      const ends = ids.map((_, i) => encoding.offsets[2 * i + 1]);
      return { ids, tokens: ids.map((id) => tokenizer.idToToken(id)), starts, ends, typeIds: Array.from(encoding.typeIds), sequenceIds: Array.from(encoding.sequenceIds) };
    });
  }
  model.checkInputs(inputs);
  return inputs.map((text) => {
    const encoded = tokenizer.encode(text, { addSpecialTokens, offsets: true });
    const ids = Array.from(encoded.ids);
    const starts: number[] = [];
    const ends: number[] = [];
    const offsets = encoded.offsets!;
    for (let i = 0; i < ids.length; i++) {
      starts.push(offsets[2 * i]);
      ends.push(offsets[2 * i + 1]);
    }
    return { ids, tokens: ids.map((id) => tokenizer.idToToken(id)), starts, ends };
  });
}
