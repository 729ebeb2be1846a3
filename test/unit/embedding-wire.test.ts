import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EmbedResponseSchema, EmbedStreamResponseSchema } from "../../src/gen/bertd/v1/encoder_pb.js";
import { EmbedResponseSchema as TeiEmbedResponseSchema } from "../../src/gen/tei/v1/tei_pb.js";
import { encodeEmbedResponse, encodeEmbedStreamResponse, floatsThen, type EmbedResult } from "../../src/transport/embedding-wire.js";

function vector(length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(seed * 7.1 + i) * 10 ** ((i % 7) - 3));
}

/** The message protobuf-es builds for the same result: what the Embed handler sent before. */
function reference({ vectors, asBytes, inputTokens, model, dimensions }: EmbedResult) {
  return create(EmbedResponseSchema, {
    embeddings: vectors.map((v) => (asBytes ? { bytes: new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) } : { values: Array.from(v) })),
    usage: { inputTokens },
    model,
    dimensions,
  });
}

const cases: [string, EmbedResult][] = [
  ["one 256-float vector", { vectors: [vector(256, 1)], asBytes: false, inputTokens: 19, model: "default", dimensions: 256 }],
  ["eight vectors as bytes", { vectors: Array.from({ length: 8 }, (_, i) => vector(384, i)), asBytes: true, inputTokens: 160, model: "hf-6x384", dimensions: 384 }],
  ["no vectors, no tokens, no model", { vectors: [], asBytes: false, inputTokens: 0, model: "", dimensions: 0 }],
  ["empty vectors (dimensions 0)", { vectors: [new Float32Array(0), new Float32Array(0)], asBytes: true, inputTokens: 2, model: "m", dimensions: 0 }],
  ["lengths past one varint byte, a non-ASCII model name", { vectors: [vector(33, 2), vector(1, 3)], asBytes: false, inputTokens: 300_000, model: "modèle-ü", dimensions: 2 ** 31 + 5 }],
  ["a vector viewed inside a larger buffer", { vectors: [new Float32Array(vector(64, 4).buffer, 16, 8)], asBytes: false, inputTokens: 1, model: "x", dimensions: 8 }],
];

describe("embeddings written without protobuf-es", () => {
  for (const [name, result] of cases) {
    test(`${name}: the bytes protobuf-es writes`, () => {
      const ours = encodeEmbedResponse(result).bytes;
      assert.deepEqual(new Uint8Array(ours), toBinary(EmbedResponseSchema, reference(result)));
      const decoded = fromBinary(EmbedResponseSchema, ours);
      assert.equal(decoded.embeddings.length, result.vectors.length);
      if (!result.asBytes) decoded.embeddings.forEach((e, i) => assert.deepEqual(Float32Array.from(e.values), result.vectors[i]));
    });
  }

  test("EmbedStreamResponse: the id and the nested response, as protobuf-es writes them", () => {
    for (const id of ["", "request-7", "é".repeat(100)]) {
      const result = cases[1][1];
      const ours = encodeEmbedStreamResponse(id, result).bytes;
      assert.deepEqual(new Uint8Array(ours), toBinary(EmbedStreamResponseSchema, create(EmbedStreamResponseSchema, { id, response: reference(result) })));
      assert.equal(fromBinary(EmbedStreamResponseSchema, ours).id, id);
    }
  });

  test("tei.v1 EmbedResponse: the vector written, the metadata from protobuf-es, the bytes protobuf-es writes for both", () => {
    const metadata = { computeChars: 120, computeTokens: 31, totalTimeNs: 2_500_000n, tokenizationTimeNs: 40_000n, queueTimeNs: 0n, inferenceTimeNs: 1_900_000n };
    for (const embeddings of [vector(384, 5), new Float32Array(0)]) {
      const rest = toBinary(TeiEmbedResponseSchema, create(TeiEmbedResponseSchema, { metadata }));
      const ours = floatsThen(1, embeddings, rest).bytes;
      assert.deepEqual(new Uint8Array(ours), toBinary(TeiEmbedResponseSchema, create(TeiEmbedResponseSchema, { embeddings: Array.from(embeddings), metadata })));
    }
  });
});
