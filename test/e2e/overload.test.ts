import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { overloadBurst } from "../reliability/overload.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";

const QUEUE_REQUESTS = 8;

describe("overload", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--no-warmup", "--max-queue-requests", String(QUEUE_REQUESTS)]);
  });
  after(async () => {
    await server?.stop();
  });

  it("a burst at 10× capacity: excess gets RESOURCE_EXHAUSTED fast, accepted calls stay bounded, RSS bounded, full recovery", async (t) => {
    const report = await overloadBurst(server, { factor: 10, seconds: 3, perCall: 64 });
    const summary = JSON.stringify(report);
    t.diagnostic(summary);
    assert.deepEqual(report.other, {}, summary);
    assert.ok(report.rejected > report.sent / 4, `most of the excess is rejected: ${summary}`);
    assert.ok(report.ok > 0, summary);
    // Generous margins: this runs on a shared 2-core machine.
    assert.ok(report.serverRejectP99Ms < 250, `the server rejects at once: ${summary}`);
    // The client's view (rejectP99Ms, okP99Ms) is in the diagnostic only: on a shared 2-core machine it
    // measures the client's fight for the cores with its own burst (docs/reliability.md records 4.7 s).
    // An accepted call waits at most for the queue ahead of it (QUEUE_REQUESTS calls at the measured capacity), plus slack.
    // Measured by the server: the client's own clock also counts its fight for the same 2 cores with the burst it sends.
    const queueBoundMs = (QUEUE_REQUESTS / report.capacityRps) * 1000;
    assert.ok(report.serverOkP99Ms < 4 * queueBoundMs + 1000, `accepted latency is bounded by the queue (${Math.round(queueBoundMs)} ms): ${summary}`);
    assert.ok(report.rssPeakMb < report.rssBeforeMb + 400, `RSS stays bounded: ${summary}`);
    assert.ok(report.recovery > 0.5, `throughput recovers after the burst: ${summary}`);
  });
});
