// Just enough of the ONNX format (onnx/onnx.proto, IR version 8) to write an inference graph:
// plain objects for model, graph, nodes, tensors and value infos, their protobuf encoding with the
// field numbers of onnx.proto, and a GraphBuilder that names node outputs.

import { endianness } from "node:os";
import { ProtoMessage } from "./protobuf.js";

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** A Uint16Array holds float16 bit patterns. */
  readonly data: TensorData;
}

export type TensorData = Float32Array | BigInt64Array | Uint16Array;

export type OnnxAttribute =
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "ints"; readonly value: readonly number[] };

export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  /** The operator set's domain ("com.microsoft" for ONNX Runtime's contrib ops); absent: ONNX's own. */
  readonly domain?: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, OnnxAttribute>>;
}

/** A graph input or output: a tensor with an element type and a shape whose dims are sizes or names. */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType: DataType;
  readonly shape: readonly (number | string)[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly docString: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly graph: OnnxGraph;
}

export const floatAttr = (value: number): OnnxAttribute => ({ kind: "float", value });
export const intAttr = (value: number): OnnxAttribute => ({ kind: "int", value });
export const intsAttr = (value: readonly number[]): OnnxAttribute => ({ kind: "ints", value });

export function dataTypeOf(data: TensorData): DataType {
  if (data instanceof Uint16Array) return DataType.FLOAT16;
  return data instanceof Float32Array ? DataType.FLOAT : DataType.INT64;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Builds a graph node by node. Each node gets a path-like name (`/encoder/layer.0/.../MatMul`) and
 * its output is named after it unless a name is given (graph outputs such as `last_hidden_state`).
 */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly names = new Set<string>();

  /** Adds a node with one output and returns the output's name. */
  op(
    opType: string,
    scope: string,
    inputs: readonly string[],
    attributes: Record<string, OnnxAttribute> = {},
    output?: string,
  ): string {
    const name = this.uniqueNodeName(`${scope}/${opType}`);
    const out = output ?? `${name}_output_0`;
    this.nodes.push({ name, opType, inputs, outputs: [out], attributes });
    return out;
  }

  /** An ONNX Runtime contrib op (domain com.microsoft); returns its output's name. */
  contribOp(opType: string, scope: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}): string {
    const name = this.uniqueNodeName(`${scope}/${opType}`);
    const out = `${name}_output_0`;
    this.nodes.push({ name, opType, domain: "com.microsoft", inputs, outputs: [out], attributes });
    return out;
  }

  /** Adds an initializer and returns its name. */
  initializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    if (elementCount(dims) !== data.length) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(", ")}]`);
    }
    if (this.initializers.some((t) => t.name === name)) throw new Error(`duplicate initializer ${name}`);
    this.initializers.push({ name, dims, data });
    return name;
  }

  floatScalar(name: string, value: number): string {
    return this.initializer(name, [], Float32Array.of(value));
  }

  int64Scalar(name: string, value: number): string {
    return this.initializer(name, [], BigInt64Array.of(BigInt(value)));
  }

  int64Vector(name: string, values: readonly number[]): string {
    return this.initializer(name, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  private uniqueNodeName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }
}

// --- encoding (field numbers from onnx.proto) ---

const littleEndianHost = endianness() === "LE";

/** The tensor's values as little-endian bytes; a view of the array itself on little-endian hosts. */
export function rawData(data: TensorData): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndianHost) return view;
  const swapped = Uint8Array.from(view);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < swapped.length; i += width) swapped.subarray(i, i + width).reverse();
  return swapped;
}

export function encodeTensor(tensor: OnnxTensor): ProtoMessage {
  const m = new ProtoMessage();
  for (const d of tensor.dims) m.int64(1, d); // dims
  m.int32(2, dataTypeOf(tensor.data)); // data_type
  m.string(8, tensor.name); // name
  return m.bytes(9, rawData(tensor.data)); // raw_data
}

function encodeAttribute(name: string, attr: OnnxAttribute): ProtoMessage {
  const m = new ProtoMessage().string(1, name); // name
  switch (attr.kind) {
    case "float":
      return m.float(2, attr.value).int32(20, 1); // f, type FLOAT
    case "int":
      return m.int64(3, attr.value).int32(20, 2); // i, type INT
    case "ints":
      for (const v of attr.value) m.int64(8, v); // ints
      return m.int32(20, 7); // type INTS
  }
}

export function encodeNode(node: OnnxNode): ProtoMessage {
  const m = new ProtoMessage();
  for (const input of node.inputs) m.string(1, input);
  for (const output of node.outputs) m.string(2, output);
  m.string(3, node.name).string(4, node.opType);
  for (const [name, attr] of Object.entries(node.attributes)) m.message(5, encodeAttribute(name, attr));
  if (node.domain) m.string(7, node.domain);
  return m;
}

export function encodeValueInfo(info: OnnxValueInfo): ProtoMessage {
  const shape = new ProtoMessage(); // TensorShapeProto
  for (const d of info.shape) {
    const dim = new ProtoMessage(); // TensorShapeProto.Dimension: dim_value 1, dim_param 2
    shape.message(1, typeof d === "number" ? dim.int64(1, d) : dim.string(2, d));
  }
  const tensorType = new ProtoMessage().int32(1, info.elemType).message(2, shape); // TypeProto.Tensor
  const type = new ProtoMessage().message(1, tensorType); // TypeProto.tensor_type
  return new ProtoMessage().string(1, info.name).message(2, type); // ValueInfoProto
}

function encodeGraph(graph: OnnxGraph): ProtoMessage {
  const m = new ProtoMessage();
  for (const node of graph.nodes) m.message(1, encodeNode(node));
  m.string(2, graph.name);
  for (const t of graph.initializers) m.message(5, encodeTensor(t));
  for (const v of graph.inputs) m.message(11, encodeValueInfo(v));
  for (const v of graph.outputs) m.message(12, encodeValueInfo(v));
  return m;
}

/** The model's ModelProto wire form as chunks (weights by reference) and its total length. */
export function encodeModel(model: OnnxModel): { chunks: readonly Uint8Array[]; byteLength: number } {
  const m = new ProtoMessage()
    .int64(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion)
    .string(6, model.docString)
    .message(7, encodeGraph(model.graph));
  m.message(8, new ProtoMessage().string(1, "").int64(2, model.opsetVersion)); // opset_import
  const domains = new Set(model.graph.nodes.map((n) => n.domain).filter((d): d is string => !!d));
  for (const domain of domains) m.message(8, new ProtoMessage().string(1, domain).int64(2, 1));
  for (const [key, value] of Object.entries(model.metadata)) {
    m.message(14, new ProtoMessage().string(1, key).string(2, value)); // metadata_props
  }
  return m.finish();
}
