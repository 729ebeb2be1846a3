// Test helpers for generated BERT models: a minimal ONNX reader (model bytes → nodes, initializers,
// graph inputs/outputs) and a plain float64 BERT forward pass over the weights it reads, written
// from the BERT paper / Hugging Face BertModel and not from the generator's graph code.

import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export interface ReadTensor {
  readonly name: string;
  readonly dims: number[];
  readonly dataType: number;
  /** FLOAT tensors as float64 values, INT64 as numbers. */
  readonly values: Float64Array;
}

export interface ReadModel {
  readonly irVersion: number;
  readonly opsets: { domain: string; version: number }[];
  readonly nodes: { opType: string; domain: string; inputs: string[]; outputs: string[] }[];
  readonly initializers: Map<string, ReadTensor>;
  readonly inputs: string[];
  readonly outputs: string[];
}

function fields(bytes: Uint8Array, onField: (field: number, wire: WireType, r: BinaryReader) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (!onField(field, wire, r)) r.skip(wire, field);
  }
}

function repeatedInt64(wire: WireType, r: BinaryReader, into: number[]): void {
  if (wire === WireType.LengthDelimited) {
    const packed = new BinaryReader(r.bytes());
    while (packed.pos < packed.len) into.push(Number(packed.int64()));
  } else {
    into.push(Number(r.int64()));
  }
}

function readTensor(bytes: Uint8Array): ReadTensor {
  const dims: number[] = [];
  let dataType = 0;
  let name = "";
  let raw: Uint8Array | null = null;
  fields(bytes, (field, wire, r) => {
    if (field === 1) repeatedInt64(wire, r, dims);
    else if (field === 2) dataType = r.int32();
    else if (field === 8) name = r.string();
    else if (field === 9) raw = r.bytes();
    else return false;
    return true;
  });
  const count = dims.reduce((a, b) => a * b, 1);
  const values = new Float64Array(count);
  if (raw === null) throw new Error(`initializer ${name} has no raw_data`);
  const data: Uint8Array = raw;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dataType === 1) {
    if (data.byteLength !== 4 * count) throw new Error(`initializer ${name}: ${data.byteLength} bytes for ${count} floats`);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true);
  } else if (dataType === 7) {
    if (data.byteLength !== 8 * count) throw new Error(`initializer ${name}: ${data.byteLength} bytes for ${count} int64s`);
    for (let i = 0; i < count; i++) values[i] = Number(view.getBigInt64(8 * i, true));
  } else {
    throw new Error(`initializer ${name}: unexpected data type ${dataType}`);
  }
  return { name, dims, dataType, values };
}

function valueInfoName(bytes: Uint8Array): string {
  let name = "";
  fields(bytes, (field, _wire, r) => (field === 1 ? ((name = r.string()), true) : false));
  return name;
}

/** Reads what the tests need from a serialized ModelProto (onnx.proto field numbers). */
export function readOnnxModel(bytes: Uint8Array): ReadModel {
  const model: ReadModel = { irVersion: 0, opsets: [], nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  let irVersion = 0;
  fields(bytes, (field, _wire, r) => {
    if (field === 1) irVersion = Number(r.int64());
    else if (field === 8) {
      const opset = { domain: "", version: 0 };
      fields(r.bytes(), (f, _w, o) => {
        if (f === 1) opset.domain = o.string();
        else if (f === 2) opset.version = Number(o.int64());
        else return false;
        return true;
      });
      model.opsets.push(opset);
    } else if (field === 7) {
      fields(r.bytes(), (g, _gw, gr) => {
        if (g === 1) {
          const node = { opType: "", domain: "", inputs: [] as string[], outputs: [] as string[] };
          fields(gr.bytes(), (n, _nw, nr) => {
            if (n === 1) node.inputs.push(nr.string());
            else if (n === 2) node.outputs.push(nr.string());
            else if (n === 4) node.opType = nr.string();
            else if (n === 7) node.domain = nr.string();
            else return false;
            return true;
          });
          model.nodes.push(node);
        } else if (g === 5) {
          const t = readTensor(gr.bytes());
          model.initializers.set(t.name, t);
        } else if (g === 11) model.inputs.push(valueInfoName(gr.bytes()));
        else if (g === 12) model.outputs.push(valueInfoName(gr.bytes()));
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return { ...model, irVersion };
}

// --- reference forward pass ---

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
