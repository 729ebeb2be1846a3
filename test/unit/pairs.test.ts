/** Sentence pairs in the core: encoding as Hugging Face does, type ids through the batcher into token_type_ids. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Tokenizer as HfTokenizer, type TruncationOptions } from "tokenizers";
import type { Batch, BatchOutput, BatchRunner } from "../../src/backends/batch-runner.js";
import { packInputs } from "../../src/backends/onnx/input-packing.js";
import { Batcher } from "../../src/core/batcher.js";
import { ServiceError } from "../../src/core/errors.js";
import { pairFeatures } from "../../src/core/pair-features.js";
import { encodePairs, zipPairs } from "../../src/core/pair-inputs.js";
import { PoolingMode } from "../../src/core/pooling.js";
import { BertTokenizer } from "../../src/core/tokenizer/index.js";

const MODEL = join(import.meta.dirname, "..", "..", "models", "default");
const tokenizerJson = readFileSync(join(MODEL, "tokenizer.json"), "utf8");
const texts = readFileSync(join(import.meta.dirname, "..", "fixtures", "debian-package-sections", "test.jsonl"), "utf8")
  .trim()
  .split("\n")
  .slice(0, 120)
  .map((line) => (JSON.parse(line) as { text: string }).text);

const STRATEGY = { longest_first: "LongestFirst", only_first: "OnlyFirst", only_second: "OnlySecond" } as const;

describe("encodePairs", () => {
  it("gives Hugging Face's ids and type ids for (text, text_pair), under each truncation strategy", async () => {
    const ours = BertTokenizer.fromDirectory(MODEL);
    const hf = HfTokenizer.fromString(tokenizerJson);
    const pairs = texts.slice(0, 60).map((text, i) => ({ text, textPair: `${texts[60 + i]} ${texts[(i * 7) % 120]}` }));
    for (const [strategy, maxLength] of [["longest_first", 16], ["longest_first", 512], ["only_second", 24]] as const) {
      hf.setTruncation(maxLength, { strategy: STRATEGY[strategy] as TruncationOptions["strategy"], direction: "right" });
      const { encoded, tokens } = encodePairs(ours, pairs, maxLength, { side: "right", strategy });
      let total = 0;
      for (let i = 0; i < pairs.length; i++) {
        const reference = await hf.encode(pairs[i].text, pairs[i].textPair);
        assert.deepEqual(Array.from(encoded[i].ids), reference.getIds(), `${strategy} ${maxLength} ids of pair ${i}`);
        assert.deepEqual(Array.from(encoded[i].typeIds), reference.getTypeIds(), `${strategy} ${maxLength} type ids of pair ${i}`);
        total += reference.getIds().length;
      }
      assert.equal(tokens, total);
    }
    const first = encodePairs(ours, [{ text: "a dog", textPair: "a cat" }], 512, { side: "right" }).encoded[0];
    assert.equal(first.ids[0], ours.specialIds.cls);
    assert.deepEqual(Array.from(first.typeIds), [0, 0, 0, 0, 1, 1, 1]);
  });

  it("rejects, naming the pair, what truncation NONE or a strategy cannot fit", () => {
    const ours = BertTokenizer.fromDirectory(MODEL);
    const long = { text: texts[0], textPair: texts[1] };
    assert.throws(
      () => encodePairs(ours, [{ text: "ok", textPair: "ok" }, long], 8, { side: "none" }),
      (error: unknown) => error instanceof ServiceError && error.kind === "invalid_argument" && /inputs\[1\].*over the model's maximum of 8.*NONE/.test(error.message),
    );
    assert.throws(
      () => encodePairs(ours, [{ text: "a", textPair: texts[2] }], 5, { side: "right", strategy: "only_first" }, "documents"),
      (error: unknown) => error instanceof ServiceError && error.kind === "invalid_argument" && /documents\[0\].*only_first/.test(error.message),
    );
  });

  it("zipPairs needs one pair per text", () => {
    assert.deepEqual(zipPairs(["a"], ["b"], "inputs", "text_pairs"), [{ text: "a", textPair: "b" }]);
    assert.throws(() => zipPairs(["a", "b"], ["c"], "inputs", "text_pairs"), /text_pairs has 1 texts and inputs 2/);
  });
});

describe("type ids on their way to token_type_ids", () => {
  it("packInputs writes each row's type ids, padded with 0, and zeros without them", () => {
    const ids = Int32Array.from([101, 5, 102, 6, 102, 101, 7, 102]);
    const typeIds = Int32Array.from([0, 0, 0, 1, 1, 0, 0, 0]);
    const lengths = Int32Array.from([5, 3]);
    const { feeds, sequence } = packInputs(ids, lengths, true, typeIds);
    assert.equal(sequence, 5);
    assert.deepEqual(Array.from(feeds.token_type_ids.data as BigInt64Array, Number), [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(packInputs(ids, lengths, true).feeds.token_type_ids.data as BigInt64Array, Number), new Array(10).fill(0));
    assert.equal(packInputs(ids, lengths, false, typeIds).feeds.token_type_ids, undefined);
  });

  it("the batcher carries a pair's type ids beside its ids, in a batch shared with single texts", async () => {
    const batches: Batch[] = [];
    const runner: BatchRunner = {
      idle: 1,
      onIdle() {},
      run(batch: Batch): Promise<BatchOutput> {
        batches.push(batch);
        return Promise.resolve({ pooled: new Float32Array(batch.lengths.length), hiddenSize: 1, labelCount: 0, inferenceMs: 0, poolingMs: 0 });
      },
    };
    const batcher = new Batcher(runner, { maxBatchTokens: 64, maxBackgroundBatchTokens: 64, maxBatchSize: 8, maxBatchDelayMs: 0, maxPaddingRatio: 4, maxQueueTokens: 1000, maxQueueRequests: 10 });
    const single = { ids: Int32Array.from([101, 9, 102]), mode: PoolingMode.mean };
    const pair = { ids: Int32Array.from([101, 5, 102, 6, 102]), typeIds: Int32Array.from([0, 0, 0, 1, 1]), mode: PoolingMode.mean };
    await batcher.submit([single, pair]);
    assert.equal(batches.length, 1);
    const [batch] = batches;
    let offset = 0;
    const rows = Array.from(batch.lengths, (length) => {
      const row = { ids: Array.from(batch.ids.subarray(offset, offset + length)), types: Array.from(batch.typeIds!.subarray(offset, offset + length)) };
      offset += length;
      return row;
    });
    assert.deepEqual(rows.find((row) => row.ids.length === 5)?.types, [0, 0, 0, 1, 1]);
    assert.deepEqual(rows.find((row) => row.ids.length === 3)?.types, [0, 0, 0]);
    await batcher.submit([single]);
    assert.equal(batches[1].typeIds, undefined);
  });
});

describe("pairFeatures", () => {
  it("is the joint vector, then u ⊙ v and |u − v| of the two texts' normalized vectors", () => {
    const joint = Float32Array.from([1, 2]);
    const features = pairFeatures(joint, Float32Array.from([3, 4]), Float32Array.from([0, 2]));
    const expected = [1, 2, 0, 0.8, 0.6, 0.2];
    assert.equal(features.length, 3 * joint.length);
    expected.forEach((value, i) => assert.ok(Math.abs(features[i] - value) < 1e-6, `features[${i}] ${features[i]} = ${value}`));
  });

  it("leaves an all-zero text vector at zero instead of dividing by its zero norm", () => {
    const features = pairFeatures(Float32Array.from([0, 0]), Float32Array.from([0, 0]), Float32Array.from([1, 0]));
    assert.deepEqual([...features], [0, 0, 0, 0, 1, 0]);
  });
});
