/**
 * A pair head taught online (one Adapt stream, then its replay) on a real pair task reaches within
 * 3 points of an offline logistic regression (L-BFGS, L2 chosen on validation pairs) trained on the
 * same examples' same features: each pair's mean-pooled encoding, computed here directly with ONNX
 * Runtime on Hugging Face's pair encoding.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { Tokenizer as HfTokenizer } from "tokenizers";
import { accuracy, chooseL2 } from "../../bench/lib/logistic-regression.js";
import { isHoldout } from "../../src/heads/index.js";
import { Promotion } from "../../src/gen/bertd/v1/heads_pb.js";
import { adapt } from "../helpers/adapt-client.js";
import { sectionPairs, type SectionPair } from "../helpers/section-pairs.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

const MODEL = join(ROOT, "models", "default");
const LABELS = ["same", "different"];
const HOLDOUT = 0.1;
const SEED = 3;

async function pooledPairs(pairs: readonly SectionPair[]): Promise<Float32Array[]> {
  const hf = HfTokenizer.fromString(readFileSync(join(MODEL, "tokenizer.json"), "utf8"));
  hf.setTruncation(512);
  const session = await ort.InferenceSession.create(join(MODEL, "model.onnx"), { intraOpNumThreads: 1 });
  const out: Float32Array[] = [];
  try {
    for (let start = 0; start < pairs.length; start += 32) {
      const encoded = await Promise.all(pairs.slice(start, start + 32).map((p) => hf.encode(p.text, p.textPair)));
      const rows = encoded.length;
      const length = Math.max(...encoded.map((e) => e.getIds().length));
      const ids = new BigInt64Array(rows * length);
      const mask = new BigInt64Array(rows * length);
      const types = new BigInt64Array(rows * length);
      encoded.forEach((e, r) => {
        const typeIds = e.getTypeIds();
        e.getIds().forEach((id, t) => {
          ids[r * length + t] = BigInt(id);
          mask[r * length + t] = 1n;
          types[r * length + t] = BigInt(typeIds[t]);
        });
      });
      const shape = [rows, length];
      const result = await session.run(
        { input_ids: new ort.Tensor("int64", ids, shape), attention_mask: new ort.Tensor("int64", mask, shape), token_type_ids: new ort.Tensor("int64", types, shape) },
        ["last_hidden_state"],
      );
      const hidden = result.last_hidden_state.data as Float32Array;
      const width = hidden.length / (rows * length);
      encoded.forEach((e, r) => {
        const n = e.getIds().length;
        const vector = new Float32Array(width);
        for (let t = 0; t < n; t++) for (let h = 0; h < width; h++) vector[h] += hidden[(r * length + t) * width + h];
        for (let h = 0; h < width; h++) vector[h] /= n;
        out.push(vector);
      });
    }
  } finally {
    await session.release();
  }
  return out;
}

describe("a pair head on a real pair task (same Debian section or not)", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--model-dir", MODEL]);
  });
  after(async () => {
    await server?.stop();
  });

  it("taught online, comes within 3 points of offline logistic regression on the same features", async () => {
    const train = sectionPairs("train", 3000, 7);
    const validation = sectionPairs("validation", 600, 8);
    const test = sectionPairs("test", 800, 9);
    const result = await adapt(
      server.heads(),
      { head: "same-section", labels: LABELS, pair: true, promotion: Promotion.ALWAYS, hyperparameters: { seed: BigInt(SEED), holdoutFraction: HOLDOUT } },
      train.map((p) => ({ id: p.id, text: p.text, textPair: p.textPair, labels: [p.label] })),
    );
    assert.equal(result.committed.length, 1);

    const classify = server.encoder().unary("classify");
    let correct = 0;
    for (let start = 0; start < test.length; start += 64) {
      const batch = test.slice(start, start + 64);
      const response = await classify({ head: "same-section", inputs: batch.map((p) => p.text), textPairs: batch.map((p) => p.textPair), topK: 1 });
      response.predictions.forEach((prediction, i) => (correct += prediction.labels[0].label === batch[i].label ? 1 : 0));
    }
    const online = correct / test.length;

    const taught = train.filter((p) => !isHoldout(p.id, HOLDOUT, SEED));
    const y = (pairs: readonly SectionPair[]): number[] => pairs.map((p) => LABELS.indexOf(p.label));
    const [trainX, valX, testX] = [await pooledPairs(taught), await pooledPairs(validation), await pooledPairs(test)];
    const choice = chooseL2(trainX, y(taught), valX, y(validation), [1e-4, 1e-3, 1e-2, 1e-1], { numClasses: 2, maxIterations: 300 });
    const offline = accuracy(choice.model, testX, y(test));
    console.log(`pair head online ${(100 * online).toFixed(1)}% vs offline logistic regression ${(100 * offline).toFixed(1)}% (l2 ${choice.l2}) on ${test.length} test pairs; ${taught.length} training pairs`);
    // Measured here: online 51.2% vs offline 49.6% — this task is near chance for any linear model on the default
    // encoder's mean-pooled pair encoding (it was not pretrained on pairs), so this checks parity, not learnability.
    assert.ok(online >= offline - 0.03, `online ${online} within 3 points of offline ${offline}`);
  });
});
