import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fuzzRpcs } from "../reliability/fuzz.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";
import { healthClient } from "../helpers/standard-clients.js";

describe("fuzzing every RPC over a raw gRPC client", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--no-warmup"]);
  });
  after(async () => {
    await server?.stop();
  });

  it("random messages and random bytes: the server answers every call with a status and stays up", async () => {
    const report = await fuzzRpcs(server.address, { cases: 600, seed: Number(process.env.BERTD_FUZZ_SEED ?? 1) });
    assert.deepEqual(report.failures, []);
    assert.equal(Object.values(report.statuses).reduce((a, b) => a + b, 0), 600);
    assert.ok((report.statuses.OK ?? 0) > 50, `some calls succeed: ${JSON.stringify(report.statuses)}`);
    assert.ok((report.statuses.INVALID_ARGUMENT ?? 0) > 50, `many are rejected as invalid: ${JSON.stringify(report.statuses)}`);
    assert.equal(server.process.exitCode, null);
    const health = healthClient(server.address);
    assert.equal(await health.check(""), "SERVING");
    health.close();
    const embedded = await server.encoder().unary("embed")({ inputs: ["still serving after the fuzz"] });
    assert.equal(embedded.embeddings.length, 1);
    // Every fuzzed call was accounted as finished: SIGTERM drains at once instead of waiting out --shutdown-timeout-ms.
    const stopping = performance.now();
    assert.equal(await server.stop(), 0);
    assert.ok(performance.now() - stopping < 10_000, `stopped in ${Math.round(performance.now() - stopping)} ms`);
  });
});
