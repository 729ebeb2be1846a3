// The BERT encoder (Devlin et al. 2019; Hugging Face BertModel) as an ONNX graph with random weights.
//
// Standard ONNX ops (opset 17), arranged as a PyTorch export of BertModel arranges them, so that
// ONNX Runtime's graph optimizer fuses them: with onnxruntime-node 1.29 on CPU every residual Add +
// LayerNormalization becomes SkipLayerNormalization, the Erf GELU becomes BiasGelu, the score scaling
// and K transpose fold into FusedMatMul and the pooler dense into FusedGemm. (ORT's Attention fusion,
// and the EmbedLayerNormalization fusion that needs it, match Add only up to opset 13: not here.)
//
// Weights are named as in BertModel's state dict, but each Linear weight is stored as MatMul wants
// it: [in_features, out_features], the transpose of PyTorch's layout.

import {
  DataType,
  GraphBuilder,
  floatAttr,
  intAttr,
  intsAttr,
  type OnnxModel,
  type OnnxValueInfo,
} from "../onnx/writer.js";
import type { NamedTensor } from "../onnx/safetensors.js";
import { Rng } from "./rng.js";

/** Bumped whenever the same options and seed would give different bytes. */
export const GENERATOR_VERSION = "bertd-model-generator/1";

export const IR_VERSION = 8;
export const OPSET_VERSION = 17;
export const INITIALIZER_RANGE = 0.02;
export const LAYER_NORM_EPS = 1e-12;
/** Added to attention scores at padded positions; exp(-10000) is exactly 0 in float32. */
export const MASK_FILL = -10000;

export interface BertGraphOptions {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly seed: number;
  /** Whether the graph takes a `token_type_ids` input; without it every token has type 0. */
  readonly tokenTypeIds: boolean;
  /** Whether `pooler_output` is a graph output. */
  readonly pooler: boolean;
  /** Classification labels: adds a `logits` output [batch, labels.length] over the pooled output. */
  readonly labels: readonly string[] | null;
  /** Whether each layer but the last is also an output, `hidden_states.N` (N = 1 … layers − 1). */
  readonly hiddenStates?: boolean;
  /**
   * With labels: `logits` is the only output (as optimum exports a sequence classifier, e.g. a
   * cross-encoder reranker): no last_hidden_state, pooler_output or hidden states.
   */
  readonly classifierOnly?: boolean;
  /** Each layer's self-attention as ONNX Runtime's MultiHeadAttention contrib op (com.microsoft) instead of standard ops. */
  readonly fusedAttention?: boolean;
  /**
   * Trained weights by BertModel state-dict name, in PyTorch's layout (a Linear weight is [out, in]);
   * without them the weights are random (seeded). Every weight the graph needs must be present.
   */
  readonly weights?: ReadonlyMap<string, NamedTensor>;
}

export function validateGraphOptions(o: BertGraphOptions): void {
  const positive = {
    vocabSize: o.vocabSize,
    hiddenSize: o.hiddenSize,
    numLayers: o.numLayers,
    numHeads: o.numHeads,
    intermediateSize: o.intermediateSize,
    maxPositions: o.maxPositions,
    typeVocabSize: o.typeVocabSize,
  };
  for (const [name, value] of Object.entries(positive)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  if (o.hiddenSize % o.numHeads !== 0) {
    throw new RangeError(`hiddenSize ${o.hiddenSize} is not a multiple of numHeads ${o.numHeads}`);
  }
  if (o.classifierOnly && o.labels === null) throw new RangeError("a classifier-only graph needs labels");
  if (o.labels !== null) {
    if (o.labels.length === 0) throw new RangeError("a classifier needs at least one label");
    if (new Set(o.labels).size !== o.labels.length) throw new RangeError(`duplicate labels in ${o.labels.join(",")}`);
  }
}

/** Number of weights (parameters) in the model the options describe. */
export function parameterCount(o: BertGraphOptions): number {
  const h = o.hiddenSize;
  const embeddings = (o.vocabSize + o.maxPositions + o.typeVocabSize) * h + 2 * h;
  const i = o.intermediateSize;
  const layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 2 * (2 * h); // attention, FFN, 2 LayerNorms
  const pooler = h * h + h;
  const classifier = o.labels === null ? 0 : (h + 1) * o.labels.length;
  return embeddings + o.numLayers * layer + pooler + classifier;
}

export function buildBertGraph(o: BertGraphOptions): OnnxModel {
  validateGraphOptions(o);
  const b = new GraphBuilder();
  const h = o.hiddenSize;
  const headSize = h / o.numHeads;

  const trained = (name: string, dims: number[], transposed: boolean): Float32Array | null => {
    if (o.weights === undefined) return null;
    const t = o.weights.get(name);
    const want = transposed ? [dims[1], dims[0]] : dims;
    if (t === undefined) throw new Error(`the weights have no tensor ${name} [${want.join(", ")}]`);
    if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
      throw new Error(`weight ${name} is [${t.dims.join(", ")}], the model needs [${want.join(", ")}]`);
    }
    if (!transposed) return t.values;
    const [rows, cols] = dims; // ONNX layout [in, out] from PyTorch's [out, in]
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = t.values[c * rows + r];
    return out;
  };
  const normal = (name: string, dims: number[], transposed = false) =>
    b.initializer(
      name,
      dims,
      trained(name, dims, transposed) ?? new Rng(o.seed, name).fillNormal(new Float32Array(dims.reduce((x, y) => x * y, 1)), 0, INITIALIZER_RANGE),
    );
  const filled = (name: string, size: number, value: number) =>
    b.initializer(name, [size], trained(name, [size], false) ?? new Float32Array(size).fill(value));
  const linear = (scope: string, name: string, input: string, inFeatures: number, outFeatures: number) => {
    const w = normal(`${name}.weight`, [inFeatures, outFeatures], true);
    const bias = filled(`${name}.bias`, outFeatures, 0);
    return b.op("Add", scope, [b.op("MatMul", scope, [input, w]), bias]);
  };
  const layerNorm = (scope: string, name: string, input: string, output?: string) =>
    b.op(
      "LayerNormalization",
      scope,
      [input, filled(`${name}.weight`, h, 1), filled(`${name}.bias`, h, 0)],
      { axis: intAttr(-1), epsilon: floatAttr(LAYER_NORM_EPS) },
      output,
    );

  // Constants shared by the graph.
  const zero = b.int64Scalar("const.zero", 0);
  const one = b.int64Scalar("const.one", 1);
  const axes12 = b.int64Vector("const.axes_1_2", [1, 2]);
  const floatOne = b.floatScalar("const.float_one", 1);
  const maskFill = b.floatScalar("const.mask_fill", MASK_FILL);
  const headsShape = b.int64Vector("const.shape_heads", [0, 0, o.numHeads, headSize]);
  const hiddenShape = b.int64Vector("const.shape_hidden", [0, 0, h]);
  const scoreScale = b.floatScalar("const.sqrt_head_size", Math.sqrt(headSize));
  const sqrt2 = b.floatScalar("const.sqrt_2", Math.SQRT2);
  const half = b.floatScalar("const.half", 0.5);

  // Embeddings: (word + position) + token type, then LayerNorm. Position ids 0..S-1 are computed as
  // CumSum(ones) - 1 over a ones tensor shaped like input_ids, rather than Range over Shape(input_ids):
  // element-wise ops keep the inferred shape [batch_size, sequence_length], and ONNX Runtime's
  // SkipLayerNormalization fusion needs the residual Adds' symbolic shapes to match.
  let scope = "/embeddings";
  const words = b.op("Gather", `${scope}/word_embeddings`, [normal("embeddings.word_embeddings.weight", [o.vocabSize, h]), "input_ids"]);
  const ones = b.op("Add", scope, [b.op("Mul", scope, ["input_ids", zero]), one]); // [B, S] of 1
  const positionIds = b.op("Sub", scope, [b.op("CumSum", scope, [ones, one]), one]); // [B, S] of 0..S-1
  const positions = b.op("Gather", `${scope}/position_embeddings`, [normal("embeddings.position_embeddings.weight", [o.maxPositions, h]), positionIds]);
  const typeTable = normal("embeddings.token_type_embeddings.weight", [o.typeVocabSize, h]);
  const types = b.op("Gather", `${scope}/token_type_embeddings`, [typeTable, o.tokenTypeIds ? "token_type_ids" : zero]);
  const summed = b.op("Add", scope, [b.op("Add", scope, [words, positions]), types]);
  let hidden = layerNorm(`${scope}/LayerNorm`, "embeddings.LayerNorm", summed);

  // Additive attention mask [B, 1, 1, S]: 0 where attention_mask is 1, MASK_FILL where it is 0.
  scope = "/extended_attention_mask";
  // Fused: ONNX Runtime's MultiHeadAttention takes the mask as int32 [B, S] (key_padding_mask).
  const maskIndex = o.fusedAttention ? b.op("Cast", scope, ["attention_mask"], { to: intAttr(DataType.INT32) }) : undefined;
  const maskFloat = o.fusedAttention ? undefined : b.op("Cast", scope, [b.op("Unsqueeze", scope, ["attention_mask", axes12])], { to: intAttr(DataType.FLOAT) });
  const mask = maskFloat && b.op("Mul", scope, [b.op("Sub", scope, [floatOne, maskFloat]), maskFill]);

  for (let i = 0; i < o.numLayers; i++) {
    const name = `encoder.layer.${i}`;
    scope = `/encoder/layer.${i}`;
    const heads = (s: string, x: string, perm: number[]) =>
      b.op("Transpose", s, [b.op("Reshape", s, [x, headsShape])], { perm: intsAttr(perm) });
    const s = `${scope}/attention/self`;
    // Each projection, then (unfused) its split into heads: in this order, so the unfused bytes stay as they were.
    const projection = (part: string, perm: number[]): string => {
      const projected = linear(`${scope}/attention/self/${part}`, `${name}.attention.self.${part}`, hidden, h, h);
      return o.fusedAttention ? projected : heads(`${scope}/attention/self/${part}`, projected, perm);
    };
    const q = projection("query", [0, 2, 1, 3]);
    const k = projection("key", [0, 2, 3, 1]);
    const v = projection("value", [0, 2, 1, 3]);
    let merged: string; // [B, S, H]
    if (o.fusedAttention) {
      merged = b.contribOp("MultiHeadAttention", s, [q, k, v, "", maskIndex!], { num_heads: intAttr(o.numHeads) });
    } else {
      const scores = b.op("Add", s, [b.op("Div", s, [b.op("MatMul", s, [q, k]), scoreScale]), mask!]); // [B, A, S, S]
      const probs = b.op("Softmax", s, [scores], { axis: intAttr(-1) });
      const context = b.op("Transpose", s, [b.op("MatMul", s, [probs, v])], { perm: intsAttr([0, 2, 1, 3]) });
      merged = b.op("Reshape", s, [context, hiddenShape]);
    }
    const attnOut = linear(`${scope}/attention/output/dense`, `${name}.attention.output.dense`, merged, h, h);
    const attnResidual = b.op("Add", `${scope}/attention/output`, [attnOut, hidden]);
    const attention = layerNorm(`${scope}/attention/output/LayerNorm`, `${name}.attention.output.LayerNorm`, attnResidual);

    const f = `${scope}/intermediate/intermediate_act_fn`;
    const up = linear(`${scope}/intermediate/dense`, `${name}.intermediate.dense`, attention, h, o.intermediateSize);
    const erf = b.op("Erf", f, [b.op("Div", f, [up, sqrt2])]);
    const gelu = b.op("Mul", f, [b.op("Mul", f, [up, b.op("Add", f, [erf, floatOne])]), half]); // x·½(1 + erf(x/√2))
    const down = linear(`${scope}/output/dense`, `${name}.output.dense`, gelu, o.intermediateSize, h);
    const residual = b.op("Add", `${scope}/output`, [down, attention]);
    const last = i === o.numLayers - 1;
    const output = last ? "last_hidden_state" : o.hiddenStates ? `hidden_states.${i + 1}` : undefined;
    hidden = layerNorm(`${scope}/output/LayerNorm`, `${name}.output.LayerNorm`, residual, output);
  }

  const batch = "batch_size";
  const sequence = "sequence_length";
  const outputs: OnnxValueInfo[] = o.classifierOnly ? [] : [{ name: "last_hidden_state", elemType: DataType.FLOAT, shape: [batch, sequence, h] }];
  if (o.hiddenStates && !o.classifierOnly) {
    for (let i = 1; i < o.numLayers; i++) outputs.push({ name: `hidden_states.${i}`, elemType: DataType.FLOAT, shape: [batch, sequence, h] });
  }
  if (o.pooler || o.labels !== null) {
    scope = "/pooler";
    const first = b.op("Gather", scope, [hidden, zero], { axis: intAttr(1) }); // [B, H]: the [CLS] token
    const pooledOutput = o.pooler && !o.classifierOnly;
    const pooled = b.op("Tanh", scope, [linear(`${scope}/dense`, "pooler.dense", first, h, h)], {}, pooledOutput ? "pooler_output" : undefined);
    if (pooledOutput) outputs.push({ name: "pooler_output", elemType: DataType.FLOAT, shape: [batch, h] });
    if (o.labels !== null) {
      const n = o.labels.length;
      const w = normal("classifier.weight", [h, n], true);
      b.op("Add", "/classifier", [b.op("MatMul", "/classifier", [pooled, w]), filled("classifier.bias", n, 0)], {}, "logits");
      outputs.push({ name: "logits", elemType: DataType.FLOAT, shape: [batch, n] });
    }
  }

  const inputNames = ["input_ids", "attention_mask", ...(o.tokenTypeIds ? ["token_type_ids"] : [])];
  return {
    irVersion: IR_VERSION,
    opsetVersion: OPSET_VERSION,
    producerName: "bertd",
    producerVersion: GENERATOR_VERSION,
    docString:
      o.weights === undefined
        ? "BERT-architecture encoder with RANDOM weights (normal(0, 0.02), seeded), generated by bertd's model " +
          "generator for trying and testing the service. Its outputs carry no meaning."
        : "BERT encoder with trained weights, built by bertd's model generator from a safetensors file.",
    metadata:
      o.weights === undefined
        ? { "bertd.generator": GENERATOR_VERSION, "bertd.seed": String(o.seed), "bertd.weights": "random" }
        : { "bertd.generator": GENERATOR_VERSION, "bertd.weights": "trained" },
    graph: {
      name: "bert",
      nodes: b.nodes,
      initializers: b.initializers,
      inputs: inputNames.map((name) => ({ name, elemType: DataType.INT64, shape: [batch, sequence] })),
      outputs,
    },
  };
}
