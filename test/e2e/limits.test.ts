import { create } from "@bufbuild/protobuf";
import { type ServiceError, status } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { once } from "node:events";
import type { ServiceClient } from "../../src/client/grpc-client.js";
import { AdaptRequestSchema, type AdaptResponse, type Heads } from "../../src/gen/bertd/v1/heads_pb.js";
import { newApiKey } from "../../src/transport/auth/key-store.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import { type ServerProcess, startServer } from "../helpers/server-process.js";

const HYPER = { replayPasses: 0, holdoutFraction: 0 };

function rejects(promise: Promise<unknown>, code: status, details: RegExp): Promise<void> {
  return assert.rejects(promise, (error: ServiceError) => {
    assert.equal(error.code, code, `${status[error.code]}: ${error.details}`);
    assert.match(error.details, details);
    return true;
  });
}

describe("request limits", () => {
  const alice = newApiKey("alice", ["infer", "adapt", "admin"]);
  const bob = newApiKey("bob", ["infer", "adapt", "admin"]);
  let server: ServerProcess;

  before(async () => {
    server = await startServer([
      "--auth", "api-key", "--api-keys", [alice.entry, bob.entry].map((e) => JSON.stringify(e)).join("\n"),
      "--max-client-batch-size", "8", "--max-input-chars", "50", "--max-receive-message-bytes", "4096",
      "--adapt-examples-per-second", "20", "--no-warmup",
    ]);
  });
  after(() => server?.stop());

  it("inputs per request: INVALID_ARGUMENT naming --max-client-batch-size, for Embed, Tokenize and Classify", async () => {
    const encoder = server.encoder({ apiKey: alice.secret });
    const nine = Array(9).fill("word");
    await rejects(encoder.unary("embed")({ inputs: nine }), status.INVALID_ARGUMENT, /9 texts, over the limit of 8 \(--max-client-batch-size\)/);
    await rejects(encoder.unary("tokenize")({ inputs: nine }), status.INVALID_ARGUMENT, /--max-client-batch-size/);
    await rejects(encoder.unary("classify")({ head: "model", inputs: nine }), status.INVALID_ARGUMENT, /--max-client-batch-size/);
    assert.equal((await encoder.unary("embed")({ inputs: nine.slice(1) })).embeddings.length, 8);
  });

  it("characters per input: INVALID_ARGUMENT naming the input and --max-input-chars; an Adapt example over it is rejected", async () => {
    const encoder = server.encoder({ apiKey: alice.secret });
    await rejects(encoder.unary("embed")({ inputs: ["ok", "x".repeat(51)] }), status.INVALID_ARGUMENT, /inputs\[1\] has 51 characters, over the limit of 50 \(--max-input-chars\)/);
    await rejects(encoder.unary("tokenize")({ inputs: ["x".repeat(51)] }), status.INVALID_ARGUMENT, /--max-input-chars/);
    assert.equal((await encoder.unary("embed")({ inputs: ["x".repeat(50)] })).embeddings.length, 1);
    const result = await adapt(server.heads({ apiKey: bob.secret }), { head: "chars", labels: ["sport", "food"], hyperparameters: HYPER }, [
      ...toyExamples(4),
      { id: "long", text: "goal ".repeat(11), labels: ["sport"] },
    ]);
    const last = result.progress.at(-1)!;
    assert.equal(last.accepted, 4n);
    assert.deepEqual(last.rejections, [{ $typeName: "bertd.v1.Rejection", id: "long", reason: "example.text has 55 characters, over the limit of 50 (--max-input-chars)" }]);
  });

  it("message size: RESOURCE_EXHAUSTED over --max-receive-message-bytes, and the server keeps serving", async () => {
    const encoder = server.encoder({ apiKey: alice.secret });
    await rejects(encoder.unary("embed")({ inputs: ["x".repeat(5000)] }), status.RESOURCE_EXHAUSTED, /larger than max/);
    assert.equal((await encoder.unary("embed")({ inputs: ["fine"] })).embeddings.length, 1);
  });

  it("Adapt examples per second per key: a faster stream is paced, not refused — nothing lost; other keys keep their budget", async () => {
    const rate = 20; // --adapt-examples-per-second above; the bucket holds one second's worth
    const count = 60;
    const examples = toyExamples(count, ["sport", "food"], "burst");
    const before = await scrapeMetrics(server);
    const first = await adapt(server.heads({ apiKey: alice.secret }), { head: "rate-a", labels: ["sport", "food"], progressEvery: 10, hyperparameters: HYPER }, examples);
    const last = first.progress.at(-1)!;
    assert.equal(last.accepted, BigInt(count), "every example sent faster than the limit is accepted");
    assert.equal(last.rejected, 0n);
    assert.deepEqual(last.rejections, []);
    assert.equal(Number(last.durableExamples), count, "and logged");
    assert.equal(first.committed.length, 1);

    // Paced to the limit: on the server's clock the stream took at least as long as the bucket allows
    // for `count` examples (a burst of `rate`, then `rate` a second), and the excess waited.
    const line = await logLine(server, "rate-a");
    const floorMs = ((count - rate) / rate) * 1000;
    assert.ok((line.durationMs as number) >= floorMs, `the stream ran ${String(line.durationMs)} ms; ${count} examples at ${rate}/s need at least ${floorMs} ms`);
    assert.ok((line.pacedExamples as number) >= 1 && (line.pacedSeconds as number) > 0, `paced: ${JSON.stringify(line)}`);
    const after = await scrapeMetrics(server);
    assert.equal(after.count("bertd_adapt_paced_examples_total") - before.count("bertd_adapt_paced_examples_total"), line.pacedExamples);
    assert.ok(after.count("bertd_adapt_paced_seconds_total") > before.count("bertd_adapt_paced_seconds_total"));

    // Bob's budget is his own: a burst within it is not paced at all.
    const other = await adapt(server.heads({ apiKey: bob.secret }), { head: "rate-b", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(15, ["sport", "food"], "bob"));
    assert.equal(other.progress.at(-1)!.accepted, 15n);
    const bobLine = await logLine(server, "rate-b");
    assert.equal(bobLine.pacedExamples, undefined, "15 examples fit in a bucket of 20");
  });
});

describe("request limits with --auth none", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--auth", "none", "--adapt-examples-per-second", "20", "--no-warmup"]);
  });
  after(() => server?.stop());

  it("all clients share one Adapt rate bucket: two streams from two connections are paced together", async () => {
    // 2 × 20 examples at once against one bucket of 20: about 20 of them wait. With a bucket per
    // client or per stream, each would fit its own bucket and none would wait.
    const streams = ["none-a", "none-b"].map((head) => adapt(server.heads(), { head, labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(20, ["sport", "food"], head)));
    for (const result of await Promise.all(streams)) assert.equal(result.progress.at(-1)!.accepted, 20n);
    const lines = await Promise.all(["none-a", "none-b"].map((head) => logLine(server, head)));
    const paced = lines.reduce((sum, line) => sum + ((line.pacedExamples as number | undefined) ?? 0), 0);
    assert.ok(paced >= 10, `${paced} of 40 examples waited: ${JSON.stringify(lines.map((l) => l.pacedExamples))}`);
  });
});

/** The log line of the Adapt stream of `head` (the server may print it just after the client saw the end). */
async function logLine(server: ServerProcess, head: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = server.logs.find((l) => l.method === "/bertd.v1.Heads/Adapt" && l.head === head);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no log line for the Adapt stream of ${head}`);
}

/** An Adapt stream left open after its first progress message (progress_every 1). */
async function openStream(heads: ServiceClient<typeof Heads>, head: string) {
  const call = heads.stream("adapt");
  const responses: AdaptResponse[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on("data", (r: AdaptResponse) => responses.push(r));
    call.on("error", reject);
    call.on("end", resolve);
  });
  ended.catch(() => {});
  call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head, labels: ["sport", "food"], progressEvery: 1, hyperparameters: HYPER } } }));
  call.write(create(AdaptRequestSchema, { request: { case: "example", value: toyExamples(1, ["sport"], head)[0] } }));
  while (responses.length === 0) await once(call, "data");
  return { call, ended };
}

describe("adaptation limits", () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer(["--max-labels-per-head", "3", "--max-heads", "2", "--max-adapt-streams", "2", "--no-warmup"]);
  });
  after(() => server?.stop());

  it("labels per head: too many in config is INVALID_ARGUMENT; a new label beyond the limit is rejected", async () => {
    await rejects(adapt(server.heads(), { head: "wide", labels: ["a", "b", "c", "d"] }, []), status.INVALID_ARGUMENT, /config\.labels has 4 labels, over the limit of 3 per head \(--max-labels-per-head\)/);
    const steps = ["sport", "food", "music", "sport", "news", "food"].map((label, i) => ({ id: `g${i}`, text: `text about ${label} ${i}`, labels: [label] }));
    const result = await adapt(server.heads(), { head: "grow", labels: ["sport"], allowNewLabels: true, hyperparameters: HYPER }, steps);
    const last = result.progress.at(-1)!;
    assert.equal(last.accepted, 5n);
    assert.deepEqual(
      last.rejections.map((r) => [r.id, r.reason]),
      [["g4", 'label "news" would give the head more than 3 labels (--max-labels-per-head)']],
    );
    const head = await server.heads().unary("getHead")({ head: "grow" });
    assert.deepEqual([...head.head!.labels].sort(), ["food", "music", "sport"]);
  });

  it("concurrent Adapt streams and heads in total: RESOURCE_EXHAUSTED naming the option, until one ends or a head is deleted", async () => {
    const heads = server.heads();
    const one = await openStream(heads, "grow");
    const two = await openStream(heads, "second");
    await rejects(adapt(heads, { head: "third", labels: ["sport", "food"] }, toyExamples(2)), status.RESOURCE_EXHAUSTED, /2 Adapt streams are open.*\(--max-adapt-streams\)/);
    one.call.end();
    await one.ended;
    // "grow" and "second" exist: a third head is over --max-heads 2; existing heads still adapt.
    await rejects(adapt(heads, { head: "third", labels: ["sport", "food"] }, toyExamples(2)), status.RESOURCE_EXHAUSTED, /the store holds 2 heads.*\(--max-heads 2\)/);
    two.call.end();
    await two.ended;
    await adapt(heads, { head: "grow", labels: ["sport"], allowNewLabels: true, hyperparameters: HYPER }, toyExamples(3, ["sport"], "more"));
    await heads.unary("deleteHead")({ head: "second" });
    const third = await adapt(heads, { head: "third", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(4));
    assert.equal(third.committed.length, 1);
  });
});
