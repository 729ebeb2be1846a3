// A plain float64 BERT forward pass over the weights of a model read by tools/onnx/reader.ts, written
// from the BERT paper / Hugging Face BertModel and not from the generator's graph code.

import type { ReadTensor } from "../../tools/onnx/reader.js";

export { readOnnxModel, type ReadModel, type ReadTensor } from "../../tools/onnx/reader.js";
export interface ReferenceConfig {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly layerNormEps: number;
}

export interface ReferenceOutput {
  /** [batch][seq][hidden] */
  readonly lastHiddenState: number[][][];
  /** [batch][hidden] */
  readonly poolerOutput: number[][];
  /** [batch][labels], when the model has classifier weights */
  readonly logits: number[][] | null;
}

/** erf(x) to about 1e-13: Maclaurin series for |x| ≤ 3, erfc's continued fraction beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from the tail.
  let t = ax;
  for (let n = 80; n >= 1; n--) t = ax + n / 2 / t;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / t);
}

const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** y = x·W + b with W stored [in, out] row-major. */
function linear(x: number[], w: ReadTensor, b: ReadTensor): number[] {
  const [inF, outF] = w.dims;
  if (x.length !== inF) throw new Error(`${w.name}: input of ${x.length} for [${w.dims.join(", ")}]`);
  const y = Array.from(b.values);
  for (let i = 0; i < inF; i++) {
    const xi = x[i];
    const row = i * outF;
    for (let j = 0; j < outF; j++) y[j] += xi * w.values[row + j];
  }
  return y;
}

function layerNorm(x: number[], gamma: ReadTensor, beta: ReadTensor, eps: number): number[] {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * gamma.values[i] + beta.values[i]);
}

/**
 * BERT's forward pass for one batch. `tokenTypeIds` null means all type 0. Padded positions
 * (mask 0) get -10000 added to their attention scores, as in the original BERT.
 */
export function bertForward(
  weights: Map<string, ReadTensor>,
  config: ReferenceConfig,
  inputIds: number[][],
  attentionMask: number[][],
  tokenTypeIds: number[][] | null,
): ReferenceOutput {
  const w = (name: string): ReadTensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`no weight ${name}`);
    return t;
  };
  const h = config.hiddenSize;
  const heads = config.numHeads;
  const d = h / heads;
  const eps = config.layerNormEps;
  const row = (t: ReadTensor, i: number) => Array.from(t.values.subarray(i * h, (i + 1) * h));

  const lastHiddenState: number[][][] = [];
  const poolerOutput: number[][] = [];
  const logits: number[][] = [];
  for (let b = 0; b < inputIds.length; b++) {
    const ids = inputIds[b];
    const mask = attentionMask[b];
    let x = ids.map((id, s) => {
      const word = row(w("embeddings.word_embeddings.weight"), id);
      const pos = row(w("embeddings.position_embeddings.weight"), s);
      const type = row(w("embeddings.token_type_embeddings.weight"), tokenTypeIds ? tokenTypeIds[b][s] : 0);
      return layerNorm(word.map((v, i) => v + pos[i] + type[i]), w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), eps);
    });
    for (let l = 0; l < config.numLayers; l++) {
      const p = `encoder.layer.${l}`;
      const proj = (name: string) => x.map((t) => linear(t, w(`${p}.${name}.weight`), w(`${p}.${name}.bias`)));
      const q = proj("attention.self.query");
      const k = proj("attention.self.key");
      const v = proj("attention.self.value");
      const context = x.map(() => new Array<number>(h).fill(0));
      for (let head = 0; head < heads; head++) {
        const o = head * d;
        for (let i = 0; i < x.length; i++) {
          const scores = x.map((_, j) => {
            let dot = 0;
            for (let c = 0; c < d; c++) dot += q[i][o + c] * k[j][o + c];
            return dot / Math.sqrt(d) + (1 - mask[j]) * -10000;
          });
          const max = Math.max(...scores);
          const exps = scores.map((s) => Math.exp(s - max));
          const total = exps.reduce((a, c) => a + c, 0);
          for (let j = 0; j < x.length; j++) {
            const pj = exps[j] / total;
            for (let c = 0; c < d; c++) context[i][o + c] += pj * v[j][o + c];
          }
        }
      }
      const attention = context.map((c, i) => {
        const out = linear(c, w(`${p}.attention.output.dense.weight`), w(`${p}.attention.output.dense.bias`));
        return layerNorm(out.map((val, j) => val + x[i][j]), w(`${p}.attention.output.LayerNorm.weight`), w(`${p}.attention.output.LayerNorm.bias`), eps);
      });
      x = attention.map((a) => {
        const up = linear(a, w(`${p}.intermediate.dense.weight`), w(`${p}.intermediate.dense.bias`)).map(gelu);
        const down = linear(up, w(`${p}.output.dense.weight`), w(`${p}.output.dense.bias`));
        return layerNorm(down.map((val, j) => val + a[j]), w(`${p}.output.LayerNorm.weight`), w(`${p}.output.LayerNorm.bias`), eps);
      });
    }
    lastHiddenState.push(x);
    const pooled = linear(x[0], w("pooler.dense.weight"), w("pooler.dense.bias")).map(Math.tanh);
    poolerOutput.push(pooled);
    if (weights.has("classifier.weight")) logits.push(linear(pooled, w("classifier.weight"), w("classifier.bias")));
  }
  return { lastHiddenState, poolerOutput, logits: weights.has("classifier.weight") ? logits : null };
}
