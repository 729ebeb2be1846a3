/**
 * npm run bench — the server against the ceiling (direct ONNX Runtime on ideal batches) and
 * transformers.js, on the same model and texts, in one run. Writes docs/benchmarks/serving.md.
 *
 * Options: --model minilm|default|base (shape generated with a fixed seed) or --model-dir DIR (a model
 * directory, e.g. models/default), --texts N, --quick. CPU per sequence: --reps N (rounds, interleaved
 * with the ceiling), --baseline DIR (another checkout of bertd, measured in the same run),
 * --variant "name:--option value … node:--v8-flag" (this checkout with other options; words prefixed node:
 * go to node itself; repeatable), --cpu-only (only that section and latency at concurrency 1; replaces
 * that section of the report).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { status, type ServiceError } from "@grpc/grpc-js";
import * as ort from "onnxruntime-node";
import { BertTokenizer } from "../src/core/tokenizer/index.js";
import { Pooling } from "../src/gen/bertd/v1/encoder_pb.js";
import { generateBertModel, PRESETS } from "../tools/generator/index.js";
import { ROOT, startServer } from "../test/helpers/server-process.js";
import { longTexts, shortTexts } from "./lib/corpus.js";
import { CEILING_BATCH_SIZES, ceilingBatchSizes, cpuSection, measureCpuPerSequence, type ServerVariant } from "./lib/cpu-per-sequence.js";
import { Latencies, closedLoop, openLoop } from "./lib/latency.js";
import { paddedFeeds } from "./lib/padded-feeds.js";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "minilm" },
    texts: { type: "string", default: "3000" },
    quick: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "docs", "benchmarks", "serving.md") },
    "model-dir": { type: "string" },
    "cpu-only": { type: "boolean", default: false },
    reps: { type: "string", default: "3" },
    baseline: { type: "string" },
    variant: { type: "string", multiple: true, default: [] },
  },
});
const preset = args.model as keyof typeof PRESETS;
const quick = args.quick;
const textCount = quick ? 600 : Number(args.texts);
const threads = availableParallelism();
const MAX_BATCH_TOKENS = 8192;
const MAX_BATCH_SIZE = 128;

const modelDir = args["model-dir"] ? resolve(args["model-dir"]) : join(ROOT, "bench", "out", `model-${preset}`);
if (!existsSync(join(modelDir, "model.onnx"))) {
  console.error(`generating the ${preset} model in ${modelDir} …`);
  await generateBertModel({ outDir: modelDir, ...PRESETS[preset], seed: 42 });
}
const tokenizer = BertTokenizer.fromDirectory(modelDir);
const corpora = { short: shortTexts(textCount), long: longTexts(Math.floor(textCount / 4)) };
const rows: string[][] = [];
const log = (line: string): void => console.error(line);
const modelName = args["model-dir"] ? `${basename(modelDir)} (${modelDir.replace(`${ROOT}`, "")})` : `generated ${preset} shape (${PRESETS[preset].layers} layers × ${PRESETS[preset].hidden} wide, random weights — the cost is the same as a trained one)`;

// 0. CPU per sequence: the server process (all threads) against the ceiling in its own process.
const variants: ServerVariant[] = [
  ...(args.baseline ? [{ name: `baseline (${basename(resolve(args.baseline))})`, root: resolve(args.baseline) }] : []),
  { name: args.baseline ? "this branch" : "server" },
  ...args.variant.map((spec) => {
    const colon = spec.indexOf(":");
    const words = spec.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    // "node:--flag" words are node's own options (V8 flags); the rest are bertd's.
    const nodeArgs = words.filter((word) => word.startsWith("node:")).map((word) => word.slice("node:".length));
    return { name: spec.slice(0, colon), args: words.filter((word) => !word.startsWith("node:")), nodeArgs };
  }),
];
const cpuTexts = corpora.short;
const cpu = await measureCpuPerSequence({
  modelDir,
  texts: cpuTexts,
  variants,
  reps: Number(args.reps),
  threads,
  maxBatchSize: MAX_BATCH_SIZE,
  maxBatchTokens: MAX_BATCH_TOKENS,
  singles: quick ? 100 : 300,
  log,
});
const cpuReport = cpuSection(
  cpu,
  `Measured by \`npm run bench${args["cpu-only"] ? " -- --cpu-only" : ""}\` on ${new Date().toISOString().slice(0, 10)} (${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} cores), model ${modelName}, ` +
    `${cpuTexts.length} short Debian descriptions; ${args.reps} rounds, each running the ceiling (its own process, ${threads} intra-op threads, tokenized and packed beforehand; the cheaper of length-sorted batches of up to ${CEILING_BATCH_SIZES.join(" and up to ")} rows) and then every server in turn. ` +
    "CPU is utime + stime of the whole server process from /proc (every thread: gRPC, tokenization, workers, ONNX Runtime, GC); the load generator runs on the same cores but is not counted.",
);
if (args["cpu-only"]) {
  const previous = existsSync(args.out) ? readFileSync(args.out, "utf8") : "";
  const at = previous.indexOf("## CPU per sequence at saturation");
  const next = at === -1 ? -1 : previous.indexOf("\n## ", at + 3);
  const updated = at === -1 ? `${previous.trimEnd()}\n\n${cpuReport}` : `${previous.slice(0, at)}${cpuReport}${next === -1 ? "" : previous.slice(next)}`;
  writeFileSync(args.out, updated);
  console.log(cpuReport);
  process.exit(0);
}

// 1. The ceiling: pre-tokenized, length-sorted batches straight through ONNX Runtime.
const session = await ort.InferenceSession.create(join(modelDir, "model.onnx"), {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionProviders: ["cpu"],
});
async function runDirect(batch: Int32Array[]): Promise<void> {
  const out = await session.run(paddedFeeds(batch, session.inputNames.includes("token_type_ids")));
  for (const tensor of Object.values(out)) tensor.dispose();
}
/** Length-sorted token ids of `texts`. */
function sortedIds(texts: string[]): Int32Array[] {
  return texts.map((text) => tokenizer.encode(text).ids.slice(0, 512)).sort((a, b) => a.length - b.length);
}
function idealBatches(encoded: Int32Array[], maxBatchSize: number): Int32Array[][] {
  const batches: Int32Array[][] = [];
  let current: Int32Array[] = [];
  for (const ids of encoded) {
    if (current.length + 1 > maxBatchSize || (current.length + 1) * ids.length > MAX_BATCH_TOKENS) {
      batches.push(current);
      current = [];
    }
    current.push(ids);
  }
  if (current.length) batches.push(current);
  return batches;
}
const ceiling: Record<string, number> = {};
for (const [name, texts] of Object.entries(corpora)) {
  // The fastest of the batch limits the CPU section tries: ONNX Runtime is fastest well below 128 rows.
  ceiling[name] = 0;
  const encoded = sortedIds(texts);
  for (const size of ceilingBatchSizes(MAX_BATCH_SIZE)) {
    const batches = idealBatches(encoded, size);
    await runDirect(batches[0]);
    const started = performance.now();
    for (const batch of batches) await runDirect(batch);
    ceiling[name] = Math.max(ceiling[name], texts.length / ((performance.now() - started) / 1000));
  }
  log(`ceiling ${name}: ${ceiling[name].toFixed(1)} seq/s`);
}
const directSingle = new Latencies();
for (const text of corpora.short.slice(0, quick ? 100 : 300)) {
  const ids = tokenizer.encode(text).ids;
  const started = performance.now();
  await runDirect([ids]);
  directSingle.add(performance.now() - started);
}
await session.release();

// 2. The server at saturation, then latency at concurrency 1 and at half of saturation.
const quiet = { captureLogs: false };
// fp32, as the ceiling and transformers.js run it (with --precision auto a directory's int8 file would be served).
const server = await startServer(["--model-dir", modelDir, "--precision", "fp32", "--max-batch-tokens", String(MAX_BATCH_TOKENS), "--max-batch-size", String(MAX_BATCH_SIZE)], {}, quiet);
const embed = server.encoder().unary("embed");
const saturation: Record<string, number> = {};
async function saturate(name: string, texts: string[], perRequest: number, concurrency: number): Promise<number> {
  const requests = Math.ceil(texts.length / perRequest);
  await closedLoop(Math.min(requests, 64), concurrency, (i) => embed({ inputs: texts.slice(i * perRequest, (i + 1) * perRequest) }).then(() => {}));
  const seconds = await closedLoop(requests, concurrency, (i) => embed({ inputs: texts.slice(i * perRequest, (i + 1) * perRequest), pooling: Pooling.MEAN }).then(() => {}));
  const rate = texts.length / seconds;
  log(`server ${name}: ${rate.toFixed(1)} seq/s`);
  return rate;
}
saturation.short1 = await saturate("short, 1 text/request, c=64", corpora.short, 1, 64);
saturation.short8 = await saturate("short, 8 texts/request, c=16", corpora.short, 8, 16);
saturation.long1 = await saturate("long, 1 text/request, c=64", corpora.long, 1, 64);

// Let the burst above fade from the batcher's view of recent load before measuring a lone caller.
await new Promise((resolve) => setTimeout(resolve, 2000));
const serverSingle = new Latencies();
for (const text of corpora.short.slice(0, quick ? 100 : 300)) {
  const started = performance.now();
  await embed({ inputs: [text] });
  serverSingle.add(performance.now() - started);
}
const halfRate = saturation.short1 / 2;
const halfLoad = new Latencies();
await openLoop(halfRate, quick ? 3 : 8, async (i, scheduledAt) => {
  await embed({ inputs: [corpora.short[i % corpora.short.length]] });
  halfLoad.add(performance.now() - scheduledAt);
});

// 3. Overload: 10× the saturated rate for a few seconds against a server with a short queue.
await server.stop();
const burstServer = await startServer(["--model-dir", modelDir, "--precision", "fp32", "--max-queue-requests", "128"], {}, quiet);
const burstEmbed = burstServer.encoder().unary("embed");
const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${burstServer.process.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const unloaded = new Latencies();
for (const text of corpora.short.slice(0, 100)) {
  const started = performance.now();
  await burstEmbed({ inputs: [text] });
  unloaded.add(performance.now() - started);
}
const rssBefore = rss();
const accepted = new Latencies();
const rejectedFast = new Latencies();
const codes = new Map<string, number>();
await openLoop(saturation.short1 * 10, quick ? 2 : 4, async (i, scheduledAt) => {
  const started = performance.now();
  try {
    await burstEmbed({ inputs: [corpora.short[i % corpora.short.length]] });
    accepted.add(performance.now() - scheduledAt);
    codes.set("OK", (codes.get("OK") ?? 0) + 1);
  } catch (error) {
    const code = status[(error as ServiceError).code];
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if ((error as ServiceError).code === status.RESOURCE_EXHAUSTED) rejectedFast.add(performance.now() - started);
  }
});
const rssAfter = rss();
const recovered = new Latencies();
for (const text of corpora.short.slice(0, 100)) {
  const started = performance.now();
  await burstEmbed({ inputs: [text] });
  recovered.add(performance.now() - started);
}
await burstServer.stop();

// 4. transformers.js's feature-extraction pipeline, its best batch size. It brings its own
// onnxruntime-node (1.30), which cannot load beside ours in one process: it runs in a child.
const tjsRun = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench", "lib", "transformers-js.ts"), modelDir, preset, String(threads), String(quick ? 200 : 800)], {
  encoding: "utf8",
  maxBuffer: 1 << 26,
  input: JSON.stringify(corpora),
});
if (tjsRun.status !== 0) throw new Error(`transformers.js run failed: ${tjsRun.stderr}`);
log(tjsRun.stderr.trim());
const tjs = JSON.parse(tjsRun.stdout) as Record<string, number>;

// The table.
const f = (n: number, digits = 1): string => n.toFixed(digits);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
rows.push(["short texts: server, 1 text/request, c=64", f(saturation.short1), ratio(saturation.short1, ceiling.short), ratio(saturation.short1, tjs.short)]);
rows.push(["short texts: server, 8 texts/request, c=16", f(saturation.short8), ratio(saturation.short8, ceiling.short), ratio(saturation.short8, tjs.short)]);
rows.push(["short texts: ceiling (direct ORT, sorted batches)", f(ceiling.short), "1.00×", ratio(ceiling.short, tjs.short)]);
rows.push([`short texts: transformers.js (best batch ${tjs.shortBatch})`, f(tjs.short), ratio(tjs.short, ceiling.short), "1.00×"]);
rows.push(["long mixed texts: server, 1 text/request, c=64", f(saturation.long1), ratio(saturation.long1, ceiling.long), ratio(saturation.long1, tjs.long)]);
rows.push(["long mixed texts: ceiling", f(ceiling.long), "1.00×", ratio(ceiling.long, tjs.long)]);
rows.push([`long mixed texts: transformers.js (best batch ${tjs.longBatch})`, f(tjs.long), ratio(tjs.long, ceiling.long), "1.00×"]);
const s1 = serverSingle.summary();
const d1 = directSingle.summary();
const h = halfLoad.summary();
const u = unloaded.summary();
const a = accepted.summary();
const r = recovered.summary();
const total = [...codes.values()].reduce((x, y) => x + y, 0);
const date = new Date().toISOString().slice(0, 10);
const report = `# Benchmarks

Measured by \`npm run bench\` (bench/serve.ts) on ${date}: ${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB;
Node ${process.version}, ONNX Runtime ${ort.env.versions.node}, CPU provider, ${threads} intra-op threads everywhere.
Model: ${modelName}.
Texts: ${corpora.short.length} Debian package descriptions (≈19 tokens each) and ${corpora.long.length} longer texts of 1–12 descriptions joined.
This machine is shared and noisy: read the ratios, measured in the same run, more than the absolute numbers.

## Throughput (sequences/s)

| what | seq/s | vs ceiling | vs transformers.js |
| --- | ---: | ---: | ---: |
${rows.map((row) => `| ${row.join(" | ")} |`).join("\n")}

## Latency (ms)

| what | p50 | p95 | p99 |
| --- | ---: | ---: | ---: |
| direct ONNX Runtime, one text | ${f(d1.p50, 2)} | ${f(d1.p95, 2)} | ${f(d1.p99, 2)} |
| server, one text, concurrency 1 | ${f(s1.p50, 2)} | ${f(s1.p95, 2)} | ${f(s1.p99, 2)} |
| server, open loop at 50% of saturation (${f(halfRate, 0)}/s) | ${f(h.p50, 2)} | ${f(h.p95, 2)} | ${f(h.p99, 2)} |

Server p50 at concurrency 1 minus direct ONNX Runtime p50: ${f(s1.p50 - d1.p50, 2)} ms (target ≤ 1 ms).

## Overload: 10× the saturated rate (${f(saturation.short1 * 10, 0)}/s) for ${quick ? 2 : 4} s, \`--max-queue-requests 128\`

| what | value |
| --- | --- |
| calls sent | ${total} |
| answers by status | ${[...codes.entries()].map(([k, v]) => `${k} ${v}`).join(", ")} |
| RESOURCE_EXHAUSTED answered in (p50 / p99 ms) | ${f(rejectedFast.percentile(50), 2)} / ${f(rejectedFast.percentile(99), 2)} |
| unloaded p99 before the burst (ms) | ${f(u.p99, 2)} |
| accepted calls during the burst, p50 / p99 from scheduled send (ms) | ${f(a.p50, 2)} / ${f(a.p99, 2)} |
| after the burst, p50 / p99 (ms) | ${f(r.p50, 2)} / ${f(r.p99, 2)} |
| server RSS before / after the burst (MiB) | ${f(rssBefore, 0)} / ${f(rssAfter, 0)} |

${cpuReport}`;
// gpu:check appends its sections to the same file: keep them.
const previous = existsSync(args.out) ? readFileSync(args.out, "utf8") : "";
const gpuAt = previous.indexOf("\n## GPU check");
writeFileSync(args.out, gpuAt === -1 ? report : `${report}${previous.slice(gpuAt)}`);
console.log(report);
