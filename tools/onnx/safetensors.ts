// Reads safetensors files (Hugging Face's weight format: an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw little-endian data), including
// bertd's compact variant: metadata "bertd.quantization" maps a tensor to {bits: 8 | 4, group, shape}; its values
// are symmetric integers (I8, or U8 holding two 4-bit values, low nibble first, offset by 8) with one
// F16 scale per group of `group` consecutive values in `NAME.scale`.

import { readFile } from "node:fs/promises";
import { float16Value } from "./float16.js";

export interface NamedTensor {
  readonly dims: readonly number[];
  /** The values as float32, whatever the stored dtype (F32, F16 or BF16). */
  readonly values: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1 };

interface Quantization {
  bits: 8 | 4;
  group: number;
  /** The dequantized shape (for 4 bits the stored U8 tensor holds half as many bytes). */
  shape: number[];
}

export function parseSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new Error("not a safetensors file: shorter than its 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) throw new Error(`not a safetensors file: header length ${headerLength} exceeds the file`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, HeaderEntry | Record<string, string>>;
  const base = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  const integers = new Map<string, { dims: number[]; bytes: Uint8Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [start, end] } = entry as HeaderEntry;
    const width = BYTES[dtype];
    if (width === undefined) throw new Error(`${name}: dtype ${dtype} is not supported (F32, F16, BF16)`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (dtype === "I8" || dtype === "U8") {
      if (end - start !== count || base + end > bytes.byteLength) throw new Error(`${name}: byte range [${start}, ${end}) does not hold ${shape.join("×")} ${dtype}`);
      integers.set(name, { dims: shape, bytes: bytes.subarray(base + start, base + end) });
      continue;
    }
    if (end - start !== count * width || base + end > bytes.byteLength) throw new Error(`${name}: byte range [${start}, ${end}) does not hold ${shape.join("×")} ${dtype}`);
    const values = new Float32Array(count);
    const at = base + start;
    if (dtype === "F32") for (let i = 0; i < count; i++) values[i] = view.getFloat32(at + 4 * i, true);
    else if (dtype === "F16") for (let i = 0; i < count; i++) values[i] = float16Value(view.getUint16(at + 2 * i, true));
    else {
      const u32 = new Uint32Array(values.buffer);
      for (let i = 0; i < count; i++) u32[i] = view.getUint16(at + 2 * i, true) << 16;
    }
    tensors.set(name, { dims: shape, values });
  }
  const schemes = JSON.parse(metadata["bertd.quantization"] ?? "{}") as Record<string, Quantization>;
  for (const [name, { bits, group, shape }] of Object.entries(schemes)) {
    const q = integers.get(name);
    const scale = tensors.get(`${name}.scale`);
    if (q === undefined || scale === undefined) throw new Error(`${name}: quantized, but its integers or ${name}.scale are missing`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (q.bytes.byteLength !== (bits === 8 ? count : count / 2)) throw new Error(`${name}: ${q.bytes.byteLength} bytes do not hold ${shape.join("×")} ${bits}-bit values`);
    if (count % group !== 0 || scale.values.length !== count / group) throw new Error(`${name}: ${scale.values.length} scales do not fit groups of ${group}`);
    const values = new Float32Array(count);
    if (bits === 8) {
      const signed = new Int8Array(q.bytes.buffer, q.bytes.byteOffset, q.bytes.byteLength);
      for (let i = 0; i < count; i++) values[i] = signed[i] * scale.values[Math.floor(i / group)];
    } else {
      for (let i = 0; i < count; i++) {
        const byte = q.bytes[i >> 1];
        values[i] = ((i & 1 ? byte >> 4 : byte & 0x0f) - 8) * scale.values[Math.floor(i / group)];
      }
    }
    tensors.delete(`${name}.scale`);
    tensors.set(name, { dims: shape, values });
  }
  return { tensors, metadata };
}

export async function readSafetensors(path: string): Promise<ReturnType<typeof parseSafetensors>> {
  return parseSafetensors(await readFile(path));
}
