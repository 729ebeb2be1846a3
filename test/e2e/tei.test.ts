import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { ServiceClient, type ClientOptions } from "../../src/client/grpc-client.js";
import { Pooling, Truncation } from "../../src/gen/bertd/v1/encoder_pb.js";
import { Embed, Info, ModelType, Predict, Rerank, Tokenize, TruncationDirection } from "../../src/gen/tei/v1/tei_pb.js";
import { newApiKey } from "../../src/transport/auth/key-store.js";
import { generateBertModel } from "../../tools/generator/index.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { rejectsWithStatus as rejects } from "../helpers/assertions.js";
import { maxAbsDiff } from "../helpers/reference.js";
import { RANDOM_MODEL_DIR, startServer, type ServerProcess } from "../helpers/server-process.js";
import { healthClient, listServices } from "../helpers/standard-clients.js";
import { eventually } from "../helpers/eventually.js";
import { scrapeMetrics } from "../helpers/metrics.js";

const TEXTS = [
  "generic visualization tool (Gantt chart and more)",
  "ball-and-paddle game with nice graphics",
  "x",
  "Café naïve — 日本語のテキスト and emoji 🎉 mixed with PUNCTUATION!!!",
  "log changes on tables and restore tables to point in time ".repeat(6),
];
const LONG = "tokenization of a very long description ".repeat(200);
const PROMPTS = { query: "query: ", passage: "passage: " };

/** random-tiny with a sentence-transformers config that has prompts. */
function modelWithPrompts(): string {
  const dir = mkdtempSync(join(tmpdir(), "bertd-tei-model-"));
  for (const file of readdirSync(RANDOM_MODEL_DIR)) copyFileSync(join(RANDOM_MODEL_DIR, file), join(dir, file));
  writeFileSync(join(dir, "config_sentence_transformers.json"), JSON.stringify({ prompts: PROMPTS, default_prompt_name: null }));
  return dir;
}

type Init<S extends DescService, K extends keyof S["method"]> = MessageInitShape<S["method"][K]["input"]>;
type Out<S extends DescService, K extends keyof S["method"]> = MessageShape<S["method"][K]["output"]>;

/** A unary call with its response headers (initial metadata), as a TEI client reads x-* timings. */
function withHeaders<S extends DescService, K extends keyof S["method"] & string>(client: ServiceClient<S>, name: K, request: Init<S, K>, metadata = new Metadata()): Promise<{ response: Out<S, K>; headers: Record<string, unknown> }> {
  const method = client.service.method[name];
  return new Promise((resolve, reject) => {
    let headers: Record<string, unknown> = {};
    const call = (client.raw as unknown as Record<string, (...args: unknown[]) => NodeJS.EventEmitter>)[method.name].call(
      client.raw,
      create(method.input, request as MessageInitShape<DescMessage>),
      metadata,
      (error: ServiceError | null, response: Out<S, K>) => (error ? reject(error) : resolve({ response, headers })),
    );
    call.on("metadata", (m: Metadata) => (headers = m.getMap()));
  });
}

/** Writes every request on a stream, ends it, and collects the responses and the final error. */
function streamAll<S extends DescService, K extends keyof S["method"] & string>(client: ServiceClient<S>, name: K, requests: Init<S, K>[], metadata?: Metadata): Promise<{ responses: Out<S, K>[]; error?: ServiceError }> {
  const method = client.service.method[name];
  const call = client.stream(name, { metadata });
  const responses: Out<S, K>[] = [];
  return new Promise((resolve) => {
    call.on("data", (response: Out<S, K>) => responses.push(response));
    call.on("error", (error: ServiceError) => resolve({ responses, error }));
    call.on("end", () => resolve({ responses }));
    for (const request of requests) call.write(create(method.input, request as MessageInitShape<DescMessage>) as never);
    call.end();
  });
}

function clients(server: ServerProcess, options?: ClientOptions) {
  return {
    info: new ServiceClient(Info, server.address, options),
    embed: new ServiceClient(Embed, server.address, options),
    predict: new ServiceClient(Predict, server.address, options),
    rerank: new ServiceClient(Rerank, server.address, options),
    tokenize: new ServiceClient(Tokenize, server.address, options),
    close() {
      for (const client of [this.info, this.embed, this.predict, this.rerank, this.tokenize]) client.close();
    },
  };
}

function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const exp = row.map((x) => Math.exp(x - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((x) => x / sum);
}

describe("tei.v1 on an embedding model", () => {
  let server: ServerProcess;
  let tei: ReturnType<typeof clients>;

  before(async () => {
    server = await startServer(["--model-dir", modelWithPrompts(), "--no-warmup", "--max-client-batch-size", "16"]);
    tei = clients(server);
  });
  after(async () => {
    tei?.close();
    if (server) assert.equal(await server.stop(), 0);
  });

  it("Info: TEI's fields, the model type EMBEDDING, bertd's limits", async () => {
    const info = await tei.info.unary("info")({});
    assert.equal(info.modelType, ModelType.EMBEDDING);
    assert.match(info.version, /^\d+\.\d+\.\d+/);
    assert.match(info.modelSha ?? "", /^[0-9a-f]{64}$/);
    assert.equal(info.modelDtype, "float32");
    assert.equal(info.maxInputLength, 512);
    assert.equal(info.maxBatchTokens, 8192);
    assert.equal(info.maxBatchRequests, 128);
    assert.equal(info.maxClientBatchSize, 16);
    assert.equal(info.maxConcurrentRequests, 2048);
    assert.ok(info.modelId.length > 0);
  });

  it("Embed equals bertd.v1.Encoder/Embed for the same options (normalize unset = true, dimensions, truncation direction)", async () => {
    const bertd = server.encoder().unary("embed");
    const cases = [
      { tei: {}, bertd: { normalize: true } },
      { tei: { normalize: false }, bertd: { normalize: false } },
      { tei: { normalize: true, dimensions: 16 }, bertd: { normalize: true, dimensions: 16 } },
      { tei: { normalize: false, dimensions: 8 }, bertd: { normalize: false, dimensions: 8 } },
    ];
    await Promise.all(
      cases.flatMap((options) =>
        TEXTS.map(async (text) => {
          const [ours, theirs] = await Promise.all([tei.embed.unary("embed")({ inputs: text, ...options.tei }), bertd({ inputs: [text], pooling: Pooling.UNSPECIFIED, ...options.bertd })]);
          assert.equal(ours.embeddings.length, theirs.dimensions);
          assert.ok(maxAbsDiff(ours.embeddings, theirs.embeddings[0].values) <= 1e-6, `${JSON.stringify(options.tei)} ${text.slice(0, 20)}`);
        }),
      ),
    );
    for (const [direction, truncation] of [
      [TruncationDirection.RIGHT, Truncation.RIGHT],
      [TruncationDirection.LEFT, Truncation.LEFT],
    ] as const) {
      const ours = await tei.embed.unary("embed")({ inputs: LONG, truncate: true, truncationDirection: direction });
      const theirs = await bertd({ inputs: [LONG], normalize: true, truncation });
      assert.ok(maxAbsDiff(ours.embeddings, theirs.embeddings[0].values) <= 1e-6, `direction ${direction}`);
      assert.equal(ours.metadata?.computeTokens, 512);
    }
  });

  it("Embed: metadata and x-* headers carry the call's characters, tokens and stage times", async () => {
    const text = "Café 🎉";
    const { response, headers } = await withHeaders(tei.embed, "embed", { inputs: text });
    const tokens = (await tei.tokenize.unary("tokenize")({ inputs: text, addSpecialTokens: true })).tokens.length;
    const metadata = response.metadata!;
    assert.equal(metadata.computeChars, 6); // code points, as TEI counts them (🎉 is two UTF-16 units)
    assert.equal(metadata.computeTokens, tokens);
    assert.ok(metadata.totalTimeNs > 0n && metadata.inferenceTimeNs > 0n && metadata.tokenizationTimeNs > 0n);
    assert.ok(metadata.totalTimeNs >= metadata.inferenceTimeNs + metadata.queueTimeNs);
    assert.equal(headers["x-compute-type"], "cpu");
    assert.equal(headers["x-compute-characters"], "6");
    assert.equal(headers["x-compute-tokens"], String(tokens));
    for (const name of ["x-compute-time", "x-total-time", "x-tokenization-time", "x-queue-time", "x-inference-time"]) assert.match(String(headers[name]), /^\d+$/, name);
  });

  it("Embed: truncate false and too long is TEI's INVALID_ARGUMENT; an empty input too; dimensions 0 or too many", async () => {
    const embed = tei.embed.unary("embed");
    await rejects(embed({ inputs: LONG }), status.INVALID_ARGUMENT, /^Input validation error: `inputs` must have less than 512 tokens\. Given: 1\d{3}$/);
    await rejects(embed({ inputs: "" }), status.INVALID_ARGUMENT, /`inputs` cannot be empty/);
    await rejects(embed({ inputs: "x", dimensions: 0 }), status.INVALID_ARGUMENT, /`dimensions` should be positive/);
    await rejects(embed({ inputs: "x", dimensions: 129 }), status.INVALID_ARGUMENT, /`dimensions` should be smaller than the maximum embedding dimension/);
    await rejects(embed({ inputs: "x", truncationDirection: 7 as TruncationDirection }), status.INVALID_ARGUMENT, /truncation_direction: unknown value 7/);
    // The server is still up.
    assert.equal((await embed({ inputs: "x" })).embeddings.length, 128);
  });

  it("Embed and Tokenize: prompt_name puts the model's sentence-transformers prompt before the input", async () => {
    const [prompted, spelled] = await Promise.all([tei.embed.unary("embed")({ inputs: "a chess game", promptName: "query" }), tei.embed.unary("embed")({ inputs: "query: a chess game" })]);
    assert.ok(maxAbsDiff(prompted.embeddings, spelled.embeddings) <= 1e-6);
    assert.equal(prompted.metadata?.computeChars, "query: a chess game".length);
    const plain = await tei.embed.unary("embed")({ inputs: "a chess game" });
    assert.ok(maxAbsDiff(prompted.embeddings, plain.embeddings) > 1e-3);
    const tokens = await tei.tokenize.unary("tokenize")({ inputs: "a chess game", promptName: "passage" });
    assert.deepEqual(
      tokens.tokens.map((t) => t.text),
      ["passage", ":", "a", "chess", "game"],
    );
    await rejects(tei.embed.unary("embed")({ inputs: "x", promptName: "nope" }), status.INVALID_ARGUMENT, /prompt_name "nope" is not one of the model's prompts: "query", "passage"/);
  });

  it("EmbedStream: answers in request order, under concurrency, each equal to its unary Embed", async () => {
    const want = await Promise.all(TEXTS.map((text) => tei.embed.unary("embed")({ inputs: text })));
    const streams = await Promise.all(
      Array.from({ length: 4 }, (_, s) => {
        // Each stream sends the texts in its own order, 60 messages: many in flight at once.
        const order = Array.from({ length: 60 }, (_, i) => (i * (s + 2) + s) % TEXTS.length);
        return streamAll(tei.embed, "embedStream", order.map((i) => ({ inputs: TEXTS[i] }))).then((result) => ({ result, order }));
      }),
    );
    for (const { result, order } of streams) {
      assert.equal(result.error, undefined);
      assert.equal(result.responses.length, order.length);
      result.responses.forEach((response, i) => assert.ok(maxAbsDiff(response.embeddings, want[order[i]].embeddings) <= 1e-6, `message ${i}`));
      assert.ok(result.responses.every((r) => r.metadata && r.metadata.computeTokens > 0));
    }
  });

  it("EmbedStream: the first failing message ends the stream with its status, after the answers before it", async () => {
    const { responses, error } = await streamAll(tei.embed, "embedStream", [{ inputs: "one" }, { inputs: "two" }, { inputs: LONG }, { inputs: "four" }, { inputs: "five" }]);
    assert.equal(responses.length, 2);
    assert.equal(error?.code, status.INVALID_ARGUMENT);
    assert.match(error?.details ?? "", /must have less than 512 tokens/);
    const empty = await streamAll(tei.embed, "embedStream", []);
    assert.deepEqual(empty, { responses: [] });
  });

  it("EmbedAll and EmbedAllStream: every token's last hidden state; their mean is bertd's MEAN pooling", async () => {
    for (const text of TEXTS.slice(0, 4)) {
      const all = await tei.embed.unary("embedAll")({ inputs: text });
      const tokens = (await tei.tokenize.unary("tokenize")({ inputs: text, addSpecialTokens: true })).tokens.length;
      assert.equal(all.tokenEmbeddings.length, tokens);
      assert.equal(all.metadata?.computeTokens, tokens);
      const mean = new Array<number>(128).fill(0);
      for (const row of all.tokenEmbeddings) row.embeddings.forEach((v, h) => (mean[h] += v / tokens));
      const bertd = await server.encoder().unary("embed")({ inputs: [text], pooling: Pooling.MEAN, normalize: false });
      assert.ok(maxAbsDiff(mean, bertd.embeddings[0].values) <= 1e-5, text);
    }
    const stream = await streamAll(tei.embed, "embedAllStream", [{ inputs: "a" }, { inputs: "a b c" }]);
    assert.deepEqual(
      stream.responses.map((r) => r.tokenEmbeddings.length),
      [3, 5],
    );
    await rejects(tei.embed.unary("embedAll")({ inputs: LONG }), status.INVALID_ARGUMENT, /must have less than 512 tokens/);
  });

  it("EmbedSparse: FAILED_PRECONDITION (no SPLADE), unary and stream", async () => {
    await rejects(tei.embed.unary("embedSparse")({ inputs: "x" }), status.FAILED_PRECONDITION, /not an embedding model with SPLADE pooling/);
    const { responses, error } = await streamAll(tei.embed, "embedSparseStream", [{ inputs: "x" }]);
    assert.equal(responses.length, 0);
    assert.equal(error?.code, status.FAILED_PRECONDITION);
  });

  it("Tokenize, TokenizeStream, Decode, DecodeStream: TEI's tokens (byte offsets, special tokens) and text back", async () => {
    const text = "Héllo, wörld 🎉!";
    const { tokens } = await tei.tokenize.unary("tokenize")({ inputs: text, addSpecialTokens: true });
    assert.equal(tokens[0].text, "[CLS]");
    assert.equal(tokens[0].special, true);
    assert.equal(tokens[0].start, undefined);
    assert.equal(tokens[0].stop, undefined);
    assert.equal(tokens.at(-1)?.text, "[SEP]");
    const bytes = Buffer.from(text, "utf8");
    for (const token of tokens.slice(1, -1)) {
      assert.equal(token.special, false);
      assert.equal(bytes.subarray(token.start, token.stop).toString("utf8"), token.text);
    }
    const bertd = await server.encoder().unary("tokenize")({ inputs: [text], addSpecialTokens: true });
    assert.deepEqual(
      tokens.map((t) => t.id),
      bertd.encodings[0].ids,
    );
    const withoutSpecial = await tei.tokenize.unary("tokenize")({ inputs: text });
    assert.equal(withoutSpecial.tokens.length, tokens.length - 2);
    const ids = tokens.map((t) => t.id);
    assert.equal((await tei.tokenize.unary("decode")({ ids, skipSpecialTokens: true })).text, "hello, world!");
    assert.match((await tei.tokenize.unary("decode")({ ids, skipSpecialTokens: false })).text, /^\[CLS\] hello, world \[UNK\]! \[SEP\]$/);
    // Ids outside the vocabulary are left out, as Hugging Face's decode leaves them.
    assert.equal((await tei.tokenize.unary("decode")({ ids: [7592, 999999] })).text, "hello");
    await rejects(tei.tokenize.unary("decode")({ ids: [] }), status.INVALID_ARGUMENT, /`input_ids` cannot be empty/);
    await rejects(tei.tokenize.unary("tokenize")({ inputs: "" }), status.INVALID_ARGUMENT, /`inputs` cannot be empty/);
    const stream = await streamAll(tei.tokenize, "tokenizeStream", ["a", "b c", "d e f"].map((inputs) => ({ inputs })));
    assert.deepEqual(
      stream.responses.map((r) => r.tokens.length),
      [1, 2, 3],
    );
    const decoded = await streamAll(tei.tokenize, "decodeStream", [{ ids: [7592] }, { ids: [] }, { ids: [7592] }]);
    assert.deepEqual(
      decoded.responses.map((r) => r.text),
      ["hello"],
    );
    assert.equal(decoded.error?.code, status.INVALID_ARGUMENT);
  });

  it("Predict: FAILED_PRECONDITION without a classifier; with x-bertd-head, a bertd head's every label sorted, raw_scores its logits", async () => {
    await rejects(tei.predict.unary("predict")({ inputs: "x" }), status.FAILED_PRECONDITION, /Model is not a classifier model/);
    const taught = await adapt(server.heads(), { head: "topics", labels: ["sport", "food", "music"] }, [...toyExamples(60, ["sport", "food", "music"]), "commit"]);
    assert.equal(taught.committed.length, 1);
    const metadata = new Metadata();
    metadata.set("x-bertd-head", "topics");
    const text = "guitar song drum concert";
    const { response, headers } = await withHeaders(tei.predict, "predict", { inputs: text }, metadata);
    assert.deepEqual(response.predictions.map((p) => p.label).sort(), ["food", "music", "sport"]);
    const scores = response.predictions.map((p) => p.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
    const classified = await server.encoder().unary("classify")({ head: "topics", inputs: [text] });
    for (const { label, score } of classified.predictions[0].labels) assert.ok(Math.abs(response.predictions.find((p) => p.label === label)!.score - score) < 1e-6, label);
    assert.match(String(headers["x-inference-time"]), /^\d+$/);
    const raw = await withHeaders(tei.predict, "predict", { inputs: text, rawScores: true }, metadata);
    const rawByLabel = Object.fromEntries(raw.response.predictions.map((p) => [p.label, p.score]));
    const labels = ["sport", "food", "music"];
    const probabilities = softmax(labels.map((l) => rawByLabel[l]));
    labels.forEach((label, i) => assert.ok(Math.abs(probabilities[i] - response.predictions.find((p) => p.label === label)!.score) < 1e-5, label));
    const food = await server.encoder().unary("classify")({ head: "topics", inputs: ["oven flour sugar"] });
    const stream = await streamAll(tei.predict, "predictStream", [{ inputs: text }, { inputs: "oven flour sugar" }], metadata);
    assert.deepEqual(
      stream.responses.map((r) => r.predictions[0].label),
      [response.predictions[0].label, food.predictions[0].labels[0].label],
    );
    const missing = new Metadata();
    missing.set("x-bertd-head", "nope");
    await rejects(withHeaders(tei.predict, "predict", { inputs: text }, missing), status.NOT_FOUND, /nope/);
    await rejects(tei.predict.unary("predictPair")({ inputs: ["a", "b", "c"] }), status.INVALID_ARGUMENT, /`inputs` must have a single or two elements\. Given: 3/);
    await rejects(tei.predict.unary("predictPair")({ inputs: ["a", "b"] }), status.FAILED_PRECONDITION, /not a classifier model/);
  });

  it("Rerank: TEI's order of checks on an embedding model", async () => {
    await rejects(tei.rerank.unary("rerank")({ query: "q", texts: [] }), status.INVALID_ARGUMENT, /`texts` cannot be empty/);
    await rejects(tei.rerank.unary("rerank")({ query: "q", texts: ["a"] }), status.FAILED_PRECONDITION, /model is not a classifier model/);
  });

  it("health reports each tei.v1 service; reflection lists them; metrics label methods tei.v1.*", async () => {
    const health = healthClient(server.address);
    try {
      const statuses = Object.fromEntries(await Promise.all(["tei.v1.Info", "tei.v1.Embed", "tei.v1.Tokenize", "tei.v1.Predict", "tei.v1.Rerank", "bertd.v1.Encoder", ""].map(async (name): Promise<[string, string]> => [name, await health.check(name)])));
      assert.deepEqual(statuses, {
        "tei.v1.Info": "SERVING",
        "tei.v1.Embed": "SERVING",
        "tei.v1.Tokenize": "SERVING",
        "tei.v1.Predict": "NOT_SERVING",
        "tei.v1.Rerank": "NOT_SERVING",
        "bertd.v1.Encoder": "SERVING",
        "": "SERVING",
      });
    } finally {
      health.close();
    }
    const services = await listServices(server.address, "v1");
    for (const name of ["tei.v1.Info", "tei.v1.Embed", "tei.v1.Predict", "tei.v1.Rerank", "tei.v1.Tokenize", "bertd.v1.Encoder"]) assert.ok(services.includes(name), name);
    // This test's own tei.v1 calls (it must pass alone): one Embed, one EmbedStream.
    assert.ok((await tei.embed.unary("embed")({ inputs: "counted" })).embeddings.length > 0);
    assert.equal((await streamAll(tei.embed, "embedStream", [{ inputs: "counted" }])).error, undefined);
    const metrics = await scrapeMetrics(server);
    for (const method of ["Embed", "EmbedStream"]) assert.ok(metrics.count("bertd_requests_total", { service: "tei.v1.Embed", method: `/tei.v1.Embed/${method}`, code: "OK" }) >= 1, method);
    assert.ok(metrics.count("bertd_stage_duration_seconds_count", { method: "/tei.v1.Embed/Embed", stage: "inference" }) >= 1);
    await eventually(() => server.logs.some((line) => line.method === "/tei.v1.Embed/Embed" && line.status === "OK"), "a tei.v1 call is logged");
  });
});

describe("tei.v1 on models that classify", () => {
  it("a classifier (3 labels): Info CLASSIFIER, Predict = the model's softmax with every label sorted, raw_scores the logits, Rerank not a re-ranker", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bertd-tei-classifier-"));
    const labels = ["negative", "neutral", "positive"];
    await generateBertModel({ outDir: dir, layers: 1, hidden: 32, heads: 2, intermediate: 64, seed: 5, labels });
    const server = await startServer(["--model-dir", dir, "--no-warmup"]);
    const tei = clients(server);
    try {
      assert.equal((await tei.info.unary("info")({})).modelType, ModelType.CLASSIFIER);
      const text = "a wonderful day";
      const [predicted, raw, classified] = await Promise.all([
        tei.predict.unary("predict")({ inputs: text }),
        tei.predict.unary("predict")({ inputs: text, rawScores: true }),
        server.encoder().unary("classify")({ head: "model", inputs: [text] }),
      ]);
      assert.equal(predicted.predictions.length, 3);
      const scores = predicted.predictions.map((p) => p.score);
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
      for (const { label, score } of classified.predictions[0].labels) assert.ok(Math.abs(predicted.predictions.find((p) => p.label === label)!.score - score) < 1e-6);
      const logits = labels.map((label) => raw.predictions.find((p) => p.label === label)!.score);
      softmax(logits).forEach((p, i) => assert.ok(Math.abs(p - predicted.predictions.find((x) => x.label === labels[i])!.score) < 1e-5));
      const pair = await tei.predict.unary("predictPair")({ inputs: [text] });
      assert.deepEqual(pair.predictions, predicted.predictions);
      const [pairs, pairsClassified] = await Promise.all([
        tei.predict.unary("predictPair")({ inputs: [text, "another text"] }),
        server.encoder().unary("classify")({ head: "model", inputs: [text], textPairs: ["another text"] }),
      ]);
      assert.equal(pairs.predictions.length, 3);
      for (const { label, score } of pairsClassified.predictions[0].labels) assert.ok(Math.abs(pairs.predictions.find((p) => p.label === label)!.score - score) < 1e-6, label);
      assert.ok(maxAbsDiff(pairs.predictions.map((p) => p.score), predicted.predictions.map((p) => p.score)) > 1e-6, "the pair is scored as a pair");
      await rejects(tei.rerank.unary("rerank")({ query: "q", texts: ["a"] }), status.FAILED_PRECONDITION, /model is not a re-ranker model/);
      const health = healthClient(server.address);
      assert.equal(await health.check("tei.v1.Predict"), "SERVING");
      health.close();
    } finally {
      tei.close();
      await server.stop();
    }
  });

  it("a cross-encoder (1 label): Info RERANKER, Predict the sigmoid, Rerank and RerankStream equal bertd.v1 Rerank, sorted, with return_text", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bertd-tei-reranker-"));
    await generateBertModel({ outDir: dir, layers: 1, hidden: 32, heads: 2, intermediate: 64, seed: 9, labels: ["LABEL_0"] });
    const server = await startServer(["--model-dir", dir, "--no-warmup", "--max-client-batch-size", "4"]);
    const tei = clients(server);
    try {
      assert.equal((await tei.info.unary("info")({})).modelType, ModelType.RERANKER);
      const [predicted, raw] = await Promise.all([tei.predict.unary("predict")({ inputs: "x" }), tei.predict.unary("predict")({ inputs: "x", rawScores: true })]);
      assert.ok(Math.abs(predicted.predictions[0].score - 1 / (1 + Math.exp(-raw.predictions[0].score))) < 1e-6);
      await rejects(tei.rerank.unary("rerank")({ query: "q", texts: ["a", "b", "c", "d", "e"] }), status.INVALID_ARGUMENT, /batch size 5 > maximum allowed batch size 4/);
      const query = "a chess engine";
      const texts = ["GNU Chess plays against you", "a tiny web server", "fonts for Latin scripts", "board game engine"];
      const { response: ranked, headers } = await withHeaders(tei.rerank, "rerank", { query, texts, returnText: true });
      const bertd = await server.encoder().unary("rerank")({ query, documents: texts });
      assert.deepEqual(
        ranked.ranks.map((r) => r.index),
        bertd.ranks.map((r) => r.index),
      );
      ranked.ranks.forEach((rank, i) => {
        assert.ok(Math.abs(rank.score - bertd.ranks[i].score) < 1e-6);
        assert.equal(rank.text, texts[rank.index]);
      });
      assert.ok(ranked.ranks.every((r, i) => i === 0 || ranked.ranks[i - 1].score >= r.score));
      assert.equal(headers["x-compute-tokens"], String(ranked.metadata?.computeTokens));
      const plain = await tei.rerank.unary("rerank")({ query, texts, rawScores: true });
      assert.ok(plain.ranks.every((r) => r.text === undefined));
      plain.ranks.forEach((r) => assert.ok(Math.abs(1 / (1 + Math.exp(-r.score)) - ranked.ranks.find((x) => x.index === r.index)!.score) < 1e-6));
      const pair = await tei.predict.unary("predictPair")({ inputs: [query, texts[0]] });
      assert.ok(Math.abs(pair.predictions[0].score - ranked.ranks.find((r) => r.index === 0)!.score) < 1e-6);
      // RerankStream: one (query, text) per message, more than --max-client-batch-size of them; return_text from the first.
      const streamed = await new Promise<MessageShape<typeof Rerank.method.rerankStream.output>>((resolve, reject) => {
        const raw = tei.rerank.raw as unknown as Record<string, (...args: unknown[]) => { write(m: unknown): void; end(): void }>;
        const stream = raw.RerankStream.call(tei.rerank.raw, new Metadata(), (e: ServiceError | null, r: MessageShape<typeof Rerank.method.rerankStream.output>) => (e ? reject(e) : resolve(r)));
        [...texts, ...texts].forEach((text, i) => stream.write(create(Rerank.method.rerankStream.input, { query, text, returnText: i === 0 })));
        stream.end();
      });
      assert.equal(streamed.ranks.length, 8);
      for (const rank of streamed.ranks) {
        assert.ok(Math.abs(rank.score - ranked.ranks.find((r) => r.index === rank.index % 4)!.score) < 1e-6);
        assert.equal(rank.text, texts[rank.index % 4]);
      }
      const health = healthClient(server.address);
      assert.equal(await health.check("tei.v1.Predict"), "SERVING");
      assert.equal(await health.check("tei.v1.Rerank"), "SERVING");
      health.close();
    } finally {
      tei.close();
      await server.stop();
    }
  });
});

describe("tei.v1 behind API keys", () => {
  it("every tei.v1 service needs a key with the infer scope", async () => {
    const reader = newApiKey("reader", ["infer"]);
    const operator = newApiKey("operator", ["admin", "adapt"]);
    const server = await startServer(["--auth", "api-key", "--api-keys", JSON.stringify([reader.entry, operator.entry]), "--no-warmup"]);
    const none = clients(server);
    const wrong = clients(server, { apiKey: operator.secret });
    const right = clients(server, { apiKey: reader.secret });
    try {
      await rejects(none.embed.unary("embed")({ inputs: "x" }), status.UNAUTHENTICATED, /missing API key/);
      await rejects(wrong.embed.unary("embed")({ inputs: "x" }), status.PERMISSION_DENIED, /lacks the "infer" scope that tei\.v1\.Embed\/Embed needs/);
      await rejects(wrong.info.unary("info")({}), status.PERMISSION_DENIED, /tei\.v1\.Info\/Info/);
      await rejects(wrong.tokenize.unary("tokenize")({ inputs: "x" }), status.PERMISSION_DENIED, /infer/);
      await rejects(wrong.predict.unary("predict")({ inputs: "x" }), status.PERMISSION_DENIED, /infer/);
      await rejects(wrong.rerank.unary("rerank")({ query: "q", texts: ["a"] }), status.PERMISSION_DENIED, /infer/);
      const stream = await streamAll(wrong.embed, "embedStream", [{ inputs: "x" }]);
      assert.equal(stream.error?.code, status.PERMISSION_DENIED);
      assert.equal((await right.embed.unary("embed")({ inputs: "x" })).embeddings.length, 128);
      assert.equal((await streamAll(right.embed, "embedStream", [{ inputs: "x" }, { inputs: "y" }])).responses.length, 2);
      await eventually(() => server.logs.some((line) => line.method === "/tei.v1.Embed/Embed" && line.key === "reader"), "the call's log line names its key");
    } finally {
      for (const c of [none, wrong, right]) c.close();
      await server.stop();
    }
  });
});
