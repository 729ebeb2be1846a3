// A lossless view of a serialized ONNX ModelProto for graph rewrites: every field is kept as the byte
// span it came from, and only what a rewrite needs is decoded (node inputs/outputs/op/domain/attributes,
// initializer headers, opset imports). Rewritten models copy every span they do not change verbatim,
// so value_info, doc strings, functions and attributes of kinds we do not know survive untouched.

import { closeSync, openSync, readSync } from "node:fs";
import { resolve, sep } from "node:path";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** TensorProto.DataType values. */
export const TensorType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;

export interface Span {
  readonly field: number;
  readonly bytes: Uint8Array;
}

export interface NodeView {
  readonly span: Span;
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** INT attributes by name (Gather's axis, Cast's to); other kinds are left in the span. */
  readonly intAttributes: ReadonlyMap<string, number>;
}

export interface InitializerView {
  readonly span: Span;
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  /** Where the values are: raw_data, float_data, or a range of an external file. */
  readonly data:
    | { readonly kind: "raw"; readonly bytes: Uint8Array }
    | { readonly kind: "floats"; readonly values: Float32Array }
    | { readonly kind: "external"; readonly location: string; readonly offset: number; readonly length: number | undefined }
    | { readonly kind: "none" };
  /** Every field but raw_data, external_data and data_location: what an inlined copy keeps. */
  readonly headerFields: readonly Span[];
}

export interface GraphView {
  /** Graph fields in file order (nodes, initializers, inputs, value_info, …). */
  readonly fields: readonly Span[];
  readonly nodes: readonly NodeView[];
  readonly initializers: ReadonlyMap<string, InitializerView>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface ModelView {
  readonly fields: readonly Span[];
  readonly graph: GraphView;
  readonly opsets: ReadonlyMap<string, number>;
  readonly metadata: ReadonlyMap<string, string>;
  /** The directory external data locations are relative to. */
  readonly baseDir: string;
}

export class OnnxFormatError extends Error {}

/** Splits a message into its fields, each with the bytes it occupied (tag included). */
function spans(bytes: Uint8Array): { span: Span; wire: WireType; body: () => BinaryReader }[] {
  const r = new BinaryReader(bytes);
  const out: { span: Span; wire: WireType; body: () => BinaryReader }[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const [field, wire] = r.tag();
    const bodyStart = r.pos;
    r.skip(wire, field);
    const end = r.pos;
    const whole = bytes.subarray(start, end);
    out.push({
      span: { field, bytes: whole },
      wire,
      body: () => new BinaryReader(bytes.subarray(bodyStart, end)),
    });
  }
  return out;
}

function subMessage(f: { body: () => BinaryReader }): Uint8Array {
  return f.body().bytes();
}

function decodeStrings(bytes: Uint8Array): Map<number, string[]> {
  const map = new Map<number, string[]>();
  for (const f of spans(bytes)) {
    if (f.wire !== WireType.LengthDelimited) continue;
    const list = map.get(f.span.field) ?? [];
    list.push(f.body().string());
    map.set(f.span.field, list);
  }
  return map;
}

function readNode(span: Span, body: Uint8Array): NodeView {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const intAttributes = new Map<string, number>();
  let name = "";
  let opType = "";
  let domain = "";
  for (const f of spans(body)) {
    const n = f.span.field;
    if (n === 1) inputs.push(f.body().string());
    else if (n === 2) outputs.push(f.body().string());
    else if (n === 3) name = f.body().string();
    else if (n === 4) opType = f.body().string();
    else if (n === 7) domain = f.body().string();
    else if (n === 5) {
      let attrName = "";
      let value: number | undefined;
      for (const a of spans(subMessage(f))) {
        if (a.span.field === 1) attrName = a.body().string();
        else if (a.span.field === 3) value = Number(a.body().int64());
      }
      if (value !== undefined) intAttributes.set(attrName, value);
    }
  }
  return { span, name, opType, domain: domain === "ai.onnx" ? "" : domain, inputs, outputs, intAttributes };
}

function readInitializer(span: Span, body: Uint8Array): InitializerView {
  const dims: number[] = [];
  const headerFields: Span[] = [];
  let dataType = 0;
  let name = "";
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  let external = false;
  const externalEntries = new Map<string, string>();
  for (const f of spans(body)) {
    const n = f.span.field;
    if (n === 9) raw = f.body().bytes();
    else if (n === 14) external = f.body().int32() === 1;
    else if (n === 13) {
      const kv = decodeStrings(subMessage(f));
      externalEntries.set(kv.get(1)?.[0] ?? "", kv.get(2)?.[0] ?? "");
    } else {
      headerFields.push(f.span);
      if (n === 1) {
        const r = f.body();
        if (f.wire === WireType.LengthDelimited) {
          const packed = new BinaryReader(r.bytes());
          while (packed.pos < packed.len) dims.push(Number(packed.int64()));
        } else dims.push(Number(r.int64()));
      } else if (n === 2) dataType = f.body().int32();
      else if (n === 8) name = f.body().string();
      else if (n === 4) {
        const r = f.body();
        if (f.wire === WireType.LengthDelimited) {
          const packed = new BinaryReader(r.bytes());
          while (packed.pos < packed.len) floats.push(packed.float());
        } else floats.push(r.float());
      }
    }
  }
  let data: InitializerView["data"] = { kind: "none" };
  if (external) {
    const location = externalEntries.get("location");
    if (!location) throw new OnnxFormatError(`initializer ${name} is external but names no location`);
    const length = externalEntries.has("length") ? Number(externalEntries.get("length")) : undefined;
    data = { kind: "external", location, offset: Number(externalEntries.get("offset") ?? 0), length };
  } else if (raw !== undefined) data = { kind: "raw", bytes: raw };
  else if (floats.length > 0) data = { kind: "floats", values: Float32Array.from(floats) };
  return { span, name, dims, dataType, data, headerFields };
}

function readGraph(bytes: Uint8Array): GraphView {
  const fields: Span[] = [];
  const nodes: NodeView[] = [];
  const initializers = new Map<string, InitializerView>();
  const inputNames: string[] = [];
  const outputNames: string[] = [];
  for (const f of spans(bytes)) {
    fields.push(f.span);
    const n = f.span.field;
    if (n === 1) nodes.push(readNode(f.span, subMessage(f)));
    else if (n === 5) {
      const init = readInitializer(f.span, subMessage(f));
      initializers.set(init.name, init);
    } else if (n === 11 || n === 12) {
      const name = decodeStrings(subMessage(f)).get(1)?.[0] ?? "";
      (n === 11 ? inputNames : outputNames).push(name);
    }
  }
  return { fields, nodes, initializers, inputNames, outputNames };
}

/** Parses a ModelProto; throws OnnxFormatError when the bytes are not one (with a graph). */
export function readModelView(bytes: Uint8Array, baseDir: string): ModelView {
  const fields: Span[] = [];
  const opsets = new Map<string, number>();
  const metadata = new Map<string, string>();
  let graph: GraphView | undefined;
  let irVersion = 0;
  try {
    for (const f of spans(bytes)) {
      fields.push(f.span);
      const n = f.span.field;
      if (n === 1 && f.wire === WireType.Varint) irVersion = Number(f.body().int64());
      else if (n === 7 && f.wire === WireType.LengthDelimited) graph = readGraph(subMessage(f));
      else if (n === 8 && f.wire === WireType.LengthDelimited) {
        let domain = "";
        let version = 0;
        for (const o of spans(subMessage(f))) {
          if (o.span.field === 1) domain = o.body().string();
          else if (o.span.field === 2) version = Number(o.body().int64());
        }
        opsets.set(domain === "ai.onnx" ? "" : domain, version);
      } else if (n === 14 && f.wire === WireType.LengthDelimited) {
        const kv = decodeStrings(subMessage(f));
        metadata.set(kv.get(1)?.[0] ?? "", kv.get(2)?.[0] ?? "");
      }
    }
  } catch (error) {
    if (error instanceof OnnxFormatError) throw error;
    throw new OnnxFormatError(`not an ONNX model (${(error as Error).message})`);
  }
  if (!graph || irVersion <= 0 || graph.nodes.length === 0) throw new OnnxFormatError("not an ONNX model (no ir_version or no graph with nodes)");
  return { fields, graph, opsets, metadata, baseDir };
}

/** The initializer's values as float32 (FLOAT tensors only), reading external data when it lives in a file. */
export function floatValues(model: ModelView, init: InitializerView): Float32Array {
  if (init.dataType !== TensorType.FLOAT) throw new OnnxFormatError(`initializer ${init.name} is not FLOAT (data type ${init.dataType})`);
  const count = init.dims.reduce((a, b) => a * b, 1);
  const bytes = initializerBytes(model, init);
  if (bytes instanceof Float32Array) return bytes;
  if (bytes.byteLength !== 4 * count) throw new OnnxFormatError(`initializer ${init.name}: ${bytes.byteLength} bytes for ${count} floats`);
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The tensor's little-endian data bytes (raw_data or external), or float_data values. */
export function initializerBytes(model: ModelView, init: InitializerView): Uint8Array | Float32Array {
  const { data } = init;
  if (data.kind === "raw") return data.bytes;
  if (data.kind === "floats") return data.values;
  if (data.kind === "none") return new Uint8Array(0);
  const path = resolve(model.baseDir, data.location);
  if (!path.startsWith(resolve(model.baseDir) + sep)) {
    throw new OnnxFormatError(`initializer ${init.name}: external location ${data.location} leaves the model directory`);
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new OnnxFormatError(`initializer ${init.name}: cannot read its external data ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const length = data.length ?? init.dims.reduce((a, b) => a * b, 1) * bytesPerElement(init.dataType);
    const buffer = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, done, length - done, data.offset + done);
      if (n === 0) throw new OnnxFormatError(`initializer ${init.name}: ${path} ends before offset ${data.offset + length}`);
      done += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/** Bytes per element of a TensorProto.DataType (UINT16 4, INT16 5, UINT32 12, UINT64 13, BFLOAT16 16). */
export function bytesPerElement(dataType: number): number {
  if (dataType === TensorType.FLOAT || dataType === TensorType.INT32 || dataType === 12) return 4;
  if (dataType === TensorType.INT64 || dataType === TensorType.DOUBLE || dataType === 13) return 8;
  if (dataType === TensorType.FLOAT16 || dataType === 4 || dataType === 5 || dataType === 16) return 2;
  return 1;
}
