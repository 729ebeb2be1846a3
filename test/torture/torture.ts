/**
 * The long versions of the reliability tests (npm run torture -- --help). Each part starts its own
 * server on loopback; the summary table goes to stdout (and --out as JSON). Exit code 1 if anything
 * was lost, hung, crashed or answered a status it should not have.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { crashLoop } from "../reliability/crash.js";
import { fuzzRpcs } from "../reliability/fuzz.js";
import { overloadBurst, type OverloadReport } from "../reliability/overload.js";
import { soak } from "../reliability/soak.js";
import { startServer } from "../helpers/server-process.js";
import { FAULT_TEXT } from "../../src/core/faults.js";
import { status } from "@grpc/grpc-js";
import { inputs, percentile, timedEmbed } from "../reliability/load.js";

const { values } = parseArgs({
  options: {
    fuzz: { type: "string", default: "5000" },
    kills: { type: "string", default: "20" },
    "worker-kills": { type: "string", default: "20" },
    bursts: { type: "string", default: "5" },
    "burst-seconds": { type: "string", default: "5" },
    "soak-seconds": { type: "string", default: "180" },
    "soak-adapters": { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    out: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("npm run torture -- [--fuzz N] [--kills M] [--worker-kills W] [--bursts K] [--burst-seconds S] [--soak-seconds S] [--soak-adapters A] [--seed N] [--out file.json]");
  process.exit(0);
}
const seed = Number(values.seed);
const rows: [string, string, string, string][] = [];
const problems: string[] = [];
const results: Record<string, unknown> = {};
const round = (n: number): string => (Number.isFinite(n) ? String(Math.round(n)) : "-");
const section = (name: string): void => console.error(`[torture] ${new Date().toISOString()} ${name}`);

const fuzzCases = Number(values.fuzz);
if (fuzzCases > 0) {
  section(`fuzz: ${fuzzCases} cases`);
  const server = await startServer(["--no-warmup", "--log-level", "info"], {}, { captureLogs: false });
  const started = performance.now();
  const report = await fuzzRpcs(server.address, { cases: fuzzCases, seed, concurrency: 8 });
  const seconds = (performance.now() - started) / 1000;
  const alive = server.process.exitCode === null;
  const stopping = performance.now();
  const code = await server.stop();
  const stopMs = performance.now() - stopping;
  results.fuzz = { ...report, seconds, alive, stopMs, exitCode: code };
  problems.push(...report.failures);
  if (!alive || code !== 0) problems.push(`fuzz: the server did not survive (exit ${code})`);
  rows.push(["fuzz", `${report.cases} calls over ${report.methods} RPCs, ${seed} seed`, `statuses ${JSON.stringify(report.statuses)}`, `${report.failures.length} bad answers, server up, drained in ${round(stopMs)} ms`]);
}

const kills = Number(values.kills);
if (kills > 0) {
  section(`crash: ${kills} kill -9`);
  const report = await crashLoop({ kills, seed, dataDir: mkdtempSync(join(tmpdir(), "bertd-torture-crash-")) });
  results.crash = report;
  problems.push(...report.lost, ...report.corrupt);
  const restarts = [...report.restartMs].sort((a, b) => a - b);
  rows.push([
    "kill -9 during Adapt",
    `${report.kills} kills`,
    `${report.ackedExamples} acked examples, ${report.ackedVersions} acked versions checked`,
    `${report.lost.length} lost, ${report.corrupt.length} integrity failures; restart to SERVING median ${round(restarts[restarts.length >> 1])} ms`,
  ]);
}

const workerKills = Number(values["worker-kills"]);
if (workerKills > 0) {
  section(`worker deaths: ${workerKills}`);
  // Marker batches kill their worker (first try and row retry); bystanders batched with them must still succeed.
  const server = await startServer(["--no-warmup", "--workers", "2"], { BERTD_TEST_FAULTS: `worker-exit=${workerKills}` });
  const codes: Record<string, number> = {};
  const bystanderMs: number[] = [];
  let markers = 0;
  let stop = false;
  const bystander = async (): Promise<void> => {
    let salt = 0;
    while (!stop) {
      const outcome = await timedEmbed(server, inputs(4, 12, salt++));
      codes[status[outcome.code]] = (codes[status[outcome.code]] ?? 0) + 1;
      bystanderMs.push(outcome.ms);
    }
  };
  const running = [bystander(), bystander()];
  const deaths = (): number => server.logs.filter((line) => line.msg === "inference worker died; starting a new one").length;
  while (deaths() < workerKills) {
    markers++;
    const outcome = await timedEmbed(server, [FAULT_TEXT]);
    if (outcome.code !== status.OK && outcome.code !== status.UNAVAILABLE) problems.push(`worker deaths: a marker call got ${status[outcome.code]}`);
  }
  stop = true;
  await Promise.all(running);
  const after = await timedEmbed(server, ["after the deaths"]);
  if (after.code !== status.OK) problems.push(`worker deaths: the server did not serve afterwards (${status[after.code]})`);
  const unexpected = Object.keys(codes).filter((code) => code !== "OK");
  if (unexpected.length > 0) problems.push(`worker deaths: bystander calls got ${unexpected.join(", ")}`);
  await server.stop();
  results.workerDeaths = { deaths: deaths(), markers, bystanders: codes, bystanderP99Ms: percentile(bystanderMs, 99) };
  rows.push([
    "worker thread deaths",
    `${deaths()} worker exits (${markers} poisoned calls), 2 workers`,
    `bystander calls: ${JSON.stringify(codes)}`,
    `no hung call (bystander p99 ${round(percentile(bystanderMs, 99))} ms, max ${round(Math.max(...bystanderMs))} ms); served afterwards`,
  ]);
}

const bursts = Number(values.bursts);
if (bursts > 0) {
  section(`overload: ${bursts} bursts`);
  const server = await startServer(["--no-warmup", "--max-queue-requests", "8"]);
  const reports: OverloadReport[] = [];
  for (let b = 0; b < bursts; b++) {
    const report = await overloadBurst(server, { factor: 10, seconds: Number(values["burst-seconds"]), perCall: 64, capacityRps: reports[0]?.capacityRps });
    reports.push(report);
    section(`burst ${b + 1}: ${JSON.stringify(report)}`);
    if (Object.keys(report.other).length > 0) problems.push(`burst ${b + 1}: unexpected statuses ${JSON.stringify(report.other)}`);
    if (report.recovery < 0.5) problems.push(`burst ${b + 1}: throughput recovered to ${report.recovery.toFixed(2)} of capacity only`);
  }
  await server.stop();
  results.overload = reports;
  const worst = (pick: (r: OverloadReport) => number): number => Math.max(...reports.map(pick));
  const sum = (pick: (r: OverloadReport) => number): number => reports.reduce((n, r) => n + pick(r), 0);
  rows.push([
    "overload 10×",
    `${bursts} bursts of ${values["burst-seconds"]} s at ${round(reports[0].offeredRps)} calls/s (capacity ${round(reports[0].capacityRps)} calls/s of 64 inputs)`,
    `${sum((r) => r.sent)} calls: ${sum((r) => r.ok)} OK, ${sum((r) => r.rejected)} RESOURCE_EXHAUSTED, ${sum((r) => Object.values(r.other).reduce((a, c) => a + c, 0))} other`,
    `worst p99 at the client: accepted ${round(worst((r) => r.okP99Ms))} ms, rejected ${round(worst((r) => r.rejectP99Ms))} ms; in the server: accepted ${round(worst((r) => r.serverOkP99Ms))} ms, rejected ${round(worst((r) => r.serverRejectP99Ms))} ms; RSS ${round(reports[0].rssBeforeMb)} → peak ${round(worst((r) => r.rssPeakMb))} MiB, recovery ≥ ${Math.min(...reports.map((r) => r.recovery)).toFixed(2)}× capacity`,
  ]);
}

const soakSeconds = Number(values["soak-seconds"]);
if (soakSeconds > 0) {
  section(`soak: ${soakSeconds} s`);
  const server = await startServer(["--no-warmup", "--embedding-cache-mb", "16"], {}, { captureLogs: false });
  const report = await soak(server, { seconds: soakSeconds, adapters: Number(values["soak-adapters"]) });
  await server.stop();
  results.soak = report;
  if (report.errors > 0) problems.push(`soak: ${report.errors} errors, first ${JSON.stringify(report.firstErrors)}`);
  rows.push([
    "soak (Embed + Classify + Adapt)",
    `${soakSeconds} s`,
    `${Object.entries(report.calls).map(([k, v]) => `${v} ${k}`).join(", ")}; ${report.commits} commits; ${report.errors} errors`,
    `Embed p99 ${round(report.embedP99Ms)} ms; RSS warm ${round(report.rssWarmMb)}, end ${round(report.rssEndMb)}, max ${round(report.rssMaxMb)} MiB; trend ${report.rssSlopeMbPerMin.toFixed(1)} MiB/min; V8 heap used ${round(report.heapUsedMb[0])} → ${round(report.heapUsedMb[1])} MiB, external ${round(report.externalMb[0])} → ${round(report.externalMb[1])} MiB`,
  ]);
}

console.log("| part | size | what was checked | result |\n| --- | --- | --- | --- |");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
console.log(problems.length === 0 ? "\nNo problems." : `\n${problems.length} problems:\n${problems.slice(0, 50).join("\n")}`);
if (values.out) writeFileSync(values.out, JSON.stringify({ args: values, results, problems }, null, 2));
process.exit(problems.length === 0 ? 0 : 1);
