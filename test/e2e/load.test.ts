import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Definitions } from "../../load-tests/lib/scenarios.js";
import type { ThresholdResult, WorkloadSummary } from "../../load-tests/runner/stats.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json?: { summaries: WorkloadSummary[]; thresholds: ThresholdResult[] };
}

const dir = mkdtempSync(join(tmpdir(), "bertd-load-"));
const definitions = JSON.parse(readFileSync(`${ROOT}load-tests/scenarios.json`, "utf8")) as Definitions;

/** `npm run load -- args` (the runner itself, without npm in between). */
function load(args: string[]): Promise<Run> {
  const json = join(dir, `run-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "load-tests/runner/main.ts", "--json", json, ...args], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      let parsed: Run["json"];
      try {
        parsed = JSON.parse(readFileSync(json, "utf8")) as Run["json"];
      } catch {
        parsed = undefined;
      }
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr, json: parsed });
    });
  });
}

async function embedOk(server: ServerProcess): Promise<number> {
  return (await scrapeMetrics(server)).count("bertd_requests_total", { service: "bertd.v1.Encoder", method: "/bertd.v1.Encoder/Embed", code: "OK" });
}

describe("npm run load against a real server (smoke: 2 s per scenario)", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0);
  });

  // The smoke checks the runner end to end, not this shared 2-core machine's speed: latency limits × 20,
  // error-rate limits as they are.
  const smokeFile = join(dir, "smoke.json");
  const smoke = structuredClone(definitions) as { scenarios: Record<string, { thresholds?: Record<string, { p95Ms?: number }> }> };
  for (const scenario of Object.values(smoke.scenarios)) {
    for (const limits of Object.values(scenario.thresholds ?? {})) if (limits.p95Ms) limits.p95Ms *= 20;
  }
  writeFileSync(smokeFile, JSON.stringify(smoke));

  for (const name of Object.keys(definitions.scenarios)) {
    it(`runs ${name}, every threshold holding`, async () => {
      const okBefore = await embedOk(server);
      const run = await load(["--address", server.address, "--scenarios", smokeFile, "--scenario", name, "--duration", "2s"]);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /p95 ms/);
      const { summaries, thresholds } = run.json!;
      assert.deepEqual(summaries.map((s) => s.workload).sort(), Object.keys(definitions.scenarios[name].workloads).sort());
      for (const s of summaries) {
        assert.ok(s.calls > 0 && s.ok === s.calls, `${s.workload}: ${JSON.stringify(s.codes)}`);
        // HDR percentiles are bucket edges, within 0.1% of the recorded values.
        assert.ok(s.p50Ms > 0 && s.p50Ms <= s.p95Ms && s.p95Ms <= s.p99Ms && s.p99Ms <= s.maxMs * 1.001, JSON.stringify(s));
      }
      assert.ok(thresholds.length > 0 && thresholds.every((t) => t.passed));
      // What the runner counts is what the server served.
      const embed = summaries.find((s) => s.workload === "embed");
      if (embed) assert.equal((await embedOk(server)) - okBefore, embed.ok);
    });
  }

  it("an open-loop scenario sends at its arrival rate", async () => {
    const run = await load(["--address", server.address, "--scenario", "embed-constant", "--duration", "3s"]);
    const rate = definitions.scenarios["embed-constant"].workloads.embed.rate!;
    assert.ok(Math.abs(run.json!.summaries[0].calls - rate * 3) <= 2, `${run.json!.summaries[0].calls} calls in 3 s at ${rate}/s`);
  });

  it("exits 1 and marks the threshold when one fails", async () => {
    const strict = structuredClone(definitions) as { scenarios: Record<string, { thresholds: Record<string, { p95Ms: number }> }> };
    strict.scenarios["embed-constant"].thresholds.embed.p95Ms = 0.001;
    const file = join(dir, "strict.json");
    writeFileSync(file, JSON.stringify(strict));
    const run = await load(["--address", server.address, "--scenarios", file, "--duration", "1s"]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /✗ embed: p95 [\d.]+ ms < 0.001 ms/);
    assert.match(run.stdout, /✓ embed: error rate/);
  });

  it("counts errors by status code and exits 1 when nothing listens", async () => {
    const run = await load(["--address", "127.0.0.1:1", "--duration", "1s"]);
    assert.equal(run.code, 1);
    assert.ok((run.json!.summaries[0].codes.UNAVAILABLE ?? 0) > 0, JSON.stringify(run.json!.summaries[0].codes));
    assert.match(run.stdout, /✗ embed: error rate 100.00%/);
  });

  it("exits 2 naming an unknown scenario", async () => {
    const run = await load(["--scenario", "nope"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown scenario "nope"; known: embed-constant, embed-ramp/);
  });
});
