// Dynamic int8 quantization of an ONNX graph: every MatMul whose second input is a constant 2-D FLOAT
// initializer becomes
//   DynamicQuantizeLinear(A) → MatMulInteger(A uint8, W int8, A zero point, W zero points 0) → Cast → Mul(A scale × W scale)
// with symmetric int8 weights and one scale per output column: the pattern ONNX Runtime's CPU
// provider fuses into DynamicQuantizeMatMul. Embedding tables (Gather on a 2-D FLOAT initializer)
// stay FLOAT unless asked; then they become int8 rows with one scale per row.
//
// The rewrite is lossless for everything else: fields it does not change are copied byte for byte.

import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ProtoMessage, joinChunks } from "./protobuf.js";
import { floatValues, initializerBytes, type InitializerView, type ModelView, type NodeView, OnnxFormatError, readModelView, type Span, TensorType } from "./model-proto.js";

/** Ops that mean the graph is quantized already. */
const QUANTIZED_OPS = new Set([
  "DynamicQuantizeLinear", "MatMulInteger", "QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "QLinearConv", "ConvInteger",
  "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention", "QGemm", "DynamicQuantizeLSTM", "MatMulNBits", "QOrderedMatMul",
]);

/** Written into the quantized model's metadata_props. */
export const QUANTIZATION_METADATA_KEY = "bertd.quantization";

export interface QuantizeOptions {
  /** Quantize embedding tables too (Gather on a 2-D FLOAT initializer): int8 rows, one scale per row. */
  readonly embeddings?: boolean;
  /** 8 (−127…127) or 7 (−63…63, for CPUs whose u8×s8 kernels saturate 16-bit sums: AVX2 without VNNI). */
  readonly weightBits?: 8 | 7;
  /** Above this many bytes of tensor data the output keeps large tensors in an external data file (ONNX's protobuf limit is 2 GiB). */
  readonly externalDataThreshold?: number;
  /** Recorded in the output's metadata: what the quantized file was made from. */
  readonly source?: Readonly<Record<string, string>>;
}

export interface QuantizeSummary {
  readonly matmuls: number;
  /** MatMuls left in float: both inputs computed (attention's Q·Kᵀ and probabilities·V). */
  readonly matmulsLeft: number;
  readonly embeddingTables: number;
  readonly externalData: string | undefined;
  readonly bytes: number;
}

export class QuantizeError extends Error {}

interface TensorOut {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly bytes: Uint8Array;
}

function tensorBytes(values: Float32Array | Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Symmetric per-column quantization of W [K, N] (row-major): int8 values and N scales. */
export function quantizeColumns(w: Float32Array, k: number, n: number, bits: 8 | 7): { q: Int8Array; scales: Float32Array } {
  const qmax = bits === 8 ? 127 : 63;
  const max = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) {
      const a = Math.abs(w[row + c]);
      if (a > max[c]) max[c] = a;
    }
  }
  const scales = Float32Array.from(max, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) q[row + c] = Math.max(-qmax, Math.min(qmax, Math.round(w[row + c] / scales[c])));
  }
  return { q, scales };
}

/** Symmetric per-row quantization of an embedding table [V, H]: int8 rows and V scales. */
function quantizeRows(w: Float32Array, v: number, h: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(v * h);
  const scales = new Float32Array(v);
  for (let r = 0; r < v; r++) {
    let m = 0;
    for (let c = 0; c < h; c++) m = Math.max(m, Math.abs(w[r * h + c]));
    const s = m > 0 ? m / 127 : 1;
    scales[r] = s;
    for (let c = 0; c < h; c++) q[r * h + c] = Math.round(w[r * h + c] / s);
  }
  return { q, scales };
}

/**
 * A ModelProto metadata_props field in wire form. Fields of a message may come in any order, so this
 * can be appended to a written model file (the fidelity figures are, once they are measured).
 */
export function metadataField(key: string, value: string): Uint8Array {
  return concat(new ProtoMessage().message(14, new ProtoMessage().string(1, key).string(2, value)));
}

function encodeNode(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, options: { to?: number } = {}): ProtoMessage {
  const m = new ProtoMessage();
  for (const input of inputs) m.string(1, input);
  for (const output of outputs) m.string(2, output);
  m.string(3, name).string(4, opType);
  if (options.to !== undefined) m.message(5, new ProtoMessage().string(1, "to").int64(3, options.to).int32(20, 2));
  return m;
}

/** Collects the tensors of the output and decides, once their total is known, which go to an external file. */
class TensorSink {
  private readonly external: Uint8Array[] = [];
  private externalLength = 0;

  constructor(
    readonly externalLocation: string | undefined,
    private readonly model: ModelView,
  ) {}

  /** An initializer the rewrite keeps: verbatim when it is inline and may stay so, else re-encoded. */
  keep(init: InitializerView): ProtoMessage | Span {
    if (init.data.kind !== "external" && (!this.externalLocation || init.data.kind !== "raw" || init.data.bytes.byteLength < 1024)) return init.span;
    const data = initializerBytes(this.model, init);
    const bytes = data instanceof Float32Array ? tensorBytes(data) : data;
    const m = new ProtoMessage();
    for (const f of init.headerFields) m.raw(f.bytes);
    this.place(m, bytes);
    return new ProtoMessage().message(5, m);
  }

  add(t: TensorOut): ProtoMessage {
    const m = new ProtoMessage();
    for (const d of t.dims) m.int64(1, d);
    m.int32(2, t.dataType).string(8, t.name);
    this.place(m, t.bytes);
    return new ProtoMessage().message(5, m);
  }

  externalChunks(): readonly Uint8Array[] {
    return this.external;
  }

  private place(m: ProtoMessage, bytes: Uint8Array): void {
    if (!this.externalLocation || bytes.byteLength < 1024) {
      m.bytes(9, bytes);
      return;
    }
    const pad = (64 - (this.externalLength % 64)) % 64;
    if (pad) this.pushExternal(new Uint8Array(pad));
    const offset = this.externalLength;
    this.pushExternal(bytes);
    const entry = (key: string, value: string): ProtoMessage => new ProtoMessage().string(1, key).string(2, value);
    m.message(13, entry("location", this.externalLocation)).message(13, entry("offset", String(offset))).message(13, entry("length", String(bytes.byteLength)));
    m.int32(14, 1);
  }

  private pushExternal(bytes: Uint8Array): void {
    this.external.push(bytes);
    this.externalLength += bytes.byteLength;
  }
}

function tensorSize(init: InitializerView): number {
  const d = init.data;
  if (d.kind === "raw") return d.bytes.byteLength;
  if (d.kind === "floats") return d.values.byteLength;
  if (d.kind === "external") return d.length ?? init.dims.reduce((a, b) => a * b, 1) * 4;
  return 0;
}

/** Checks the graph is one we can quantize and says why not in one line. */
function checkQuantizable(model: ModelView): void {
  const quantized = model.graph.nodes.find((n) => QUANTIZED_OPS.has(n.opType));
  if (quantized || model.metadata.has(QUANTIZATION_METADATA_KEY)) {
    throw new QuantizeError(`the graph is already quantized (it has ${quantized ? `a ${quantized.opType} node` : `${QUANTIZATION_METADATA_KEY} metadata`}): quantize the fp32 model instead`);
  }
  const opset = model.opsets.get("") ?? 0;
  if (opset < 11) throw new QuantizeError(`the graph imports ONNX opset ${opset}; DynamicQuantizeLinear needs opset 11 or later: re-export with a newer opset`);
}

export function quantizeModelBytes(bytes: Uint8Array, baseDir: string, options: QuantizeOptions & { externalLocation?: string } = {}): { chunks: ProtoMessage; external: readonly Uint8Array[]; summary: QuantizeSummary } {
  let model: ModelView;
  try {
    model = readModelView(bytes, baseDir);
  } catch (error) {
    if (error instanceof OnnxFormatError) throw new QuantizeError(error.message);
    throw error;
  }
  checkQuantizable(model);
  const bits = options.weightBits ?? 8;
  const { graph } = model;
  const graphOutputs = new Set(graph.outputNames);
  const consumers = new Map<string, NodeView[]>();
  for (const node of graph.nodes) for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);

  const constant2d = (name: string | undefined, types: number[]): InitializerView | undefined => {
    const init = name ? graph.initializers.get(name) : undefined;
    return init && init.dims.length === 2 && types.includes(init.dataType) ? init : undefined;
  };
  const isWeightMatMul = (n: NodeView): boolean => n.opType === "MatMul" && n.domain === "" && !graph.initializers.has(n.inputs[0]) && constant2d(n.inputs[1], [TensorType.FLOAT]) !== undefined;
  const targets = graph.nodes.filter(isWeightMatMul);
  if (targets.length === 0) {
    const fp16 = graph.nodes.some((n) => n.opType === "MatMul" && constant2d(n.inputs[1], [TensorType.FLOAT16]));
    if (fp16) throw new QuantizeError("the graph's MatMul weights are FLOAT16 (an fp16 export): quantize the fp32 model instead");
    throw new QuantizeError("the graph has no MatMul with a constant 2-D FLOAT weight: not a graph this quantizer understands");
  }
  const embeddingTargets = options.embeddings
    ? graph.nodes.filter((n) => {
        if (n.opType !== "Gather" || n.domain !== "" || (n.intAttributes.get("axis") ?? 0) !== 0) return false;
        const table = constant2d(n.inputs[0], [TensorType.FLOAT]);
        return table !== undefined && (consumers.get(table.name) ?? []).every((c) => c.opType === "Gather" && c.inputs[0] === table.name);
      })
    : [];

  // Estimate the output's tensor bytes to decide on external data before anything is encoded.
  const quantizedNames = new Set([...targets.map((n) => n.inputs[1]), ...embeddingTargets.map((n) => n.inputs[0])]);
  let estimate = 0;
  for (const init of graph.initializers.values()) estimate += quantizedNames.has(init.name) ? tensorSize(init) / 4 : tensorSize(init);
  const externalLocation = estimate > (options.externalDataThreshold ?? 1.8 * 2 ** 30) ? options.externalLocation ?? "model_quantized.onnx.data" : undefined;
  const sink = new TensorSink(externalLocation, model);

  const newTensors: ProtoMessage[] = [];
  const weightNames = new Map<string, { q: string; scale: string; zero: string; n: number }>();
  const quantizeWeight = (init: InitializerView): { q: string; scale: string; zero: string; n: number } => {
    const done = weightNames.get(init.name);
    if (done) return done;
    const [k, n] = init.dims;
    const { q, scales } = quantizeColumns(floatValues(model, init), k, n, bits);
    const names = { q: `${init.name}_quantized`, scale: `${init.name}_scale`, zero: `${init.name}_zero_point`, n };
    newTensors.push(sink.add({ name: names.q, dims: [k, n], dataType: TensorType.INT8, bytes: tensorBytes(q) }));
    newTensors.push(sink.add({ name: names.scale, dims: [n], dataType: TensorType.FLOAT, bytes: tensorBytes(scales) }));
    newTensors.push(sink.add({ name: names.zero, dims: [n], dataType: TensorType.INT8, bytes: new Uint8Array(n) }));
    weightNames.set(init.name, names);
    return names;
  };

  const replaced = new Map<NodeView, ProtoMessage[]>();
  for (const node of targets) {
    const weight = quantizeWeight(graph.initializers.get(node.inputs[1])!);
    const a = node.inputs[0];
    const out = node.outputs[0];
    const base = node.name || out;
    const [aq, as, az, mmOut, castOut, scaleOut] = ["_quantized", "_scale", "_zero_point", "_MatMulInteger", "_cast", "_scales"].map((s) => `${base}${s}`);
    replaced.set(node, [
      encodeNode("DynamicQuantizeLinear", [a], [aq, as, az], `${base}_QuantizeLinear`),
      encodeNode("MatMulInteger", [aq, weight.q, az, weight.zero], [mmOut], `${base}_MatMulInteger`),
      encodeNode("Cast", [mmOut], [castOut], `${base}_Cast`, { to: TensorType.FLOAT }),
      encodeNode("Mul", [as, weight.scale], [scaleOut], `${base}_scales_mul`),
      encodeNode("Mul", [castOut, scaleOut], [out], `${base}_output_scale_mul`),
    ]);
  }

  const tables = new Map<string, { q: string; scale: string }>();
  for (const node of embeddingTargets) {
    const table = graph.initializers.get(node.inputs[0])!;
    let names = tables.get(table.name);
    if (!names) {
      const [v, h] = table.dims;
      const { q, scales } = quantizeRows(floatValues(model, table), v, h);
      names = { q: `${table.name}_quantized`, scale: `${table.name}_scale` };
      newTensors.push(sink.add({ name: names.q, dims: [v, h], dataType: TensorType.INT8, bytes: tensorBytes(q) }));
      newTensors.push(sink.add({ name: names.scale, dims: [v, 1], dataType: TensorType.FLOAT, bytes: tensorBytes(scales) }));
      tables.set(table.name, names);
    }
    const base = node.name || node.outputs[0];
    const ids = node.inputs[1];
    replaced.set(node, [
      encodeNode("Gather", [names.q, ids], [`${base}_rows`], `${base}_quantized`),
      encodeNode("Cast", [`${base}_rows`], [`${base}_rows_float`], `${base}_Cast`, { to: TensorType.FLOAT }),
      encodeNode("Gather", [names.scale, ids], [`${base}_row_scales`], `${base}_scales`),
      encodeNode("Mul", [`${base}_rows_float`, `${base}_row_scales`], [node.outputs[0]], `${base}_dequantize`),
    ]);
  }

  // Drop the float originals nobody reads any more.
  const stillRead = new Set<string>();
  for (const node of graph.nodes) if (!replaced.has(node)) for (const input of node.inputs) stillRead.add(input);
  for (const name of graphOutputs) stillRead.add(name);
  const removedInitializers = new Set([...quantizedNames].filter((name) => !stillRead.has(name)));

  const nodesByField = new Map<Span, NodeView>(graph.nodes.map((n) => [n.span, n]));
  const initsByField = new Map<Span, InitializerView>([...graph.initializers.values()].map((i) => [i.span, i]));
  const inputSpans = graph.fields.filter((f) => f.field === 11);
  const inputNameOf = new Map(inputSpans.map((f, i) => [f, graph.inputNames[i]]));
  const graphOut = new ProtoMessage();
  let wroteNewTensors = false;
  for (const span of graph.fields) {
    if (span.field === 1) {
      const node = nodesByField.get(span)!;
      const replacement = replaced.get(node);
      if (replacement) for (const m of replacement) graphOut.message(1, m);
      else graphOut.raw(span.bytes);
    } else if (span.field === 5) {
      const init = initsByField.get(span)!;
      if (!wroteNewTensors) {
        for (const t of newTensors) graphOut.raw(concat(t));
        wroteNewTensors = true;
      }
      if (removedInitializers.has(init.name)) continue;
      const kept = sink.keep(init);
      if (kept instanceof ProtoMessage) graphOut.raw(concat(kept));
      else graphOut.raw(kept.bytes);
    } else if (span.field === 11 && removedInitializers.has(inputNameOf.get(span) ?? "")) {
      continue;
    } else graphOut.raw(span.bytes);
  }
  if (!wroteNewTensors) for (const t of newTensors) graphOut.raw(concat(t));

  const metadata = JSON.stringify({
    scheme: "dynamic int8 (DynamicQuantizeLinear + MatMulInteger)",
    activations: "uint8, per tensor, computed at run time",
    weights: `int8 symmetric, per output column, ${bits} bits`,
    embeddings: options.embeddings ? "int8 per row" : "float32",
    ...(options.source ?? {}),
  });
  const out = new ProtoMessage();
  for (const span of model.fields) {
    if (span.field === 7) out.message(7, graphOut);
    else out.raw(span.bytes);
  }
  out.raw(metadataField(QUANTIZATION_METADATA_KEY, metadata));
  const matmulsLeft = graph.nodes.filter((n) => n.opType === "MatMul").length - targets.length;
  return {
    chunks: out,
    external: sink.externalChunks(),
    summary: { matmuls: targets.length, matmulsLeft, embeddingTables: tables.size, externalData: externalLocation, bytes: out.finish().byteLength },
  };
}

function concat(m: ProtoMessage): Uint8Array {
  // A nested-message field already framed by the sink (field 5): its chunks joined for raw().
  return joinChunks(m.finish());
}

function writeAll(fd: number, chunks: readonly Uint8Array[]): void {
  for (const chunk of chunks) {
    let done = 0;
    while (done < chunk.byteLength) done += writeSync(fd, chunk, done, chunk.byteLength - done);
  }
}

function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/**
 * Writes chunks to PATH through a temporary file in the same directory, renamed at the end. `check`
 * runs on the complete temporary file first; what it returns is appended, and if it throws nothing is left.
 */
export async function writeAtomically(path: string, chunks: readonly Uint8Array[], check?: (tempPath: string) => Promise<Uint8Array | undefined>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, "w");
  } catch (error) {
    throw new QuantizeError(`cannot write ${path}: ${describe(error)}`);
  }
  let open = true;
  try {
    try {
      writeAll(fd, chunks);
    } catch (error) {
      throw new QuantizeError(`cannot write ${path}: ${describe(error)}`);
    }
    const tail = check ? await check(temp) : undefined;
    if (tail) writeAll(fd, [tail]);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    renameSync(temp, path);
  } catch (error) {
    if (open) closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Checks that OUTPUT can be written before any work is done (its directory exists and is writable). */
export function checkWritable(output: string): void {
  const probe = join(dirname(output), `.${basename(output)}.${process.pid}.probe`);
  try {
    closeSync(openSync(probe, "w"));
    rmSync(probe);
  } catch (error) {
    throw new QuantizeError(`cannot write ${output}: ${describe(error)}`);
  }
}

/**
 * Quantizes the model file INPUT (its bytes given) into OUTPUT, and OUTPUT.data when the result needs
 * external data. `check` sees the written result before it is renamed into place (see writeAtomically).
 */
export async function quantizeFile(
  input: string,
  output: string,
  bytes: Uint8Array,
  options: QuantizeOptions = {},
  check?: (tempPath: string) => Promise<Uint8Array | undefined>,
): Promise<QuantizeSummary> {
  checkWritable(output);
  const externalLocation = `${basename(output)}.data`;
  const { chunks, external, summary } = quantizeModelBytes(bytes, dirname(input), { ...options, externalLocation });
  const externalPath = join(dirname(output), externalLocation);
  if (external.length > 0) await writeAtomically(externalPath, external);
  try {
    await writeAtomically(output, chunks.finish().chunks, check);
  } catch (error) {
    if (external.length > 0) rmSync(externalPath, { force: true });
    throw error;
  }
  return summary;
}
