import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import * as ort from "onnxruntime-node";
import { generateBertModel } from "../../tools/generator/index.js";
import { BertTokenizer } from "../../src/core/tokenizer/index.js";
import { startServer } from "../helpers/server-process.js";

describe("a model that already classifies", () => {
  it("is served by Classify as the read-only head \"model\", with labels from config.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bertd-classifier-"));
    const labels = ["negative", "neutral", "positive"];
    await generateBertModel({ outDir: dir, layers: 1, hidden: 32, heads: 2, intermediate: 64, seed: 5, labels });
    const server = await startServer(["--model-dir", dir]);
    try {
      const texts = ["a wonderful day", "terrible service", "it is a chair"];
      const response = await server.encoder().unary("classify")({ head: "model", inputs: texts });
      assert.equal(response.headVersion, 1);
      const session = await ort.InferenceSession.create(join(dir, "model.onnx"));
      const tokenizer = BertTokenizer.fromDirectory(dir);
      for (let i = 0; i < texts.length; i++) {
        const ids = Array.from(tokenizer.encode(texts[i]).ids, BigInt);
        const shape = [1, ids.length];
        const out = await session.run({
          input_ids: new ort.Tensor("int64", BigInt64Array.from(ids), shape),
          attention_mask: new ort.Tensor("int64", new BigInt64Array(ids.length).fill(1n), shape),
          token_type_ids: new ort.Tensor("int64", new BigInt64Array(ids.length), shape),
        });
        const logits = Array.from(out.logits.data as Float32Array);
        const exp = logits.map((x) => Math.exp(x - Math.max(...logits)));
        const probs = exp.map((x) => x / exp.reduce((a, b) => a + b, 0));
        const got = response.predictions[i].labels;
        assert.equal(got.length, 3);
        for (const { label, score } of got) assert.ok(Math.abs(score - probs[labels.indexOf(label)]) < 1e-5, `${texts[i]} ${label}`);
        assert.ok(got[0].score >= got[1].score && got[1].score >= got[2].score);
      }
      await session.release();
      const list = await server.heads().unary("listHeads")({});
      const model = list.heads.find((h) => h.name === "model");
      assert.ok(model?.readOnly);
      assert.deepEqual(model.labels, labels);
      await assert.rejects(
        server.encoder().unary("classify")({ head: "model", inputs: ["x"], version: 2 }),
        (e: ServiceError) => e.code === status.NOT_FOUND,
      );
    } finally {
      await server.stop();
    }
  });
});
