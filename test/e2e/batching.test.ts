import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import type { BatchReport, BatcherLimits } from "../../src/core/batcher.js";
import { EncoderModel } from "../../src/core/encoder.js";
import { readModelDirectory } from "../../src/core/model-directory.js";
import { EmbedStreamRequestSchema, Encoding, type EmbedStreamResponse } from "../../src/gen/bertd/v1/encoder_pb.js";
import { RANDOM_MODEL_DIR, startServer, type ServerProcess } from "../helpers/server-process.js";
import { eventually } from "../helpers/eventually.js";
import { type MetricsPage, scrapeMetrics } from "../helpers/metrics.js";

const LONG = "a long description of a package that does many things ".repeat(40);

describe("batching queue over gRPC", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--workers", "1", "--max-queue-requests", "3", "--max-batch-size", "8"]);
  });
  after(async () => {
    await server?.stop();
  });

  it("answers RESOURCE_EXHAUSTED at once when the queue is full, and recovers", async () => {
    const embed = server.encoder().unary("embed");
    const results = await Promise.allSettled(Array.from({ length: 24 }, () => embed({ inputs: Array(8).fill(LONG) })));
    const rejected = results.filter((r) => r.status === "rejected").map((r) => (r).reason as ServiceError);
    assert.ok(rejected.length > 0, "some calls were rejected");
    assert.ok(results.some((r) => r.status === "fulfilled"), "some calls were served");
    for (const error of rejected) {
      assert.equal(error.code, status.RESOURCE_EXHAUSTED);
      assert.match(error.details, /inference queue is full.*limits 3 requests/);
    }
    assert.equal((await embed({ inputs: ["after the burst"] })).embeddings.length, 1);
  });

  it("drops calls whose deadline passes or that are cancelled while queued, before they cost inference", async () => {
    const embed = server.encoder().unary("embed");
    const before = await scrapeMetrics(server);
    // Enough work ahead (128 inputs of 512 tokens) that the 30 ms deadline passes while queued; one
    // call, so that with it the two below fit the queue's 3 requests.
    const blockers = [embed({ inputs: Array(128).fill(LONG) })];
    // Let the server take the blocker in first: small calls sent at once could overtake it while its
    // large message is still being read and tokenized.
    await eventually(async () => (await scrapeMetrics(server)).count("bertd_queue_requests") >= 1, "the blocker is queued");
    const late = embed({ inputs: ["too late"] }, { deadline: Date.now() + 30 });
    const controller = new AbortController();
    const cancelled = embed({ inputs: ["never mind"] }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await Promise.all([
      assert.rejects(late, (e: ServiceError) => e.code === status.DEADLINE_EXCEEDED),
      assert.rejects(cancelled, (e: ServiceError) => e.code === status.CANCELLED),
    ]);
    await Promise.all(blockers);
    // The client's own deadline and abort produce the statuses above whatever the server does. What
    // shows the server dropped them: its log lines and the rows its workers ran.
    // (grpc-js reports a passed deadline to the server as a cancellation: both may log CANCELLED.)
    await eventually(async () => server.logs.filter((l) => l.method === "/bertd.v1.Encoder/Embed" && (l.status === "DEADLINE_EXCEEDED" || l.status === "CANCELLED")).length >= 2, "both dropped calls are logged");
    const after = await scrapeMetrics(server);
    assert.equal(after.count("bertd_batch_size_sum") - before.count("bertd_batch_size_sum"), 128, "only the blocker's 128 rows reached a worker");
    const dropped = (m: MetricsPage): number => m.count("bertd_rejected_total", { reason: "deadline" }) + m.count("bertd_rejected_total", { reason: "cancelled" });
    assert.ok(dropped(after) - dropped(before) <= 2, "the queue counts each dropped call once at most");
  });

  it("pipelines EmbedStream requests and answers each with its id, errors included", async () => {
    // Its own server: this one's queue (3 requests) would rightly turn most of the burst away.
    const roomy = await startServer(["--max-batch-size", "4"]);
    after(() => roomy.stop());
    const call = roomy.encoder().stream("embedStream");
    const responses: EmbedStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (r: EmbedStreamResponse) => responses.push(r));
      call.on("end", resolve);
      call.on("error", reject);
    });
    for (let i = 0; i < 10; i++) {
      call.write(create(EmbedStreamRequestSchema, { id: `r${i}`, request: { inputs: i === 5 ? [] : [`text number ${i}`, "and another"], encoding: Encoding.BYTES } }));
    }
    call.end();
    await done;
    assert.deepEqual(responses.map((r) => r.id).sort(), Array.from({ length: 10 }, (_, i) => `r${i}`).sort());
    for (const r of responses) {
      if (r.id === "r5") {
        assert.equal(r.error?.code, status.INVALID_ARGUMENT);
        assert.match(r.error.message, /inputs is empty/);
      } else assert.equal(r.response?.embeddings.length, 2);
    }
  });
});

describe("batcher priorities (in process, real worker)", () => {
  const LIMITS: BatcherLimits = { maxBatchTokens: 4096, maxBackgroundBatchTokens: 4096, maxBatchSize: 8, maxBatchDelayMs: 0, maxPaddingRatio: 1.2, maxQueueTokens: 1e6, maxQueueRequests: 1000 };
  const openEncoder = (limits: Partial<BatcherLimits>, batch?: (report: BatchReport) => void): Promise<EncoderModel> =>
    EncoderModel.open({
      model: readModelDirectory(RANDOM_MODEL_DIR),
      device: { kind: "cpu" },
      workers: 1,
      intraOpThreads: 1,
      spinning: false,
      graphPooling: false,
      limits: { ...LIMITS, ...limits },
      maxClientBatchSize: 256,
      maxInputChars: 100_000,
      maxSequenceLength: 0,
      defaultTruncation: "right",
      log: pino({ level: "silent" }),
      observer: { batch },
    });

  it("runs interactive work before queued background work", async () => {
    const encoder = await openEncoder({});
    try {
      const ids = (text: string): Int32Array[] => encoder.tokenizeInputs([text], "right").ids;
      const order: string[] = [];
      const track = (name: string, p: Promise<unknown>): Promise<void> => p.then(() => void order.push(name));
      const blocker = track("blocker", encoder.pooled(ids(LONG), 2));
      const background = [0, 1].map((i) => track(`background${i}`, encoder.pooled(ids(`background ${i} ${"x ".repeat(i)}`), 2, { priority: "background" })));
      const interactive = [0, 1].map((i) => track(`interactive${i}`, encoder.pooled(ids(`interactive ${i}`), 2, { priority: "interactive" })));
      await Promise.all([blocker, ...background, ...interactive]);
      assert.equal(order[0], "blocker");
      assert.deepEqual(order.slice(1, 3).sort(), ["interactive0", "interactive1"]);
    } finally {
      await encoder.close();
    }
  });

  it("keeps background batches within their token budget: an interactive call waits for at most one", async () => {
    const reports: BatchReport[] = [];
    const encoder = await openEncoder({ maxBatchTokens: 8192, maxBackgroundBatchTokens: 256, maxBatchSize: 128 }, (report) => reports.push(report));
    try {
      const texts = Array.from({ length: 64 }, (_, i) => `package number ${i} of a long list that an adapt stream encodes in the background`);
      const ids = encoder.tokenizeInputs(texts, "right").ids;
      const background = encoder.pooled(ids, 2, { priority: "background" });
      // Queued while the first background batch runs: the worker is busy until this test yields.
      const interactive = encoder.pooled(encoder.tokenizeInputs(["an interactive call"], "right").ids, 2, { priority: "interactive" });
      const [vectors] = await Promise.all([background, interactive]);
      assert.equal(vectors.length, 64);
      const priorities = reports.map((r) => r.priority);
      const backgroundReports = reports.filter((r) => r.priority === "background");
      assert.ok(backgroundReports.length >= 4, `the background work was split: ${priorities.join(",")}`);
      for (const r of backgroundReports) assert.ok(r.paddedTokens <= 256, `a background batch of ${r.paddedTokens} padded tokens`);
      assert.deepEqual(priorities.slice(0, 2), ["background", "interactive"], "one background batch ran before the interactive call");
    } finally {
      await encoder.close();
    }
  });
});
