import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { FAULT_TEXT, STORE_FAULT_TEXT } from "../../src/core/faults.js";
import { EmbedStreamRequestSchema, type EmbedStreamResponse } from "../../src/gen/bertd/v1/encoder_pb.js";
import { AdaptRequestSchema, type AdaptResponse } from "../../src/gen/bertd/v1/heads_pb.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { openAdapt, until } from "../helpers/adapt-stream.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";
import { healthClient } from "../helpers/standard-clients.js";
import { loggedIds, rejectsWithStatus as rejectsWith } from "../helpers/assertions.js";

const LABELS = ["sport", "food"];
const LONG = "a long description of a package that does many things ".repeat(40);

/** Rows of a head in the embedded store's versions table (read straight from SQLite). */
function storedVersions(dataDir: string, head: string): number {
  const db = new Database(join(dataDir, "heads.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM versions WHERE head = ?").get(head) as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * A store that stops writing in the middle of a stream: 40 examples are acknowledged as durable, then
 * `breakStore` runs and the stream goes on. Checks the promise of docs/reliability.md ("A store that
 * cannot write"): UNAVAILABLE naming SQLite's code, after a last progress naming exactly what is
 * logged; the served version and Embed keep working.
 */
async function storeStopsWriting(server: ServerProcess, dataDir: string, code: RegExp, breakStore: () => void, poison: boolean): Promise<void> {
  const heads = server.heads();
  const first = await adapt(heads, { head: "h", labels: LABELS, hyperparameters: HYPER }, toyExamples(20, LABELS, "first"));
  assert.equal(first.committed[0].version, 1);
  const stream = openAdapt(heads, { head: "h", hyperparameters: HYPER, progressEvery: 10 });
  stream.send(toyExamples(40, LABELS, "good"));
  await until("40 examples acknowledged as durable", 60_000, () => (stream.durable().count >= 40 ? true : undefined));
  breakStore();
  stream.send([...(poison ? [{ id: "poison", text: `${STORE_FAULT_TEXT} goal`, labels: ["sport"] }] : []), ...toyExamples(20, LABELS, "after")]);
  stream.end();
  await assert.rejects(stream.done, (error: ServiceError) => {
    assert.equal(error.code, status.UNAVAILABLE, `${status[error.code]}: ${error.details}`);
    assert.match(error.details, code);
    return true;
  });
  const last = stream.progress.at(-1);
  assert.equal(Number(last?.durableExamples), 40, "the last progress message says what is durable");
  assert.equal(last?.lastDurableId, "good-39");
  const logged = loggedIds(dataDir, "h");
  assert.equal(logged.filter((id) => id.startsWith("good-")).length, 40);
  assert.deepEqual(logged.filter((id) => id === "poison" || id.startsWith("after-")), [], "the failed transaction left nothing behind");
  assert.equal(storedVersions(dataDir, "h"), 1, "nothing was committed");
  assert.equal((await server.encoder().unary("embed")({ inputs: ["still serving"] })).embeddings.length, 1);
  assert.equal((await server.encoder().unary("classify")({ head: "h", inputs: ["goal"] })).headVersion, 1);
}

const HYPER = { seed: 3n, replayPasses: 1, holdoutFraction: 0.2 };

describe("faults", () => {
  it("a dead worker thread is replaced; its batch is retried row by row, a row that kills again fails with UNAVAILABLE naming the cause", async () => {
    // Three marker batches kill their worker: the first call's batch dies twice (fails), the second's once (retried, succeeds).
    const server = await startServer(["--workers", "1", "--no-warmup"], { BERTD_TEST_FAULTS: "worker-exit=3" });
    try {
      const embed = server.encoder().unary("embed");
      await embed({ inputs: ["a call before any fault"] });
      const bystanders = Promise.allSettled(Array.from({ length: 4 }, (_, i) => embed({ inputs: [`a bystander call ${i}`] })));
      await rejectsWith(embed({ inputs: [FAULT_TEXT] }), status.UNAVAILABLE, /inference worker died running this batch 2 times \(last: worker exited with code 70\)/);
      // Calls batched with the poisonous input are retried row by row: they succeed.
      for (const response of await bystanders) assert.equal(response.status, "fulfilled", String((response as PromiseRejectedResult).reason));
      const retried = await embed({ inputs: [FAULT_TEXT, "retried with the marker"] }, { deadline: Date.now() + 60_000 });
      assert.equal(retried.embeddings.length, 2);
      const after = await embed({ inputs: ["served by the replacement worker"] });
      assert.equal(after.embeddings.length, 1);
      const deaths = server.logs.filter((line) => line.msg === "inference worker died; starting a new one");
      assert.equal(deaths.length, 3);
      assert.equal(server.process.exitCode, null, "the server process is still up");
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it("a full store fails Adapt with RESOURCE_EXHAUSTED naming SQLITE_FULL; Embed and Classify keep serving", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bertd-full-"));
    const server = await startServer(["--data-dir", dataDir, "--no-warmup"], { BERTD_TEST_FAULTS: "store-max-pages=40" });
    try {
      const heads = server.heads();
      const first = await adapt(heads, { head: "small", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(20, ["sport", "food"], "s"));
      assert.equal(first.committed[0].version, 1);
      // Texts of ~2 KB: the store runs out of pages within a few chunks.
      const big = toyExamples(400, ["sport", "food"], "big").map((e) => ({ ...e, text: `${e.text} ${"filler ".repeat(300)}` }));
      const call = heads.stream("adapt");
      const progress: AdaptResponse[] = [];
      call.on("data", (m: AdaptResponse) => progress.push(m));
      const failed = new Promise<ServiceError>((resolve) => call.on("error", resolve));
      call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head: "small", labels: ["sport", "food"], hyperparameters: HYPER, progressEvery: 64 } } }));
      for (const example of big) call.write(create(AdaptRequestSchema, { request: { case: "example", value: example } }));
      call.end();
      const error = await failed;
      assert.equal(error.code, status.RESOURCE_EXHAUSTED, error.details);
      assert.match(error.details, /head store is full \(SQLITE_FULL/);
      const last = progress.at(-1);
      assert.equal(last?.response.case, "progress", "a final progress message precedes the status");
      const durable = last.response.case === "progress" ? Number(last.response.value.durableExamples) : -1;
      assert.ok(durable < big.length);
      assert.equal(loggedIds(dataDir, "small").filter((id) => id.startsWith("big-")).length, durable, "what was reported durable is exactly what is logged");
      const embed = await server.encoder().unary("embed")({ inputs: ["still serving"] });
      assert.equal(embed.embeddings.length, 1);
      const classified = await server.encoder().unary("classify")({ head: "small", inputs: ["goal"] });
      assert.equal(classified.headVersion, 1);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it("SIGTERM during an Adapt stream: NOT_SERVING, a final progress, UNAVAILABLE, the durable examples stay, nothing is committed", async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "bertd-drain-"));
    const server = await startServer(["--data-dir", dataDir, "--no-warmup"]);
    const health = healthClient(server.address);
    t.after(async () => {
      health.close();
      await server.stop();
    });
    const seen: string[] = [];
    health.watch("bertd.v1.Heads", (s) => seen.push(s));
    const call = server.heads().stream("adapt");
    const messages: AdaptResponse[] = [];
    let firstProgress: () => void = () => {};
    const progressed = new Promise<void>((resolve) => (firstProgress = resolve));
    call.on("data", (m: AdaptResponse) => {
      messages.push(m);
      if (m.response.case === "progress") firstProgress();
    });
    call.on("error", () => {});
    const ended = new Promise<StatusObject>((resolve) => call.on("status", resolve));
    call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head: "draining", labels: ["sport", "food"], hyperparameters: HYPER, progressEvery: 10 } } }));
    for (const example of toyExamples(30, ["sport", "food"], "d")) call.write(create(AdaptRequestSchema, { request: { case: "example", value: example } }));
    await progressed;
    const exited = server.stop("SIGTERM");
    const error = await ended;
    assert.equal(error.code, status.UNAVAILABLE, error.details);
    assert.match(error.details, /shutting down: \d+ examples of this stream are durable/);
    const last = messages.at(-1);
    assert.equal(last?.response.case, "progress");
    const { durableExamples, lastDurableId } = last.response.case === "progress" ? last.response.value : { durableExamples: 0n, lastDurableId: "" };
    assert.ok(durableExamples >= 10n);
    assert.equal(await exited, 0);
    health.close();
    assert.deepEqual(seen.slice(0, 2), ["SERVING", "NOT_SERVING"]);
    const logged = loggedIds(dataDir, "draining");
    assert.equal(logged.length, Number(durableExamples));
    assert.equal(logged.at(-1), lastDurableId);
    // The stream's end would have committed them; the drain must not: nothing is committed on its behalf.
    assert.equal(storedVersions(dataDir, "draining"), 0, "a version was committed on behalf of the drained stream");
    assert.ok(!messages.some((m) => m.response.case === "committed"));
  });

  for (const [kind, code] of [["readonly", /head store cannot write \(SQLITE_READONLY/], ["ioerr", /head store cannot write \(SQLITE_IOERR/]] as const) {
    it(`a store that cannot write (${kind}) fails Adapt with UNAVAILABLE naming SQLite's code after a last progress; Embed and Classify keep serving`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), `bertd-${kind}-`));
      const server = await startServer(["--data-dir", dataDir, "--no-warmup"], { BERTD_TEST_FAULTS: `store-fail=${kind}` });
      try {
        await storeStopsWriting(server, dataDir, code, () => {}, true);
        // The store stays broken: a new stream is refused the same way.
        await rejectsWith(adapt(server.heads(), { head: "h", hyperparameters: HYPER }, toyExamples(4, LABELS, "again")), status.UNAVAILABLE, code);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  }

  it("a store locked by another process (SQLITE_BUSY past busy_timeout) fails Adapt with UNAVAILABLE; Adapt works again once it is released", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bertd-busy-"));
    const server = await startServer(["--data-dir", dataDir, "--no-warmup"]);
    // This test process is the other process: it takes SQLite's write lock and holds it.
    const other = new Database(join(dataDir, "heads.sqlite"));
    try {
      await storeStopsWriting(server, dataDir, /head store cannot write \(SQLITE_BUSY/, () => other.exec("BEGIN IMMEDIATE"), false);
      other.exec("ROLLBACK");
      const again = await adapt(server.heads(), { head: "h", hyperparameters: HYPER }, toyExamples(10, LABELS, "again"));
      assert.equal(again.committed[0].version, 2);
    } finally {
      if (other.inTransaction) other.exec("ROLLBACK");
      other.close();
      assert.equal(await server.stop(), 0);
    }
  });

  it("SIGINT while an EmbedStream call is in flight: health NOT_SERVING, every request already sent is answered, the stream ends OK, exit 0", async () => {
    const server = await startServer(["--workers", "1", "--no-warmup"]);
    const health = healthClient(server.address);
    try {
      const seen: string[] = [];
      health.watch("bertd.v1.Encoder", (s) => seen.push(s));
      await until("health to report SERVING", 10_000, () => (seen.includes("SERVING") ? true : undefined));
      const call = server.encoder().stream("embedStream");
      const responses: EmbedStreamResponse[] = [];
      const ended = new Promise<StatusObject>((resolve) => call.on("status", resolve));
      call.on("error", () => {});
      let first: () => void = () => {};
      const answered = new Promise<void>((resolve) => (first = resolve));
      call.on("data", (r: EmbedStreamResponse) => {
        responses.push(r);
        first();
      });
      const REQUESTS = 16;
      for (let i = 0; i < REQUESTS; i++) call.write(create(EmbedStreamRequestSchema, { id: `r${i}`, request: { inputs: Array(8).fill(`${i} ${LONG}`) } }));
      call.end();
      await answered;
      const exited = server.stop("SIGINT");
      const atSignal = responses.length;
      assert.ok(atSignal < REQUESTS, "the stream was still in flight at SIGINT");
      const { code, details } = await ended;
      assert.equal(code, status.OK, details);
      assert.deepEqual(responses.map((r) => r.id).sort(), Array.from({ length: REQUESTS }, (_, i) => `r${i}`).sort());
      for (const r of responses) assert.equal(r.response?.embeddings.length, 8, r.error?.message);
      assert.equal(await exited, 0);
      assert.deepEqual(seen.slice(0, 2), ["SERVING", "NOT_SERVING"]);
      const shutdown = server.logs.findIndex((l) => l.msg === "shutting down: NOT_SERVING, draining in-flight calls");
      const streamLine = server.logs.findIndex((l) => l.method === "/bertd.v1.Encoder/EmbedStream" && l.status === "OK");
      assert.ok(shutdown >= 0 && streamLine > shutdown, "the stream finished after the drain began");
    } finally {
      health.close();
      await server.stop();
    }
  });

  it("--shutdown-timeout-ms caps the drain: a stream the client never ends is cut after it and the process exits 0", { timeout: 120_000 }, async () => {
    const server = await startServer(["--no-warmup", "--shutdown-timeout-ms", "1500"]);
    try {
      const call = server.encoder().stream("embedStream");
      const ended = new Promise<StatusObject>((resolve) => call.on("status", resolve));
      call.on("error", () => {});
      const answered = new Promise<void>((resolve) => call.once("data", () => resolve()));
      call.write(create(EmbedStreamRequestSchema, { id: "open", request: { inputs: ["a stream that stays open"] } }));
      await answered;
      // Without the cap the server would wait for this stream for ever.
      assert.equal(await server.stop("SIGTERM"), 0);
      assert.notEqual((await ended).code, status.OK, "the open stream was cut, not finished");
      const time = (msg: string): number => server.logs.find((l) => l.msg === msg)?.time as number;
      const waited = time("stopped") - time("shutting down: NOT_SERVING, draining in-flight calls");
      assert.ok(waited >= 1500, `by the server's clock it waited for the open stream up to the cap (${waited} ms)`);
    } finally {
      await server.stop();
    }
  });

  it("answers UNAVAILABLE, and health NOT_SERVING, until the model has loaded; then serves", async () => {
    // The server listens at once and loads its model 8 s later (a slow disk or a large model).
    const server = await startServer(["--no-warmup"], { BERTD_TEST_FAULTS: "start-delay-ms=8000" }, { untilListening: true });
    const health = healthClient(server.address);
    try {
      const loading = /the model is still loading: retry shortly/;
      await rejectsWith(server.encoder().unary("embed")({ inputs: ["too early"] }), status.UNAVAILABLE, loading);
      await rejectsWith(server.encoder().unary("classify")({ head: "h", inputs: ["too early"] }), status.UNAVAILABLE, loading);
      await rejectsWith(adapt(server.heads(), { head: "h", labels: LABELS }, toyExamples(2, LABELS, "early")), status.UNAVAILABLE, loading);
      assert.equal(await health.check(""), "NOT_SERVING");
      assert.ok(!server.logs.some((l) => l.msg === "serving"), "all of the above happened before the model had loaded");
      await server.logLine((l) => l.msg === "serving", 120_000);
      assert.equal(await health.check(""), "SERVING");
      assert.equal((await server.encoder().unary("embed")({ inputs: ["now"] })).embeddings.length, 1);
    } finally {
      health.close();
      assert.equal(await server.stop(), 0);
    }
  });
});
