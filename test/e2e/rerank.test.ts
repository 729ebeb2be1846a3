/**
 * Rerank and pair Classify against a direct ONNX Runtime run on Hugging Face's pair encoding, for
 * cross-encoder exports with and without token_type_ids (classifier-only, as optimum exports them);
 * pair heads taught through Adapt; and the bad inputs, each with a status naming the problem.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";
import { startCli } from "../helpers/cli-process.js";
import { HeadType, Promotion } from "../../src/gen/bertd/v1/heads_pb.js";
import { TruncationStrategy } from "../../src/gen/bertd/v1/encoder_pb.js";
import { generateBertModel } from "../../tools/generator/index.js";
import { adapt, toyExamples, toyPairs } from "../helpers/adapt-client.js";
import { rejectsWithStatus as code } from "../helpers/assertions.js";
import { pairReference, sigmoid, softmax } from "../helpers/pair-reference.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

const TOLERANCE = 1e-5;
const descriptions = readFileSync(join(ROOT, "test", "fixtures", "debian-package-sections", "test.jsonl"), "utf8")
  .trim()
  .split("\n")
  .slice(0, 40)
  .map((line) => (JSON.parse(line) as { text: string }).text);
const query = "video editing and transcoding";
const documents = descriptions.slice(0, 7);

async function crossEncoder(tokenTypeIds: boolean, labels: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "bertd-cross-encoder-"));
  await generateBertModel({ outDir: dir, layers: 2, hidden: 64, heads: 2, intermediate: 128, seed: tokenTypeIds ? 11 : 12, labels, classifierOnly: true, tokenTypeIds, vocabDir: join(ROOT, "models", "default") });
  return dir;
}

for (const variant of [
  { name: "one logit, with token_type_ids", tokenTypeIds: true, labels: ["relevant"] },
  { name: "two classes, without token_type_ids", tokenTypeIds: false, labels: ["irrelevant", "relevant"] },
]) {
  describe(`Rerank with a classifier-only cross-encoder (${variant.name})`, () => {
    let dir: string;
    let server: ServerProcess;
    const score = (logits: Float32Array): number => (logits.length === 1 ? sigmoid(logits[0]) : softmax(logits)[1]);
    before(async () => {
      dir = await crossEncoder(variant.tokenTypeIds, variant.labels);
      server = await startServer(["--model-dir", dir, "--max-rerank-documents", "8", "--max-sequence-length", "40"]);
    });
    after(async () => {
      await server?.stop();
    });

    it("scores equal a direct ONNX Runtime run on Hugging Face's pair encoding, sorted best first; top_n and raw scores", async () => {
      const reference = await pairReference(dir, { maxLength: 40 });
      try {
        const expected = await Promise.all(documents.map((document) => reference.logits(query, document)));
        const response = await server.encoder().unary("rerank")({ query, documents, returnDocuments: true });
        assert.equal(response.ranks.length, documents.length);
        assert.equal(response.head, "model");
        for (const rank of response.ranks) {
          assert.ok(Math.abs(rank.score - score(expected[rank.index])) < TOLERANCE, `document ${rank.index}: ${rank.score} vs ${score(expected[rank.index])}`);
          assert.equal(rank.document, documents[rank.index]);
        }
        const order = expected.map((logits, i) => ({ i, s: score(logits) })).sort((a, b) => b.s - a.s || a.i - b.i).map((r) => r.i);
        assert.deepEqual(response.ranks.map((r) => r.index), order);
        let tokens = 0;
        for (const document of documents) tokens += (await reference.encode(query, document)).ids.length;
        assert.equal(response.usage?.inputTokens, tokens);

        const top = await server.encoder().unary("rerank")({ query, documents, topN: 3, rawScores: true });
        assert.deepEqual(top.ranks.map((r) => r.index), order.slice(0, 3));
        for (const rank of top.ranks) {
          const logits = expected[rank.index];
          const raw = logits.length === 1 ? logits[0] : logits[1] - logits[0];
          assert.ok(Math.abs(rank.score - raw) < TOLERANCE, `raw score of ${rank.index}`);
          assert.equal(rank.document, undefined);
        }
      } finally {
        await reference.release();
      }
    });

    it("truncates long pairs as Hugging Face does (longest_first; only_second keeps the query)", async () => {
      const long = descriptions.slice(10, 14).map((d, i) => `${d} ${descriptions[20 + i]} ${descriptions[30 + i]}`);
      const longQuery = `${descriptions[5]} ${descriptions[6]}`;
      for (const [strategy, wire] of [["longest_first", TruncationStrategy.UNSPECIFIED], ["only_second", TruncationStrategy.ONLY_SECOND]] as const) {
        const reference = await pairReference(dir, { maxLength: 40, strategy });
        try {
          const response = await server.encoder().unary("rerank")({ query: longQuery, documents: long, truncationStrategy: wire });
          for (const rank of response.ranks) {
            const expected = score(await reference.logits(longQuery, long[rank.index]));
            assert.ok(Math.abs(rank.score - expected) < TOLERANCE, `${strategy} document ${rank.index}`);
          }
        } finally {
          await reference.release();
        }
      }
    });

    it("pair Classify with head \"model\" gives the classifier's probabilities of each pair; Tokenize gives HF's ids and type ids", async () => {
      const reference = await pairReference(dir, { maxLength: 40 });
      try {
        const inputs = descriptions.slice(0, 4);
        const textPairs = descriptions.slice(4, 8);
        const response = await server.encoder().unary("classify")({ head: "model", inputs, textPairs });
        for (let i = 0; i < inputs.length; i++) {
          const logits = await reference.logits(inputs[i], textPairs[i]);
          const probabilities = softmax(logits);
          for (const { label, score: got } of response.predictions[i].labels) {
            assert.ok(Math.abs(got - probabilities[variant.labels.indexOf(label)]) < TOLERANCE, `pair ${i} ${label}`);
          }
        }
        const tokenized = await server.encoder().unary("tokenize")({ inputs, textPairs, addSpecialTokens: true });
        const untruncated = await pairReference(dir);
        try {
          for (let i = 0; i < inputs.length; i++) {
            const expected = await untruncated.encode(inputs[i], textPairs[i]);
            assert.deepEqual(tokenized.encodings[i].ids, expected.ids);
            assert.deepEqual(tokenized.encodings[i].typeIds, expected.typeIds);
          }
        } finally {
          await untruncated.release();
        }
      } finally {
        await reference.release();
      }
    });

    it("says it is classifier-only, and Embed, Tag and Adapt answer FAILED_PRECONDITION saying why", async () => {
      const info = await server.encoder().unary("getModelInfo")({});
      assert.equal(info.classifierOnly, true);
      const why = /classifier-only export.*no last_hidden_state/;
      await code(server.encoder().unary("embed")({ inputs: ["x"] }), status.FAILED_PRECONDITION, why);
      await code(server.encoder().unary("tag")({ head: "ner", texts: ["x"] }), status.FAILED_PRECONDITION, why);
      await code(adapt(server.heads(), { head: "h", labels: ["sport", "food"] }, toyExamples(4)), status.FAILED_PRECONDITION, why);
      const list = await server.heads().unary("listHeads")({});
      assert.deepEqual(list.heads.find((h) => h.name === "model")?.labels, variant.labels);
    });

    it("bertd rerank prints the server's ranks", async () => {
      const run = await startCli(["rerank", "--json", "--top-n", "4", query, ...documents], { BERTD_ADDRESS: server.address, BERTD_API_KEY: "", BERTD_TLS_CA: "" }).output;
      assert.equal(run.code, 0, run.stderr);
      const printed = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { index: number; score: number; document: string });
      const response = await server.encoder().unary("rerank")({ query, documents, topN: 4 });
      assert.deepEqual(printed.map((r) => r.index), response.ranks.map((r) => r.index));
      assert.equal(printed[0].document, documents[response.ranks[0].index]);
    });

    it("bad input: empty query, no documents, too many, unknown truncation strategy", async () => {
      const rerank = server.encoder().unary("rerank");
      await code(rerank({ query: "", documents }), status.INVALID_ARGUMENT, /query is empty/);
      await code(rerank({ query, documents: [] }), status.INVALID_ARGUMENT, /documents is empty/);
      await code(rerank({ query, documents: new Array<string>(9).fill("x") }), status.INVALID_ARGUMENT, /documents has 9 texts, over the limit of 8 .*--max-rerank-documents/);
      await code(rerank({ query, documents, truncationStrategy: 9 as TruncationStrategy }), status.INVALID_ARGUMENT, /truncation_strategy: unknown value 9/);
      await code(server.encoder().unary("classify")({ head: "model", inputs: ["a", "b"], textPairs: ["c"] }), status.INVALID_ARGUMENT, /text_pairs has 1 texts and inputs 2/);
      assert.equal((await rerank({ query, documents: ["still serving"] })).ranks.length, 1);
    });
  });
}

function stateOf(dataDir: string, head: string, version: number): Buffer {
  const db = new Database(join(dataDir, "heads.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT state FROM versions WHERE head = ? AND version = ?").get(head, version) as { state: Buffer }).state;
  } finally {
    db.close();
  }
}

describe("pair heads taught through Adapt", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bertd-pair-heads-"));
  const HYPER = { seed: 5n, replayPasses: 2, holdoutFraction: 0.2 };
  const config = { labels: ["same", "different"], pair: true, hyperparameters: HYPER, promotion: Promotion.ALWAYS };
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--data-dir", dataDir]);
    await adapt(server.heads(), { ...config, head: "dup" }, toyPairs(60, "d", 3));
    await adapt(server.heads(), { head: "topics", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(30));
  });
  after(async () => {
    await server?.stop();
  });

  it("is a pair head in ListHeads and GetHead, and ranks with Rerank as its Classify scores the pairs", async () => {
    const list = await server.heads().unary("listHeads")({});
    assert.equal(list.heads.find((h) => h.name === "dup")?.pair, true);
    assert.equal(list.heads.find((h) => h.name === "topics")?.pair, false);
    assert.equal((await server.heads().unary("getHead")({ head: "dup" })).head?.pair, true);
    const docs = toyPairs(6, "q", 9).map((p) => p.textPair);
    const q = "football match goal team";
    const ranked = await server.encoder().unary("rerank")({ query: q, documents: docs, head: "dup", label: "same" });
    assert.equal(ranked.head, "dup");
    assert.equal(ranked.headVersion, 1);
    const classified = await server.encoder().unary("classify")({ head: "dup", inputs: docs.map(() => q), textPairs: docs, topK: 0 });
    for (const rank of ranked.ranks) {
      const same = classified.predictions[rank.index].labels.find((l) => l.label === "same")!.score;
      assert.ok(Math.abs(rank.score - same) < 1e-6, `document ${rank.index}`);
    }
    for (let i = 1; i < ranked.ranks.length; i++) assert.ok(ranked.ranks[i - 1].score >= ranked.ranks[i].score);
  });

  it("refuses a pair sent to a single-text head and single texts sent to a pair head, naming the head", async () => {
    const encoder = server.encoder();
    await code(encoder.unary("classify")({ head: "topics", inputs: ["goal"], textPairs: ["oven"] }), status.FAILED_PRECONDITION, /head "topics" is a single-text head/);
    await code(encoder.unary("classify")({ head: "dup", inputs: ["goal"] }), status.FAILED_PRECONDITION, /head "dup" is a pair head: send text_pairs/);
    await code(encoder.unary("rerank")({ query: "goal", documents: ["oven"], head: "topics", label: "sport" }), status.FAILED_PRECONDITION, /head "topics" is a single-text head: Rerank needs a pair head/);
    await code(encoder.unary("rerank")({ query: "goal", documents: ["oven"], head: "dup" }), status.INVALID_ARGUMENT, /label is empty.*same, different/);
    await code(encoder.unary("rerank")({ query: "goal", documents: ["oven"], head: "dup", label: "maybe" }), status.INVALID_ARGUMENT, /label "maybe" is not one of/);
    await code(encoder.unary("rerank")({ query: "goal", documents: ["oven"] }), status.FAILED_PRECONDITION, /not a cross-encoder.*pair head/);
    await code(adapt(server.heads(), { ...config, head: "dup" }, [{ id: "x", text: "goal", labels: ["same"] }]), status.INVALID_ARGUMENT, /example "x" has no text_pair.*pair head/);
    await code(adapt(server.heads(), { head: "topics", labels: ["sport", "food"] }, [{ id: "y", text: "goal", textPair: "oven", labels: ["sport"] }]), status.INVALID_ARGUMENT, /example "y" sets text_pair.*single-text head/);
    await code(adapt(server.heads(), { head: "topics", labels: ["sport", "food"], pair: true }, []), status.FAILED_PRECONDITION, /head "topics" is a single-text head \(fixed at creation\)/);
    await code(adapt(server.heads(), { ...config, head: "dup", pair: false }, []), status.FAILED_PRECONDITION, /head "dup" is a pair head \(fixed at creation\)/);
    await code(adapt(server.heads(), { head: "tagger", type: HeadType.TOKEN, labels: ["B-X"], pair: true }, []), status.INVALID_ARGUMENT, /config.pair: a TOKEN head/);
  });

  it("the CLI teaches a pair head from --text-field/--pair-field, classifies --pair and reranks with it", async () => {
    const env = { BERTD_ADDRESS: server.address, BERTD_API_KEY: "", BERTD_TLS_CA: "" };
    const file = join(mkdtempSync(join(tmpdir(), "bertd-pairs-cli-")), "pairs.jsonl");
    writeFileSync(file, toyPairs(40, "c", 21).map((p) => JSON.stringify({ a: p.text, b: p.textPair, label: p.labels[0] })).join("\n") + "\n");
    const taught = await startCli(["teach", "--head", "cli-pairs", "--file", file, "--text-field", "a", "--pair-field", "b", "--no-plot", "--json", "--promotion", "always"], env).output;
    assert.equal(taught.code, 0, taught.stderr);
    assert.equal((await server.heads().unary("getHead")({ head: "cli-pairs" })).head?.pair, true);
    const classified = await startCli(["classify", "--head", "cli-pairs", "--pair", "--json", "goal match", "football team", "oven flour", "goal score"], env).output;
    assert.equal(classified.code, 0, classified.stderr);
    const lines = classified.stdout.trim().split("\n").map((line) => JSON.parse(line) as { text: string; text_pair: string; labels: { label: string; score: number }[] });
    assert.deepEqual(lines.map((l) => [l.text, l.text_pair]), [["goal match", "football team"], ["oven flour", "goal score"]]);
    const direct = await server.encoder().unary("classify")({ head: "cli-pairs", inputs: ["goal match", "oven flour"], textPairs: ["football team", "goal score"], topK: 3 });
    assert.ok(Math.abs(lines[1].labels[0].score - direct.predictions[1].labels[0].score) < 1e-6);
    const odd = await startCli(["classify", "--head", "cli-pairs", "--pair", "a", "b", "c"], env).output;
    assert.equal(odd.code, 2);
    assert.match(odd.stderr, /two by two/);
    const ranked = await startCli(["rerank", "--head", "cli-pairs", "--label", "same", "--json", "goal match", "football team", "oven flour"], env).output;
    assert.equal(ranked.code, 0, ranked.stderr);
    assert.equal(ranked.stdout.trim().split("\n").length, 2);
  });

  it("gives bit-identical weights for the same pairs and seed, and across a restart (resume)", async () => {
    const a = toyPairs(40, "a", 13);
    const b = toyPairs(40, "b", 17);
    await adapt(server.heads(), { ...config, head: "twin1" }, a);
    await adapt(server.heads(), { ...config, head: "twin2" }, a);
    assert.deepEqual(stateOf(dataDir, "twin1", 1), stateOf(dataDir, "twin2", 1));
    await adapt(server.heads(), { ...config, head: "onego" }, [...a, "commit", ...b]);
    await adapt(server.heads(), { ...config, head: "resumed" }, a);
    await server.stop();
    server = await startServer(["--data-dir", dataDir]);
    await adapt(server.heads(), { ...config, head: "resumed" }, b);
    assert.deepEqual(stateOf(dataDir, "resumed", 2), stateOf(dataDir, "onego", 2));
    assert.equal((await server.encoder().unary("classify")({ head: "resumed", inputs: ["goal"], textPairs: ["match"] })).headVersion, 2);
  });
});
