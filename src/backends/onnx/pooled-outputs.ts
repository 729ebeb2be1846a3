// Mean and CLS pooling as outputs of the model's own graph, so a batch of pooled embeddings brings
// back batch × hidden floats instead of the whole last_hidden_state (batch × sequence × hidden): on a
// GPU that is the device-to-host copy of up to 100 MB a batch, and on any device the JavaScript loop
// over every float (1.5 ns each). The rewrite adds nodes, four small initializers and two outputs to
// the graph and keeps every other byte of the file as it was; weights kept as external data are read
// into the model (ONNX Runtime then builds the session from bytes, with no directory to read them from).

import { bytesPerElement, initializerBytes, readModelView, type InitializerView, type ModelView } from "../../../tools/onnx/model-proto.js";
import { ProtoMessage, joinChunks } from "../../../tools/onnx/protobuf.js";

export const POOLED_OUTPUTS = { mean: "bertd_pooled_mean", cls: "bertd_pooled_cls" } as const;

const FLOAT = 1;
const INT64 = 7;
const PREFIX = "bertd_pool/";
const MAX_REWRITTEN_BYTES = 2 ** 30;

export type PooledModel = { readonly bytes: Uint8Array } | { readonly reason: string };

/** The model with mean and CLS pooling outputs, or why it cannot have them (then pool in JavaScript). */
export function withPooledOutputs(bytes: Uint8Array, baseDir: string): PooledModel {
  let model: ModelView;
  try {
    model = readModelView(bytes, baseDir);
  } catch (error) {
    return { reason: (error as Error).message };
  }
  const { graph } = model;
  if (!graph.outputNames.includes("last_hidden_state")) return { reason: "the graph has no last_hidden_state output" };
  if (!graph.inputNames.includes("attention_mask")) return { reason: "the graph has no attention_mask input" };
  if ((model.opsets.get("") ?? 0) < 8) return { reason: `the graph imports ONNX opset ${model.opsets.get("") ?? 0} (8 or later needed)` };
  const external = new Map<Uint8Array, InitializerView>();
  let inlined = bytes.byteLength;
  for (const init of graph.initializers.values()) {
    if (init.data.kind !== "external") continue;
    external.set(init.span.bytes, init);
    inlined += init.data.length ?? init.dims.reduce((a, b) => a * b, 1) * bytesPerElement(init.dataType);
  }
  // The rewrite holds the file, its copy and ONNX Runtime's parse at once while the session starts.
  if (inlined > MAX_REWRITTEN_BYTES) return { reason: `the model is over ${MAX_REWRITTEN_BYTES / 2 ** 30} GiB: rewriting it in memory would hold three copies at start-up` };
  const taken = new Set([...graph.outputNames, ...graph.inputNames, ...graph.initializers.keys(), ...graph.nodes.flatMap((n) => n.outputs)]);
  if ([...taken].some((name) => name.startsWith(PREFIX) || name === POOLED_OUTPUTS.mean || name === POOLED_OUTPUTS.cls)) {
    return { reason: "the graph already uses bertd's pooling names" };
  }

  const additions = new ProtoMessage();
  const node = (opType: string, inputs: string[], output: string, ...attributes: ProtoMessage[]): void => {
    const m = new ProtoMessage();
    for (const input of inputs) m.string(1, input);
    m.string(2, output).string(3, `${PREFIX}${output}`).string(4, opType);
    for (const attribute of attributes) m.message(5, attribute);
    additions.message(1, m);
  };
  const intAttribute = (name: string, value: number): ProtoMessage => new ProtoMessage().string(1, name).int64(3, value).int32(20, 2);
  const intsAttribute = (name: string, values: number[]): ProtoMessage => {
    const m = new ProtoMessage().string(1, name);
    for (const v of values) m.int64(8, v);
    return m.int32(20, 7);
  };
  const initializer = (name: string, dataType: number, dims: number[], raw: Uint8Array): void => {
    const m = new ProtoMessage();
    for (const d of dims) m.int64(1, d);
    m.int32(2, dataType).string(8, name).bytes(9, raw);
    additions.message(5, m);
  };
  const output = (name: string): void => {
    const dim = (param: string): ProtoMessage => new ProtoMessage().string(2, param);
    const shape = new ProtoMessage().message(1, dim("batch")).message(1, dim("hidden"));
    const tensor = new ProtoMessage().int32(1, FLOAT).message(2, shape);
    additions.message(12, new ProtoMessage().string(1, name).message(2, new ProtoMessage().message(1, tensor)));
  };
  const int64s = (values: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(values, BigInt).buffer);
  const p = (name: string): string => `${PREFIX}${name}`;

  // ReduceSum takes its axes as an attribute before opset 13 and as an input from 13 on.
  const opset = model.opsets.get("") ?? 0;
  const reduceSum = (input: string, output: string, keepDims: number): void => {
    if (opset >= 13) node("ReduceSum", [input, p("token_axis")], output, intAttribute("keepdims", keepDims));
    else node("ReduceSum", [input], output, intsAttribute("axes", [1]), intAttribute("keepdims", keepDims));
  };
  initializer(p("column_shape"), INT64, [3], int64s([0, -1, 1]));
  initializer(p("token_axis"), INT64, [1], int64s([1]));
  initializer(p("one"), FLOAT, [], new Uint8Array(Float32Array.of(1).buffer));
  initializer(p("first"), INT64, [], int64s([0]));
  node("Cast", ["attention_mask"], p("mask"), intAttribute("to", FLOAT));
  node("Reshape", [p("mask"), p("column_shape")], p("mask_column"));
  node("Cast", ["last_hidden_state"], p("hidden"), intAttribute("to", FLOAT));
  // Elementwise products and sums in float32, not a matrix product: on CUDA, MatMul runs in TF32.
  node("Mul", [p("hidden"), p("mask_column")], p("masked"));
  reduceSum(p("masked"), p("sum"), 0);
  reduceSum(p("mask"), p("count"), 1);
  node("Max", [p("count"), p("one")], p("divisor"));
  node("Div", [p("sum"), p("divisor")], POOLED_OUTPUTS.mean);
  node("Gather", [p("hidden"), p("first")], POOLED_OUTPUTS.cls, intAttribute("axis", 1));
  output(POOLED_OUTPUTS.mean);
  output(POOLED_OUTPUTS.cls);

  const graphField = new ProtoMessage();
  for (const span of graph.fields) {
    const init = external.get(span.bytes);
    if (!init) {
      graphField.raw(span.bytes);
      continue;
    }
    const data = initializerBytes(model, init);
    const tensor = new ProtoMessage();
    for (const f of init.headerFields) tensor.raw(f.bytes);
    tensor.bytes(9, data instanceof Float32Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data);
    graphField.message(5, tensor);
  }
  for (const chunk of additions.finish().chunks) graphField.raw(chunk);
  const rewritten = new ProtoMessage();
  for (const span of model.fields) {
    if (span.field === 7) rewritten.message(7, graphField);
    else rewritten.raw(span.bytes);
  }
  return { bytes: joinChunks(rewritten.finish()) };
}
