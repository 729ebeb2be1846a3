/**
 * The binary container of a serialized head (format version 1):
 *
 *   bytes 0..3   magic "BHTS"
 *   bytes 4..7   uint32 LE format version
 *   bytes 8..11  uint32 LE header length H
 *   12..12+H     header: UTF-8 JSON, including `arrays: [{name, type: "f64" | "u8", length}]`
 *   then, each starting at a multiple of 8, the arrays in that order: f64 as IEEE-754 little-endian (exact),
 *   u8 as raw bytes. The total length must match exactly.
 *
 * Every floating-point value that must survive bit-exactly lives in an f64 array, never in the JSON.
 */

export const STATE_MAGIC = "BHTS";

/** A malformed, truncated or incompatible serialized head. */
export class StateFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateFormatError";
  }
}

export type StateArray = Float64Array | Uint8Array;

interface ArrayEntry {
  name: string;
  type: "f64" | "u8";
  length: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

export function encodeState(version: number, header: Record<string, unknown>, arrays: ReadonlyMap<string, StateArray>): Uint8Array {
  const entries: ArrayEntry[] = [];
  for (const [name, data] of arrays) entries.push({ name, type: data instanceof Float64Array ? "f64" : "u8", length: data.length });
  const json = new TextEncoder().encode(JSON.stringify({ ...header, arrays: entries }));
  let size = align8(12 + json.length);
  for (const e of entries) size += align8(e.type === "f64" ? e.length * 8 : e.length);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = STATE_MAGIC.charCodeAt(i);
  view.setUint32(4, version, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  let offset = align8(12 + json.length);
  for (const [, data] of arrays) {
    if (data instanceof Float64Array) {
      for (let i = 0; i < data.length; i++) view.setFloat64(offset + i * 8, data[i], true);
      offset += data.length * 8;
    } else {
      out.set(data, offset);
      offset = align8(offset + data.length);
    }
  }
  return out;
}

export interface DecodedState {
  readonly version: number;
  readonly header: Record<string, unknown>;
  readonly arrays: ReadonlyMap<string, StateArray>;
}

export function decodeState(bytes: Uint8Array): DecodedState {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12) throw new StateFormatError("too short to be a serialized head");
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== STATE_MAGIC.charCodeAt(i)) throw new StateFormatError("not a serialized head (bad magic)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) throw new StateFormatError("truncated header");
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + headerLength)));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    header = parsed as Record<string, unknown>;
  } catch (err) {
    throw new StateFormatError(`bad header: ${(err as Error).message}`);
  }
  const entries = header.arrays;
  if (!Array.isArray(entries)) throw new StateFormatError("header has no array table");
  const arrays = new Map<string, StateArray>();
  let offset = align8(12 + headerLength);
  for (const raw of entries as unknown[]) {
    const e = raw as Partial<ArrayEntry>;
    if (typeof e.name !== "string" || (e.type !== "f64" && e.type !== "u8") || !Number.isSafeInteger(e.length) || (e.length as number) < 0) {
      throw new StateFormatError("bad array table entry");
    }
    const length = e.length as number;
    const byteLength = e.type === "f64" ? length * 8 : length;
    if (offset + byteLength > bytes.length) throw new StateFormatError(`truncated array ${e.name}`);
    if (e.type === "f64") {
      const a = new Float64Array(length);
      for (let i = 0; i < length; i++) a[i] = view.getFloat64(offset + i * 8, true);
      arrays.set(e.name, a);
    } else {
      arrays.set(e.name, bytes.slice(offset, offset + length));
    }
    offset = align8(offset + byteLength);
  }
  if (offset !== bytes.length) throw new StateFormatError(`length mismatch: expected ${offset} bytes, got ${bytes.length}`);
  delete header.arrays;
  return { version, header, arrays };
}
