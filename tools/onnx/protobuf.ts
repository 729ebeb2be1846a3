// A protobuf message encoder that keeps its output as a list of byte chunks.
//
// Scalars are encoded with @bufbuild/protobuf's BinaryWriter; bytes fields and nested messages are
// appended by reference, never copied, so a model with hundreds of megabytes of weights is written
// to disk straight from the Float32Arrays that hold them.

import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  private readonly pending = new BinaryWriter();

  int64(field: number, value: number | bigint): this {
    this.pending.tag(field, WireType.Varint).int64(value);
    return this;
  }

  int32(field: number, value: number): this {
    this.pending.tag(field, WireType.Varint).int32(value);
    return this;
  }

  float(field: number, value: number): this {
    this.pending.tag(field, WireType.Bit32).float(value);
    return this;
  }

  string(field: number, value: string): this {
    this.pending.tag(field, WireType.LengthDelimited).string(value);
    return this;
  }

  /** A bytes field. `value` is kept by reference: it must not change until the output is written. */
  bytes(field: number, value: Uint8Array): this {
    this.pending.tag(field, WireType.LengthDelimited).uint32(value.byteLength);
    this.append(value);
    return this;
  }

  /** Bytes already in wire form (a whole field, tag included), appended by reference. */
  raw(wire: Uint8Array): this {
    this.append(wire);
    return this;
  }

  message(field: number, value: ProtoMessage): this {
    const { chunks, byteLength } = value.finish();
    this.pending.tag(field, WireType.LengthDelimited).uint32(byteLength);
    for (const chunk of chunks) this.append(chunk);
    return this;
  }

  /** The wire form as chunks to be written in order, and their total length. */
  finish(): { chunks: readonly Uint8Array[]; byteLength: number } {
    this.flush();
    return { chunks: this.chunks, byteLength: this.length };
  }

  private append(chunk: Uint8Array): void {
    this.flush();
    this.push(chunk);
  }

  private flush(): void {
    this.push(this.pending.finish()); // finish() also resets the writer
  }

  private push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }
}

/** Chunks of a message's wire form as one array (the one chunk itself when there is only one). */
export function joinChunks({ chunks, byteLength }: { readonly chunks: readonly Uint8Array[]; readonly byteLength: number }): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const joined = new Uint8Array(byteLength);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.byteLength;
  }
  return joined;
}
