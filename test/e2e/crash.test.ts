import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { crashLoop } from "../reliability/crash.js";
import { startServer } from "../helpers/server-process.js";

describe("crash safety", () => {
  it("kill -9 at random moments during Adapt streams: every acked example and version survives, the store is sound", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bertd-crash-"));
    const report = await crashLoop({ kills: 3, seed: Number(process.env.BERTD_CRASH_SEED ?? 11), dataDir, maxMs: 1500 });
    assert.deepEqual(report.lost, []);
    assert.deepEqual(report.corrupt, []);
    assert.ok(report.ackedExamples > 30, `the kills came while examples were being acked (${report.ackedExamples})`);
    // Otherwise "every acknowledged version survives" would hold vacuously.
    assert.ok(report.ackedVersions > 0, `versions were acknowledged before the kills (${report.ackedVersions})`);
    // The server starts on the crashed store and serves what it holds.
    const server = await startServer(["--data-dir", dataDir, "--no-warmup"]);
    try {
      const heads = await server.heads().unary("listHeads")({});
      assert.ok(heads.heads.length >= 1);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
