// EmbedResponse written straight from the vectors into protobuf's wire form. Building the message with
// protobuf-es (an Array.from per vector) and encoding it float by float cost ~30 µs per 256-float
// vector on the main thread, as much as gRPC's own work for a one-text call; this costs a copy.
// The bytes are those protobuf-es writes for the same message (test/unit/embedding-wire.test.ts).

import { create, toBinary } from "@bufbuild/protobuf";
import { endianness } from "node:os";
import { EmbedResponseSchema, EmbedStreamResponseSchema } from "../gen/bertd/v1/encoder_pb.js";
import { PreEncoded } from "./protobuf-glue.js";

const LITTLE_ENDIAN = endianness() === "LE";
const LENGTH_DELIMITED = 2;

export interface EmbedResult {
  readonly vectors: readonly Float32Array[];
  /** ENCODING_BYTES: each vector in Embedding.bytes instead of Embedding.values. */
  readonly asBytes: boolean;
  readonly inputTokens: number;
  readonly model: string;
  readonly dimensions: number;
}

// Only the vectors are written here; protobuf-es encodes every other field. Fields may come in any order on
// the wire, and protobuf-es writes them by number, so a message's lowest-numbered field written first and the
// rest from protobuf-es after it are the bytes protobuf-es writes for the whole message.

/** bertd.v1 EmbedResponse: the embeddings (field 1), then usage, model and dimensions. */
export function encodeEmbedResponse(result: EmbedResult): PreEncoded {
  const response = embedResponseLayout(result);
  return new PreEncoded(writeEmbedResponse(new WireWriter(response.size), result, response.rest).finish());
}

/** bertd.v1 EmbedStreamResponse: the id (field 1) by protobuf-es, then the response (field 2), written in one buffer. */
export function encodeEmbedStreamResponse(id: string, result: EmbedResult): PreEncoded {
  const head = toBinary(EmbedStreamResponseSchema, create(EmbedStreamResponseSchema, { id }));
  const response = embedResponseLayout(result);
  const writer = new WireWriter(head.length + fieldSize(response.size)).raw(head).tag(2, LENGTH_DELIMITED).varint(response.size);
  return new PreEncoded(writeEmbedResponse(writer, result, response.rest).finish());
}

/** An EmbedResponse's fields after the embeddings, encoded by protobuf-es, and the whole message's size. */
function embedResponseLayout(result: EmbedResult): { rest: Uint8Array; size: number } {
  const { vectors, inputTokens, model, dimensions } = result;
  const rest = toBinary(EmbedResponseSchema, create(EmbedResponseSchema, { usage: { inputTokens }, model, dimensions }));
  let size = rest.length;
  for (const vector of vectors) size += fieldSize(floatsSize(vector));
  return { rest, size };
}

function writeEmbedResponse(writer: WireWriter, result: EmbedResult, rest: Uint8Array): WireWriter {
  // Embedding.values (1, packed floats) or Embedding.bytes (2): the same little-endian floats.
  for (const vector of result.vectors) writer.tag(1, LENGTH_DELIMITED).varint(floatsSize(vector)).floatsField(result.asBytes ? 2 : 1, vector);
  return writer.raw(rest);
}

/** `vector` as packed float field `field`, then `rest`: the message's other fields, encoded by protobuf-es. */
export function floatsThen(field: number, vector: Float32Array, rest: Uint8Array): PreEncoded {
  return new PreEncoded(new WireWriter(floatsSize(vector) + rest.length).floatsField(field, vector).raw(rest).finish());
}

/** Bytes of a packed float field holding `vector`; none when it is empty, as protobuf-es omits it. */
function floatsSize(vector: Float32Array): number {
  return vector.length === 0 ? 0 : fieldSize(vector.byteLength);
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

  /** A packed float field (length-delimited little-endian floats); nothing when the vector is empty. */
  floatsField(field: number, vector: Float32Array): this {
    if (vector.length === 0) return this;
    this.tag(field, LENGTH_DELIMITED).varint(vector.byteLength);
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
