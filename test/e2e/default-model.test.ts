// The model `npm start` serves is the trained encoder (models/default, built on install from its
// committed weights): its mean-pooled embeddings put a description nearer to a paraphrase than to an
// unrelated one. Random weights fail this (test/e2e/encoder.test.ts serves those).

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoding, Pooling } from "../../src/gen/bertd/v1/encoder_pb.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

// Each: a text, a paraphrase sharing few words with it, an unrelated text.
const TRIPLES: [string, string, string][] = [
  ["chess game", "play chess against the computer", "send and receive email"],
  ["email client", "read and write mail messages", "3D modelling and rendering"],
  ["text editor", "edit plain text files", "network packet sniffer"],
  ["astronomy software", "planetarium showing stars and planets", "database server"],
  ["music player", "play audio files", "C compiler"],
  ["web browser", "view web pages on the internet", "font collection"],
];

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

describe("the default model", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--model-dir", join(ROOT, "models", "default")]);
  });
  after(async () => {
    await server?.stop();
  });

  it("is the trained 4 × 256 encoder with mean pooling", async () => {
    const info = await server.encoder().unary("getModelInfo")({});
    assert.equal(info.modelId, "default");
    assert.equal(info.hiddenSize, 256);
    assert.equal(info.defaultPooling, Pooling.MEAN);
  });

  it("is served int8 on the CPU (install quantized it), heads bound to the fp32 file's identity", async () => {
    const info = await server.encoder().unary("getModelInfo")({});
    assert.equal(info.modelFile, "model_quantized.onnx");
    assert.equal(info.precision, "int8");
    assert.notEqual(info.headIdentity, info.modelHash, "a bertd-quantized file that passed its fidelity check shares the fp32 file's identity");
  });

  it("puts each text nearer to its paraphrase than to an unrelated text", async () => {
    const response = await server.encoder().unary("embed")({ inputs: TRIPLES.flat(), encoding: Encoding.BYTES });
    const vectors = response.embeddings.map((e) => new Float32Array(new Uint8Array(e.bytes).buffer));
    const report = TRIPLES.map(([text], i) => {
      const [a, b, c] = vectors.slice(3 * i, 3 * i + 3);
      return { text, near: cosine(a, b), far: cosine(a, c) };
    });
    for (const r of report) assert.ok(r.near > r.far, `"${r.text}": paraphrase ${r.near.toFixed(3)} ≤ unrelated ${r.far.toFixed(3)}`);
  });
});
