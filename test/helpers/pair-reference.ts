/** The reference for pair scores: Hugging Face's Rust tokenizer's pair encoding, run directly through ONNX Runtime. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { Tokenizer as HfTokenizer, type TruncationOptions } from "tokenizers";

export interface PairReference {
  /** ids and type ids as Hugging Face encodes (text, text_pair). */
  encode(text: string, textPair: string): Promise<{ ids: number[]; typeIds: number[] }>;
  /** The model's logits for one pair, alone in its batch. */
  logits(text: string, textPair: string): Promise<Float32Array>;
  /** Logits of many pairs in one padded batch (what a client would do itself). */
  batchLogits(pairs: readonly [string, string][]): Promise<Float32Array[]>;
  release(): Promise<void>;
}

const STRATEGY = { longest_first: "LongestFirst", only_first: "OnlyFirst", only_second: "OnlySecond" } as const;

export async function pairReference(modelDir: string, truncation?: { maxLength: number; strategy?: keyof typeof STRATEGY }): Promise<PairReference> {
  const hf = HfTokenizer.fromString(readFileSync(join(modelDir, "tokenizer.json"), "utf8"));
  if (truncation) hf.setTruncation(truncation.maxLength, { strategy: STRATEGY[truncation.strategy ?? "longest_first"] as TruncationOptions["strategy"] });
  const session = await ort.InferenceSession.create(join(modelDir, "model.onnx"), { intraOpNumThreads: 1 });
  const withTypes = session.inputNames.includes("token_type_ids");
  const encode = async (text: string, textPair: string): Promise<{ ids: number[]; typeIds: number[] }> => {
    const encoding = await hf.encode(text, textPair);
    return { ids: encoding.getIds(), typeIds: encoding.getTypeIds() };
  };
  const batchLogits = async (pairs: readonly [string, string][]): Promise<Float32Array[]> => {
    const encoded = await Promise.all(pairs.map(([a, b]) => encode(a, b)));
    const length = Math.max(...encoded.map((e) => e.ids.length));
    const rows = encoded.length;
    const ids = new BigInt64Array(rows * length);
    const mask = new BigInt64Array(rows * length);
    const types = new BigInt64Array(rows * length);
    encoded.forEach((e, r) => {
      e.ids.forEach((id, t) => {
        ids[r * length + t] = BigInt(id);
        mask[r * length + t] = 1n;
        types[r * length + t] = BigInt(e.typeIds[t]);
      });
    });
    const shape = [rows, length];
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", ids, shape), attention_mask: new ort.Tensor("int64", mask, shape) };
    if (withTypes) feeds.token_type_ids = new ort.Tensor("int64", types, shape);
    const out = await session.run(feeds, ["logits"]);
    const data = out.logits.data as Float32Array;
    const width = data.length / rows;
    return encoded.map((_, r) => data.slice(r * width, (r + 1) * width));
  };
  return {
    encode,
    batchLogits,
    logits: async (text, textPair) => (await batchLogits([[text, textPair]]))[0],
    release: () => session.release(),
  };
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function softmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const exp = Array.from(row, (x) => Math.exp(x - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((x) => x / sum);
}
