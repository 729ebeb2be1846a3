// Mean and CLS pooling as outputs of the model's own graph, so a batch of pooled embeddings brings
// back batch × hidden floats instead of the whole last_hidden_state (batch × sequence × hidden): on a
// GPU that is the device-to-host copy of up to 100 MB a batch, and on any device the JavaScript loop
// over every float (1.5 ns each). The rewrite adds nodes, four small initializers and two outputs to
// the graph and keeps every other byte of the file as it was; weights kept as external data are read
// into the model (ONNX Runtime then builds the session from bytes, with no directory to read them from).

import { bytesPerElement, initializerBytes, readModelView, type InitializerView, type ModelView } from "../../../tools/onnx/model-proto.js";
import { ProtoMessage, joinChunks } from "../../../tools/onnx/protobuf.js";
import { DataType, GraphBuilder, encodeNode, encodeTensor, encodeValueInfo, intAttr, intsAttr, type OnnxAttribute } from "../../../tools/onnx/writer.js";

export const POOLED_OUTPUTS = { mean: "bertd_pooled_mean", cls: "bertd_pooled_cls" } as const;

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
  const b = new GraphBuilder();
  const p = (name: string): string => `${PREFIX}${name}`;
  const node = (opType: string, inputs: string[], output: string, attributes: Record<string, OnnxAttribute> = {}): string =>
    b.op(opType, "bertd_pool", inputs, attributes, output);
  // ReduceSum takes its axes as an attribute before opset 13 and as an input from 13 on.
  const opset = model.opsets.get("") ?? 0;
  const reduceSum = (input: string, output: string, keepDims: number): void => {
    if (opset >= 13) node("ReduceSum", [input, p("token_axis")], output, { keepdims: intAttr(keepDims) });
    else node("ReduceSum", [input], output, { axes: intsAttr([1]), keepdims: intAttr(keepDims) });
  };
  b.int64Vector(p("column_shape"), [0, -1, 1]);
  b.int64Vector(p("token_axis"), [1]);
  b.floatScalar(p("one"), 1);
  b.int64Scalar(p("first"), 0);
  node("Cast", ["attention_mask"], p("mask"), { to: intAttr(DataType.FLOAT) });
  node("Reshape", [p("mask"), p("column_shape")], p("mask_column"));
  node("Cast", ["last_hidden_state"], p("hidden"), { to: intAttr(DataType.FLOAT) });
  // Elementwise products and sums in float32, not a matrix product: on CUDA, MatMul runs in TF32.
  node("Mul", [p("hidden"), p("mask_column")], p("masked"));
  reduceSum(p("masked"), p("sum"), 0);
  reduceSum(p("mask"), p("count"), 1);
  node("Max", [p("count"), p("one")], p("divisor"));
  node("Div", [p("sum"), p("divisor")], POOLED_OUTPUTS.mean);
  node("Gather", [p("hidden"), p("first")], POOLED_OUTPUTS.cls, { axis: intAttr(1) });
  const additions = new ProtoMessage();
  for (const n of b.nodes) additions.message(1, encodeNode(n));
  for (const t of b.initializers) additions.message(5, encodeTensor(t));
  for (const name of [POOLED_OUTPUTS.mean, POOLED_OUTPUTS.cls]) additions.message(12, encodeValueInfo({ name, elemType: DataType.FLOAT, shape: ["batch", "hidden"] }));

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
