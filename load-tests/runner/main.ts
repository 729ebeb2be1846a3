import { credentials } from "@grpc/grpc-js";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDuration, scenario, withDuration, workloadSeconds, type Definitions } from "../lib/scenarios.js";
import { Calls } from "./calls.js";
import { closedLoop, openLoop } from "./executors.js";
import { checkThresholds, WorkloadStats, type ThresholdResult, type WorkloadSummary } from "./stats.js";

const USAGE = `Usage: npm run load -- [options]
Runs one scenario of load-tests/scenarios.json against a bertd server (the same scenarios as load-tests/k6/bertd.js).

  --scenario NAME        which scenario (default embed-constant); --list shows them
  --duration D           every workload lasts D (e.g. 10s, 2m; ramps scale in proportion)
  --address HOST:PORT    the server (BERTD_ADDRESS, default localhost:50051)
  --api-key KEY          sent as authorization: Bearer KEY (BERTD_API_KEY)
  --tls-ca FILE          TLS, trusting this CA (BERTD_TLS_CA); --tls for the system's roots
  --connections N        HTTP/2 connections per workload (default 4)
  --scenarios FILE       the scenario file (default load-tests/scenarios.json)
  --json FILE            also write the results as JSON
Exit status: 0 when every threshold holds, 1 when one fails, 2 on bad usage or a failed setup.`;

const DEFAULT_FILE = new URL("../scenarios.json", import.meta.url);

function options() {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "embed-constant" },
      duration: { type: "string" },
      address: { type: "string", default: process.env.BERTD_ADDRESS || "localhost:50051" },
      "api-key": { type: "string", default: process.env.BERTD_API_KEY },
      "tls-ca": { type: "string", default: process.env.BERTD_TLS_CA },
      tls: { type: "boolean", default: false },
      connections: { type: "string", default: "4" },
      scenarios: { type: "string" },
      json: { type: "string" },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return values;
}

function table(summaries: WorkloadSummary[]): string {
  const rows = [["workload", "calls", "ok/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "dropped", "codes"]];
  for (const s of summaries) {
    rows.push([
      s.workload,
      String(s.calls),
      s.throughput.toFixed(1),
      s.p50Ms.toFixed(1),
      s.p95Ms.toFixed(1),
      s.p99Ms.toFixed(1),
      s.maxMs.toFixed(1),
      `${(s.errorRate * 100).toFixed(2)}%`,
      String(s.dropped),
      Object.entries(s.codes).map(([code, n]) => `${code}=${n}`).join(" "),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function rampReport(s: WorkloadSummary): string {
  if (!s.windows) return "";
  const lines = [`${s.workload}: offered vs answered, by scheduled send time`];
  for (const w of s.windows) {
    lines.push(`  ${w.startS.toFixed(0).padStart(4)}s  offered ${w.offeredPerS.toFixed(1).padStart(7)}/s  ok ${w.okPerS.toFixed(1).padStart(7)}/s  p95 ${w.p95Ms.toFixed(1).padStart(8)} ms`);
  }
  lines.push(`  knee ≈ ${s.kneePerS === undefined ? "below the first slice" : `${s.kneePerS.toFixed(1)} calls/s`} (the last slice answering ≥ 90% of the offered rate with p95 under ${s.kneeP95Ms} ms)`);
  return lines.join("\n");
}

async function main(): Promise<number> {
  const args = options();
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const definitions = JSON.parse(readFileSync(args.scenarios ?? DEFAULT_FILE, "utf8")) as Definitions;
  if (args.list) {
    for (const [name, s] of Object.entries(definitions.scenarios)) console.log(`${name.padEnd(22)} ${s.description}`);
    return 0;
  }
  let selected = scenario(definitions, args.scenario);
  if (args.duration) selected = withDuration(selected, parseDuration(args.duration));
  const connections = Number(args.connections);
  if (!Number.isInteger(connections) || connections < 1) throw new Error(`--connections must be a positive integer; got "${args.connections}"`);
  const tls = args["tls-ca"] ? credentials.createSsl(readFileSync(args["tls-ca"])) : args.tls ? credentials.createSsl() : undefined;
  const calls = new Calls(definitions, { address: args.address, apiKey: args["api-key"], credentials: tls, connections });

  try {
    if (selected.setup) await calls.trainHead(selected.setup.trainHead, selected.setup.examples);
  } catch (error) {
    calls.close();
    console.error(`load: ${(error as Error).message}`);
    return 2;
  }

  console.log(`scenario ${args.scenario} against ${args.address}: ${selected.description}`);
  const started = performance.now();
  const runs = Object.entries(selected.workloads).map(async ([name, workload]) => {
    const seconds = workloadSeconds(workload);
    const stats = new WorkloadStats(name, workload.executor === "ramping-arrival-rate" ? Math.max(1, seconds / 12) : 0);
    const call = calls.forWorkload(workload);
    if (workload.executor === "constant-vus") await closedLoop(workload, call, stats);
    else await openLoop(workload, call, stats);
    return stats.summary(seconds, workload.kneeP95Ms ?? selected.thresholds?.[name]?.p95Ms);
  });
  const summaries = await Promise.all(runs);
  calls.close();
  const results: ThresholdResult[] = summaries.flatMap((s) => checkThresholds(s, selected.thresholds?.[s.workload]));

  console.log(table(summaries));
  for (const s of summaries) if (s.windows) console.log(rampReport(s));
  for (const r of results) console.log(`${r.passed ? "✓" : "✗"} ${r.workload}: ${r.check}`);
  console.log(`ran ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ scenario: args.scenario, address: args.address, summaries, thresholds: results }, null, 2));
  return results.every((r) => r.passed) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`load: ${error.message}`);
    process.exit(2);
  },
);
