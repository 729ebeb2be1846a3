import type { CallOptions, EmbedOptions, Embedded, EncoderModel } from "../core/encoder.js";

export interface Embedding extends Embedded {
  /** The id of the model that embedded the inputs. */
  readonly model: string;
}

export async function embed(model: EncoderModel, inputs: readonly string[], options: EmbedOptions, call: CallOptions): Promise<Embedding> {
  const embedded = await model.embed(inputs, options, call);
  return { ...embedded, model: model.info.id };
}

/** A text's tokens: ids, vocabulary entries, and each token's [start, end) in the text. */
export interface TokenizedText {
  readonly ids: number[];
  readonly tokens: string[];
  readonly starts: number[];
  readonly ends: number[];
}

export function tokenize(model: EncoderModel, inputs: readonly string[], addSpecialTokens: boolean): TokenizedText[] {
  model.checkInputs(inputs);
  const { tokenizer } = model;
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
