import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { status, type ServiceError } from "@grpc/grpc-js";
import { FAULT_TEXT } from "../../src/core/faults.js";
import { AdaptRequestSchema, type AdaptResponse } from "../../src/gen/bertd/v1/heads_pb.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { startServer } from "../helpers/server-process.js";
import { healthClient } from "../helpers/standard-clients.js";
import { loggedIds, rejectsWithStatus as rejectsWith } from "../helpers/assertions.js";

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

  it("SIGTERM during an Adapt stream: NOT_SERVING, a final progress, UNAVAILABLE, the durable examples stay", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bertd-drain-"));
    const server = await startServer(["--data-dir", dataDir, "--no-warmup"]);
    const health = healthClient(server.address);
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
    const ended = new Promise<ServiceError>((resolve) => call.on("error", resolve));
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
  });
});
