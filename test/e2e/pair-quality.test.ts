/**
 * A pair head taught online (one Adapt stream, then its replay) on a real pair task (does this long
 * description belong to the Debian package with this short description?) reaches within 3 points of
 * an offline logistic regression (L-BFGS, L2 chosen on validation pairs) trained on the same
 * examples' same features: each pair's mean-pooled encoding, computed here directly with ONNX
 * Runtime on Hugging Face's pair encoding. Train, validation and test packages are disjoint.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { Tokenizer as HfTokenizer, type Encoding } from "tokenizers";
import { accuracy, chooseL2 } from "../../bench/lib/logistic-regression.js";
import { pairFeatures } from "../../src/core/pair-features.js";
import { isHoldout } from "../../src/heads/index.js";
import { Promotion } from "../../src/gen/bertd/v1/heads_pb.js";
import { adapt } from "../helpers/adapt-client.js";
import { descriptionPairs, type DescriptionPair } from "../helpers/description-pairs.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

const MODEL = join(ROOT, "models", "default");
const LABELS = ["match", "other"];
const WELL_ABOVE_CHANCE = 0.8;
const HOLDOUT = 0.1;
const SEED = 3;

/** Mean-pooled last hidden states of encodings (pairs or single texts), in their order; run length-sorted, 32 at a time. */
async function meanPooled(session: ort.InferenceSession, encoded: readonly Encoding[]): Promise<Float32Array[]> {
  const out = new Array<Float32Array>(encoded.length);
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a].getIds().length - encoded[b].getIds().length);
  for (let start = 0; start < order.length; start += 32) {
    const rows = order.slice(start, start + 32);
    const length = Math.max(...rows.map((i) => encoded[i].getIds().length));
    const ids = new BigInt64Array(rows.length * length);
    const mask = new BigInt64Array(rows.length * length);
    const types = new BigInt64Array(rows.length * length);
    rows.forEach((i, r) => {
      const typeIds = encoded[i].getTypeIds();
      encoded[i].getIds().forEach((id, t) => {
        ids[r * length + t] = BigInt(id);
        mask[r * length + t] = 1n;
        types[r * length + t] = BigInt(typeIds[t]);
      });
    });
    const shape = [rows.length, length];
    const result = await session.run(
      { input_ids: new ort.Tensor("int64", ids, shape), attention_mask: new ort.Tensor("int64", mask, shape), token_type_ids: new ort.Tensor("int64", types, shape) },
      ["last_hidden_state"],
    );
    const hidden = result.last_hidden_state.data as Float32Array;
    const width = hidden.length / (rows.length * length);
    rows.forEach((i, r) => {
      const n = encoded[i].getIds().length;
      const vector = new Float32Array(width);
      for (let t = 0; t < n; t++) for (let h = 0; h < width; h++) vector[h] += hidden[(r * length + t) * width + h];
      for (let h = 0; h < width; h++) vector[h] /= n;
      out[i] = vector;
    });
  }
  return out;
}

/** A pair head's features (src/core/pair-features.ts) from Hugging Face's encodings of the pair and of each text alone. */
async function pairHeadFeatures(pairs: readonly DescriptionPair[]): Promise<Float32Array[]> {
  const hf = HfTokenizer.fromString(readFileSync(join(MODEL, "tokenizer.json"), "utf8"));
  hf.setTruncation(512);
  const session = await ort.InferenceSession.create(join(MODEL, "model.onnx"), { intraOpNumThreads: 1 });
  try {
    const joint = await meanPooled(session, await Promise.all(pairs.map((p) => hf.encode(p.text, p.textPair))));
    const texts = [...new Set(pairs.flatMap((p) => [p.text, p.textPair]))];
    const pooled = await meanPooled(session, await Promise.all(texts.map((text) => hf.encode(text))));
    const alone = new Map(texts.map((text, i) => [text, pooled[i]]));
    return pairs.map((p, i) => pairFeatures(joint[i], alone.get(p.text)!, alone.get(p.textPair)!));
  } finally {
    await session.release();
  }
}

describe("a pair head on a real pair task (a Debian package's short and long descriptions, or another package's)", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--model-dir", MODEL, "--precision", "fp32"]);
  });
  after(async () => {
    await server?.stop();
  });

  it("taught online, comes within 3 points of offline logistic regression on the same features", async () => {
    const train = descriptionPairs("train", 7);
    const validation = descriptionPairs("validation", 8);
    const test = descriptionPairs("test", 9);
    const result = await adapt(
      server.heads(),
      { head: "description-match", labels: LABELS, pair: true, promotion: Promotion.ALWAYS, hyperparameters: { seed: BigInt(SEED), holdoutFraction: HOLDOUT } },
      train.map((p) => ({ id: p.id, text: p.text, textPair: p.textPair, labels: [p.label] })),
    );
    assert.equal(result.committed.length, 1);

    const classify = server.encoder().unary("classify");
    let correct = 0;
    for (let start = 0; start < test.length; start += 64) {
      const batch = test.slice(start, start + 64);
      const response = await classify({ head: "description-match", inputs: batch.map((p) => p.text), textPairs: batch.map((p) => p.textPair), topK: 1 });
      response.predictions.forEach((prediction, i) => (correct += prediction.labels[0].label === batch[i].label ? 1 : 0));
    }
    const online = correct / test.length;

    const taught = train.filter((p) => !isHoldout(p.id, HOLDOUT, SEED));
    const y = (pairs: readonly DescriptionPair[]): number[] => pairs.map((p) => LABELS.indexOf(p.label));
    const [trainX, valX, testX] = [await pairHeadFeatures(taught), await pairHeadFeatures(validation), await pairHeadFeatures(test)];
    const choice = chooseL2(trainX, y(taught), valX, y(validation), [1e-4, 1e-3, 1e-2, 1e-1], { numClasses: 2, maxIterations: 300 });
    const offline = accuracy(choice.model, testX, y(test));
    console.log(`pair head online ${(100 * online).toFixed(1)}% vs offline logistic regression ${(100 * offline).toFixed(1)}% (l2 ${choice.l2}) on ${test.length} test pairs; ${taught.length} training pairs`);
    assert.ok(offline > WELL_ABOVE_CHANCE, `offline ${offline} well above chance (0.5): the features carry the task`);
    assert.ok(online > WELL_ABOVE_CHANCE, `online ${online} well above chance (0.5)`);
    assert.ok(online >= offline - 0.03, `online ${online} within 3 points of offline ${offline}`);
  });
});
