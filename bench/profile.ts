/**
 * npm run bench:profile — where the server's main thread spends its time under load: the server runs
 * with V8's CPU profiler (--cpu-prof), a closed loop of Embed calls saturates it, and the main thread's
 * samples taken during the loop (not startup) are summed by package and by function, self and inclusive.
 *
 * Options: --model-dir DIR (default models/default), --per-request N texts (default 1), --concurrency C
 * (default 64), --texts N (default 3000), --rounds R over the texts (default 3), --top K rows (default 30),
 * --thread main|workers (default main: the gRPC thread; workers: each inference worker thread, where the
 * native session.run shows as onnxruntime-node's backend.js frame), and any server options after `--`.
 * Prints to stdout; writes nothing in the repository.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, startServer } from "../test/helpers/server-process.js";
import { shortTexts } from "./lib/corpus.js";
import { closedLoop } from "./lib/latency.js";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "model-dir": { type: "string", default: join(ROOT, "models", "default") },
    "per-request": { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    texts: { type: "string", default: "3000" },
    rounds: { type: "string", default: "3" },
    top: { type: "string", default: "30" },
    thread: { type: "string", default: "main" },
  },
});

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

if (args.thread !== "main" && args.thread !== "workers") throw new Error(`--thread ${args.thread}: expected main or workers`);
const perRequest = Number(args["per-request"]);
const texts = shortTexts(Number(args.texts));
const dir = mkdtempSync(join(tmpdir(), "bertd-profile-"));
const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);
try {
  const server = await startServer(["--model-dir", resolve(args["model-dir"]), ...positionals], {}, { captureLogs: false, nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=250"] });
  const embed = server.encoder().unary("embed");
  const call = (i: number): Promise<void> => embed({ inputs: texts.slice((i * perRequest) % texts.length, ((i * perRequest) % texts.length) + perRequest) }).then(() => {});
  const calls = Math.ceil(texts.length / perRequest);
  await closedLoop(calls, Number(args.concurrency), call);
  const from = nowMicros();
  const seconds = await closedLoop(calls * Number(args.rounds), Number(args.concurrency), call);
  const to = nowMicros();
  await server.stop();
  // V8 names each thread's file CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile; thread 0 is the main one.
  const threadOf = (name: string): string => name.split(".")[4];
  const files = readdirSync(dir).filter((name) => (args.thread === "main" ? threadOf(name) === "0" : threadOf(name) !== "0"));
  if (files.length === 0) throw new Error(`no ${args.thread} profile in ${dir}`);
  const what = `${calls * Number(args.rounds)} calls of ${perRequest} text(s) at concurrency ${args.concurrency} in ${seconds.toFixed(1)} s`;
  for (const file of files.sort()) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
    report(profile, from, to, args.thread === "main" ? "Main thread" : `Thread ${threadOf(file)}`, what);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function report(profile: Profile, from: number, to: number, thread: string, what: string): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const hits = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    if (at >= from && at <= to) hits.set(profile.samples[i], (hits.get(profile.samples[i]) ?? 0) + 1);
  }
  const label = (node: ProfileNode): string => `${node.callFrame.functionName || "(anonymous)"} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const idle = [...hits].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, n]) => a + n, 0);
  const total = [...hits.values()].reduce((a, n) => a + n, 0);
  const busy = total - idle;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  for (const [id, n] of hits) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") continue;
    self.set(label(node), (self.get(label(node)) ?? 0) + n);
    packages.set(packageOf(node), (packages.get(packageOf(node)) ?? 0) + n);
    const seen = new Set<string>();
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const name = label(byId.get(up)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + n);
    }
  }
  const top = Number(args.top);
  const rows = (map: Map<string, number>): string =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, n]) => `${((100 * n) / busy).toFixed(1).padStart(6)}%  ${name}`)
      .join("\n");
  if (busy === 0) return;
  console.log(`${thread} during ${what}: busy ${((100 * busy) / Math.max(1, total)).toFixed(0)}% of ${total} samples (250 µs apart).`);
  console.log(`Shares below are of the busy samples.\n\nBy package (self time):\n${rows(packages)}`);
  console.log(`\nBy function, self time:\n${rows(self)}`);
  console.log(`\nBy function, inclusive:\n${rows(inclusive)}\n`);
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, "").replace(`file://${ROOT}/`, "").replace(`file://${ROOT}`, "");
}

function packageOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (url === "") return node.callFrame.functionName || "(native)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  if (url.startsWith("node:")) return url.split("/")[0];
  return shortUrl(url).split("/").slice(0, 2).join("/");
}
