// EmbedResponse written straight from the vectors into protobuf's wire form. Building the message with
// protobuf-es (an Array.from per vector) and encoding it float by float cost ~30 µs per 256-float
// vector on the main thread, as much as gRPC's own work for a one-text call; this costs a copy.
// The bytes are those protobuf-es writes for the same message (test/unit/embedding-wire.test.ts).

import { endianness } from "node:os";
import { PreEncoded } from "./protobuf-glue.js";

const LITTLE_ENDIAN = endianness() === "LE";
const LENGTH_DELIMITED = 2;
const VARINT = 0;

export interface EmbedResult {
  readonly vectors: readonly Float32Array[];
  /** ENCODING_BYTES: each vector in Embedding.bytes instead of Embedding.values. */
  readonly asBytes: boolean;
  readonly inputTokens: number;
  readonly model: string;
  readonly dimensions: number;
}

export function encodeEmbedResponse(result: EmbedResult): PreEncoded {
  const writer = new WireWriter(embedResponseSize(result));
  writeEmbedResponse(writer, result);
  return new PreEncoded(writer.finish());
}

/** EmbedStreamResponse { id, response }: a stream's answer to one request. */
export function encodeEmbedStreamResponse(id: string, result: EmbedResult): PreEncoded {
  const idBytes = Buffer.from(id, "utf8");
  const inner = embedResponseSize(result);
  const writer = new WireWriter((idBytes.length ? fieldSize(idBytes.length) : 0) + fieldSize(inner));
  if (idBytes.length) writer.tag(1, LENGTH_DELIMITED).varint(idBytes.length).raw(idBytes);
  writer.tag(2, LENGTH_DELIMITED).varint(inner);
  writeEmbedResponse(writer, result);
  return new PreEncoded(writer.finish());
}

/**
 * `vector` as packed float field `field`, followed by `rest` (the message's other fields, encoded by
 * protobuf-es): the bytes protobuf-es writes for the whole message when `field` is its lowest-numbered one.
 */
export function floatsThen(field: number, vector: Float32Array, rest: Uint8Array): PreEncoded {
  const writer = new WireWriter(embeddingSize(vector) + rest.length);
  if (vector.length) writer.tag(field, LENGTH_DELIMITED).varint(vector.byteLength).floats(vector);
  return new PreEncoded(writer.raw(rest).finish());
}

function embeddingSize(vector: Float32Array): number {
  return vector.length === 0 ? 0 : fieldSize(vector.byteLength);
}

function usageSize(inputTokens: number): number {
  return inputTokens === 0 ? 0 : 1 + varintSize(inputTokens);
}

function embedResponseSize({ vectors, inputTokens, model, dimensions }: EmbedResult): number {
  let size = fieldSize(usageSize(inputTokens));
  for (const vector of vectors) size += fieldSize(embeddingSize(vector));
  const modelLength = Buffer.byteLength(model, "utf8");
  if (modelLength) size += fieldSize(modelLength);
  if (dimensions) size += 1 + varintSize(dimensions);
  return size;
}

function writeEmbedResponse(writer: WireWriter, { vectors, asBytes, inputTokens, model, dimensions }: EmbedResult): void {
  for (const vector of vectors) {
    writer.tag(1, LENGTH_DELIMITED).varint(embeddingSize(vector));
    // Embedding.values (1, packed floats) or Embedding.bytes (2): the same little-endian floats.
    if (vector.length) writer.tag(asBytes ? 2 : 1, LENGTH_DELIMITED).varint(vector.byteLength).floats(vector);
  }
  writer.tag(2, LENGTH_DELIMITED).varint(usageSize(inputTokens));
  if (inputTokens) writer.tag(1, VARINT).varint(inputTokens);
  if (model) {
    const bytes = Buffer.from(model, "utf8");
    writer.tag(3, LENGTH_DELIMITED).varint(bytes.length).raw(bytes);
  }
  if (dimensions) writer.tag(4, VARINT).varint(dimensions);
}

/** Bytes of a length-delimited field with a tag below 16 and `length` bytes of payload. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes into a buffer sized beforehand. Values are uint32 at most (lengths, counts). */
class WireWriter {
  private readonly buffer: Buffer;
  private at = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  tag(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  varint(value: number): this {
    while (value >= 0x80) {
      this.buffer[this.at++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.at++] = value;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }

  floats(vector: Float32Array): this {
    if (LITTLE_ENDIAN) return this.raw(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
    for (let i = 0; i < vector.length; i++) this.buffer.writeFloatLE(vector[i], this.at + 4 * i);
    this.at += vector.byteLength;
    return this;
  }

  finish(): Buffer {
    if (this.at !== this.buffer.length) throw new Error(`wire size mismatch: wrote ${this.at} of ${this.buffer.length} bytes`);
    return this.buffer;
  }
}
