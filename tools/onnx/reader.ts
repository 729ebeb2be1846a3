// A minimal ONNX reader: model bytes → nodes, initializers, graph inputs/outputs (FLOAT, FLOAT16 and
// INT64 tensors). The writer beside it builds models; the tests and the quantizer read them with this.

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

