import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { ServiceClient } from "../../src/client/grpc-client.js";
import { Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";
import { startServer, type ServerProcess } from "../../test/helpers/server-process.js";
import { median, processCpuSeconds, threadCpuSeconds, threadDelta } from "./cpu-time.js";
import { Latencies, closedLoop } from "./latency.js";

/** A server to measure: this checkout, or another one (a baseline), with its own extra options. */
export interface ServerVariant {
  readonly name: string;
  readonly root?: string;
  readonly args?: readonly string[];
  /** Options for node itself (V8 flags such as --max-semi-space-size), before the script. */
  readonly nodeArgs?: readonly string[];
}

export interface CpuOptions {
  readonly modelDir: string;
  readonly texts: readonly string[];
  readonly variants: readonly ServerVariant[];
  readonly reps: number;
  readonly threads: number;
  readonly maxBatchSize: number;
  readonly maxBatchTokens: number;
  readonly singles: number;
  readonly log: (line: string) => void;
}

/** One load shape at saturation: texts per request and concurrent callers. */
export const SHAPES = [
  { key: "one", label: "1 text/request, c=64", perRequest: 1, concurrency: 64 },
  { key: "eight", label: "8 texts/request, c=16", perRequest: 8, concurrency: 16 },
] as const;
type ShapeKey = (typeof SHAPES)[number]["key"];

export interface VariantResult {
  readonly name: string;
  /** The model file it served (GetModelInfo), whose own ceiling its ratios are taken against. */
  readonly modelFile: string;
  /** Median over reps of server CPU seconds per sequence (all threads), by shape. */
  readonly cpuPerSequence: Record<ShapeKey, number>;
  /** Each rep's ratio to the ceiling of the same rep, by shape. */
  readonly ratios: Record<ShapeKey, number[]>;
  /** Each rep's ratio to the same rep's ceiling in the server's layout (CeilingResult.layoutCpuPerSequence), by shape. */
  readonly layoutRatios: Record<ShapeKey, number[]>;
  readonly sequencesPerSecond: Record<ShapeKey, number>;
  readonly meanBatch: Record<ShapeKey, number>;
  /** Padded tokens ÷ real tokens over the measured requests (bertd_batch_tokens_sum ÷ bertd_input_tokens_total), median over reps. */
  readonly padding: Record<ShapeKey, number>;
  /** Share of the server's CPU by thread name, 1 text/request, last rep. */
  readonly threads: [string, number][];
  /** Median over reps of the gRPC (main) thread's CPU seconds per call, by shape. */
  readonly mainPerCall: Record<ShapeKey, number>;
  /**
   * Each rep's main-thread CPU ÷ the other threads' (workers, ONNX Runtime, GC), by shape: the same
   * run's inference work as the yardstick, so a change to the per-call work shows through a machine's
   * drift, which moves both alike.
   */
  readonly mainVsRest: Record<ShapeKey, number[]>;
  readonly singleP50Ms: number;
}

export interface CeilingResult {
  /** The graph ONNX Runtime ran: model.onnx (fp32) first, then every other file a server served. */
  readonly modelFile: string;
  readonly cpuPerSequence: number;
  readonly sequencesPerSecond: number;
  /** p50 of one text at a time, with `threads` intra-op threads. */
  readonly singleP50Ms: number;
  readonly threads: number;
  /** The same with one intra-op thread, as each inference worker runs (for one short text often the faster). */
  readonly singleP50MsOneThread: number;
  /** One intra-op thread, the thread idle IDLE_MS before each run as a worker is between one client's calls. */
  readonly singleP50MsIdle: number;
  /** Padded tokens ÷ real tokens of its length-sorted batches. */
  readonly paddingRatio: number;
  /**
   * Median over reps of CPU seconds per sequence in the server's layout: `threads` processes of one
   * intra-op thread each, running the same batches at once (as the server's workers do on 2 cores). One thread
   * spends no CPU on synchronising with another, so on some machines this is the lower ceiling.
   */
  readonly layoutCpuPerSequence: number;
}

/** A transport floor under the same loads: CPU seconds per sequence, median over reps. */
export interface FloorResult {
  readonly cpuPerSequence: Record<ShapeKey, number>;
  /** p50 of one text at concurrency 1: the round trip on loopback, client and server. */
  readonly singleP50Ms: number;
}

export interface CpuResult {
  readonly ceilings: CeilingResult[];
  readonly variants: VariantResult[];
  /** grpc-js's floor (transport-floor.ts). */
  readonly floor: FloorResult;
  /** Node's HTTP/2 alone under it (http2-floor.ts). */
  readonly http2Floor: FloorResult;
}

/** How long the latency ceiling's thread idles before each single run (about one loopback client's round trip). */
const IDLE_MS = 1;
const FP32_FILE = "model.onnx";

const CEILING = fileURLToPath(new URL("./ceiling.ts", import.meta.url));
const FLOOR = fileURLToPath(new URL("./transport-floor.ts", import.meta.url));
const HTTP2_FLOOR = fileURLToPath(new URL("./http2-floor.ts", import.meta.url));
const FLOOR_PASSES = 3;

/**
 * Row limits the ceilings try, each up to the server's --max-batch-size; each ceiling is the cheapest. ONNX
 * Runtime's cost per sequence is lowest well below 128 rows (2026-12-06: up to 32 rows ran 3–7% below up to
 * 128 with two threads, and ~12% below with one).
 */
export const CEILING_BATCH_SIZES = [32, 128];

/** CEILING_BATCH_SIZES capped at `maxBatchSize`, each once. */
export function ceilingBatchSizes(maxBatchSize: number): number[] {
  return [...new Set(CEILING_BATCH_SIZES.map((size) => Math.min(size, maxBatchSize)))];
}

/** The floor server in its own process, answering with vectors of `dimensions` floats. */
async function startFloor(dimensions: number, script = FLOOR): Promise<{ child: ChildProcess; embed: ServiceClient<typeof Encoder>; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", script, String(dimensions)], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout, "data")) as [Buffer];
  const client = new ServiceClient(Encoder, `127.0.0.1:${chunk.toString().trim()}`);
  return {
    child,
    embed: client,
    async stop() {
      client.close();
      const exited = once(child, "exit");
      child.kill();
      await exited;
    },
  };
}

/** What ceiling.ts prints. */
type CeilingRun = { cpuSecondsPerSequence: number; sequencesPerSecond: number; singleP50Ms: number; paddingRatio: number; singleIdleP50Ms: number };

type CeilingOptions = Pick<CpuOptions, "modelDir" | "texts" | "threads" | "maxBatchSize" | "maxBatchTokens">;

/** node's arguments for one ceiling.ts run (see its argv). */
function ceilingArgs(options: CeilingOptions, threads: number, singles: number, modelFile: string, idleMs: number): string[] {
  return ["--import", "tsx", CEILING, options.modelDir, String(threads), String(options.maxBatchSize), String(options.maxBatchTokens), String(singles), modelFile, String(idleMs)];
}

/** The ceiling (ceiling.ts) in its own process on these texts: direct ONNX Runtime on length-sorted batches. */
export function runCeiling(
  options: CeilingOptions,
  singles: number,
  modelFile = FP32_FILE,
  idleMs = 0,
): CeilingRun {
  const child = spawnSync(process.execPath, ceilingArgs(options, options.threads, singles, modelFile, idleMs), {
    encoding: "utf8",
    input: JSON.stringify(options.texts),
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) throw new Error(`ceiling run failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as CeilingRun;
}

/**
 * The ceiling in the server's layout: `threads` (one per core) ceiling runs of one intra-op thread each, at once; their
 * mean CPU seconds per sequence. On 2 cores that is the server's default (2 workers × 1 intra-op thread).
 */
async function runLayoutCeiling(options: CeilingOptions, modelFile: string): Promise<number> {
  const runs = Array.from({ length: options.threads }, async () => {
    const child = spawn(process.execPath, ceilingArgs(options, 1, 0, modelFile, 0), { stdio: ["pipe", "pipe", "inherit"] });
    child.stdin.end(JSON.stringify(options.texts));
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    // "close", not "exit": stdout may still hold the JSON when the process exits.
    const [code] = (await once(child, "close")) as [number | null];
    if (code !== 0) throw new Error(`layout ceiling run failed with exit code ${code}`);
    return (JSON.parse(out) as CeilingRun).cpuSecondsPerSequence;
  });
  const cpu = await Promise.all(runs);
  return cpu.reduce((a, b) => a + b, 0) / cpu.length;
}

/** The server's batch counters so far: rows and batches, padded tokens and the real tokens they held. */
async function scrapeBatches(server: ServerProcess): Promise<{ sum: number; count: number; padded: number; real: number }> {
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const read = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { sum: read("bertd_batch_size_sum"), count: read("bertd_batch_size_count"), padded: read("bertd_batch_tokens_sum"), real: read("bertd_input_tokens_total") };
}

/**
 * Server-process CPU seconds per sequence (all threads, from /proc) against the ceiling's, the ceiling
 * rerun before each round of server measurements; then p50 latency at concurrency 1. Each server is
 * held to the ceiling of the file it serves (an int8 server to ONNX Runtime on the int8 graph); the
 * fp32 ceiling is always measured too, as the reference for throughput.
 */
export async function measureCpuPerSequence(options: CpuOptions): Promise<CpuResult> {
  const { texts, log } = options;
  const servers: ServerProcess[] = [];
  for (const variant of options.variants) {
    const args = ["--model-dir", options.modelDir, "--max-batch-size", String(options.maxBatchSize), "--max-batch-tokens", String(options.maxBatchTokens), ...(variant.args ?? [])];
    servers.push(await startServer(args, {}, { captureLogs: false, root: variant.root, nodeArgs: variant.nodeArgs }));
  }
  const infos = await Promise.all(servers.map((server) => server.encoder().unary("getModelInfo")({})));
  const served = infos.map((info) => info.modelFile || FP32_FILE);
  const floor = await startFloor(infos[0].hiddenSize);
  const http2Floor = await startFloor(infos[0].hiddenSize, HTTP2_FLOOR);
  const floors = [
    { name: "transport floor", server: floor, cpu: { one: [] as number[], eight: [] as number[] } },
    { name: "node:http2 floor", server: http2Floor, cpu: { one: [] as number[], eight: [] as number[] } },
  ];
  const files = [...new Set([FP32_FILE, ...served])];
  const sizes = ceilingBatchSizes(options.maxBatchSize);
  const ceilingRuns = new Map(files.map((file) => [file, { cpu: [] as number[], rate: [] as number[], layout: [] as number[] }]));
  const perVariant = options.variants.map(() => ({
    cpu: { one: [] as number[], eight: [] as number[] },
    ratio: { one: [] as number[], eight: [] as number[] },
    layoutRatio: { one: [] as number[], eight: [] as number[] },
    rate: { one: [] as number[], eight: [] as number[] },
    batch: { one: [] as number[], eight: [] as number[] },
    padding: { one: [] as number[], eight: [] as number[] },
    threads: new Map<string, number>(),
    mainPerCall: { one: [] as number[], eight: [] as number[] },
    mainVsRest: { one: [] as number[], eight: [] as number[] },
  }));
  try {
    for (let rep = 0; rep < options.reps; rep++) {
      const ceilingOf = new Map<string, number>();
      const layoutOf = new Map<string, number>();
      for (const file of files) {
        const ceiling = sizes.map((size) => runCeiling({ ...options, maxBatchSize: size }, 0, file)).reduce((a, b) => (b.cpuSecondsPerSequence < a.cpuSecondsPerSequence ? b : a));
        ceilingRuns.get(file)!.cpu.push(ceiling.cpuSecondsPerSequence);
        ceilingRuns.get(file)!.rate.push(ceiling.sequencesPerSecond);
        ceilingOf.set(file, ceiling.cpuSecondsPerSequence);
        let layout = Infinity;
        for (const size of sizes) layout = Math.min(layout, await runLayoutCeiling({ ...options, maxBatchSize: size }, file));
        ceilingRuns.get(file)!.layout.push(layout);
        layoutOf.set(file, layout);
        log(
          `rep ${rep + 1}: ceiling ${file} ${(ceiling.cpuSecondsPerSequence * 1e3).toFixed(3)} ms CPU/seq, ${ceiling.sequencesPerSecond.toFixed(0)} seq/s; ` +
            `in the server's layout ${(layout * 1e3).toFixed(3)} ms CPU/seq`,
        );
      }
      for (const { name, server, cpu } of floors) {
        const embed = server.embed.unary("embed");
        for (const shape of SHAPES) {
          const requests = Math.ceil(texts.length / shape.perRequest);
          const call = (i: number): Promise<void> => embed({ inputs: texts.slice((i % requests) * shape.perRequest, ((i % requests) + 1) * shape.perRequest) }).then(() => {});
          await closedLoop(2 * shape.concurrency, shape.concurrency, call);
          // A floor's call costs about a tenth of a server's: FLOOR_PASSES over the texts give /proc's 10 ms ticks enough to count.
          const before = processCpuSeconds(server.child.pid!);
          await closedLoop(FLOOR_PASSES * requests, shape.concurrency, call);
          cpu[shape.key].push((processCpuSeconds(server.child.pid!) - before) / (FLOOR_PASSES * texts.length));
          log(`rep ${rep + 1}: ${name}, ${shape.label}: ${(cpu[shape.key].at(-1)! * 1e3).toFixed(3)} ms CPU/seq`);
        }
      }
      for (const [v, server] of servers.entries()) {
        const ceilingCpu = ceilingOf.get(served[v])!;
        const embed = server.encoder().unary("embed");
        for (const shape of SHAPES) {
          const requests = Math.ceil(texts.length / shape.perRequest);
          const call = (i: number): Promise<void> => embed({ inputs: texts.slice(i * shape.perRequest, (i + 1) * shape.perRequest) }).then(() => {});
          await closedLoop(Math.min(requests, 2 * shape.concurrency), shape.concurrency, call);
          const batchesBefore = await scrapeBatches(server);
          const threadsBefore = threadCpuSeconds(server.process.pid!);
          const before = processCpuSeconds(server.process.pid!);
          const seconds = await closedLoop(requests, shape.concurrency, call);
          const cpu = processCpuSeconds(server.process.pid!) - before;
          const threadsAfter = threadCpuSeconds(server.process.pid!);
          const batchesAfter = await scrapeBatches(server);
          const result = perVariant[v];
          result.cpu[shape.key].push(cpu / texts.length);
          result.ratio[shape.key].push(cpu / texts.length / ceilingCpu);
          result.layoutRatio[shape.key].push(cpu / texts.length / layoutOf.get(served[v])!);
          result.rate[shape.key].push(texts.length / seconds);
          result.batch[shape.key].push((batchesAfter.sum - batchesBefore.sum) / Math.max(1, batchesAfter.count - batchesBefore.count));
          result.padding[shape.key].push((batchesAfter.padded - batchesBefore.padded) / Math.max(1, batchesAfter.real - batchesBefore.real));
          const threads = threadDelta(threadsBefore, threadsAfter);
          const main = threads.get("main thread") ?? 0;
          const rest = [...threads.values()].reduce((a, b) => a + b, 0) - main;
          result.mainPerCall[shape.key].push(main / requests);
          result.mainVsRest[shape.key].push(main / rest);
          if (shape.key === "one") result.threads = threads;
          log(
            `rep ${rep + 1}: ${options.variants[v].name}, ${shape.label}: ${((cpu / texts.length) * 1e3).toFixed(3)} ms CPU/seq ` +
              `(${(cpu / texts.length / ceilingCpu).toFixed(2)}× ceiling), ${(texts.length / seconds).toFixed(0)} seq/s, mean batch ${result.batch[shape.key].at(-1)!.toFixed(1)}, ` +
              `padding ${result.padding[shape.key].at(-1)!.toFixed(2)}`,
          );
        }
      }
    }
    const ceilings: CeilingResult[] = files.map((file) => {
      const runs = ceilingRuns.get(file)!;
      const last = runCeiling(options, options.singles, file);
      const oneThread = runCeiling({ ...options, threads: 1 }, options.singles, file, IDLE_MS);
      return {
        modelFile: file,
        cpuPerSequence: median(runs.cpu),
        sequencesPerSecond: median(runs.rate),
        singleP50Ms: last.singleP50Ms,
        threads: options.threads,
        singleP50MsOneThread: oneThread.singleP50Ms,
        singleP50MsIdle: oneThread.singleIdleP50Ms,
        paddingRatio: last.paddingRatio,
        layoutCpuPerSequence: median(runs.layout),
      };
    });
    const variants: VariantResult[] = [];
    for (const [v, server] of servers.entries()) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const embed = server.encoder().unary("embed");
      const single = new Latencies();
      for (const text of texts.slice(0, options.singles)) {
        const t0 = performance.now();
        await embed({ inputs: [text] });
        single.add(performance.now() - t0);
      }
      const r = perVariant[v];
      const total = [...r.threads.values()].reduce((a, b) => a + b, 0);
      variants.push({
        name: options.variants[v].name,
        modelFile: served[v],
        cpuPerSequence: { one: median(r.cpu.one), eight: median(r.cpu.eight) },
        ratios: r.ratio,
        layoutRatios: r.layoutRatio,
        sequencesPerSecond: { one: median(r.rate.one), eight: median(r.rate.eight) },
        meanBatch: { one: median(r.batch.one), eight: median(r.batch.eight) },
        padding: { one: median(r.padding.one), eight: median(r.padding.eight) },
        threads: [...r.threads.entries()].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).map(([name, s]) => [name, s / total]),
        mainPerCall: { one: median(r.mainPerCall.one), eight: median(r.mainPerCall.eight) },
        mainVsRest: r.mainVsRest,
        singleP50Ms: single.percentile(50),
      });
    }
    const floorResults: FloorResult[] = [];
    for (const { server, cpu } of floors) {
      const single = new Latencies();
      const embed = server.embed.unary("embed");
      for (const text of texts.slice(0, options.singles)) {
        const t0 = performance.now();
        await embed({ inputs: [text] });
        single.add(performance.now() - t0);
      }
      floorResults.push({ cpuPerSequence: { one: median(cpu.one), eight: median(cpu.eight) }, singleP50Ms: single.percentile(50) });
    }
    return { ceilings, variants, floor: floorResults[0], http2Floor: floorResults[1] };
  } finally {
    await floor.stop();
    await http2Floor.stop();
    for (const server of servers) await server.stop();
  }
}

/** The report's section: CPU per sequence and latency at concurrency 1, every row against the ceilings of the same run. */
export function cpuSection(result: CpuResult, describe: string): string {
  const ms = (s: number): string => (s * 1e3).toFixed(3);
  const x = (values: number[]): string => `${median(values).toFixed(2)}× (${values.map((v) => v.toFixed(2)).join(", ")})`;
  const fp32 = result.ceilings[0];
  const threadsLabel = `${fp32.threads} intra-op threads`;
  const own = (file: string): CeilingResult => result.ceilings.find((c) => c.modelFile === file) ?? fp32;
  const ceilingRows = result.ceilings.map(
    (c) => `| ceiling: direct ONNX Runtime on ${c.modelFile}, length-sorted batches, own process | — | ${ms(c.cpuPerSequence)} | 1.00× | ${c.sequencesPerSecond.toFixed(0)} | ${(c.sequencesPerSecond / fp32.sequencesPerSecond).toFixed(2)}× | — | ${c.paddingRatio.toFixed(2)} |`,
  );
  const rows = result.variants.flatMap((v) =>
    SHAPES.map(
      (shape) =>
        `| ${v.name} (${v.modelFile}) | ${shape.label} | ${ms(v.cpuPerSequence[shape.key])} | ${x(v.ratios[shape.key])} | ${v.sequencesPerSecond[shape.key].toFixed(0)} | ${(v.sequencesPerSecond[shape.key] / fp32.sequencesPerSecond).toFixed(2)}× | ${v.meanBatch[shape.key].toFixed(1)} | ${v.padding[shape.key].toFixed(2)} |`,
    ),
  );
  const latency = result.variants.map((v) => {
    const c = own(v.modelFile);
    const fastest = Math.min(c.singleP50Ms, c.singleP50MsOneThread);
    const sign = (ms: number): string => `${ms >= 0 ? "+" : ""}${ms.toFixed(2)}`;
    return `| ${v.name} (${v.modelFile}) | ${v.singleP50Ms.toFixed(2)} | ${c.singleP50Ms.toFixed(2)} / ${c.singleP50MsOneThread.toFixed(2)} / ${c.singleP50MsIdle.toFixed(2)} (${c.modelFile}) | ${sign(v.singleP50Ms - fastest)} | ${sign(v.singleP50Ms - c.singleP50MsIdle)} | ${fp32.singleP50Ms.toFixed(2)} |`;
  });
  const layoutRows = [
    ...result.ceilings.map((c) => `| ceiling in the server's layout (${c.modelFile}) | — | ${ms(c.layoutCpuPerSequence)} | ${(c.layoutCpuPerSequence / c.cpuPerSequence).toFixed(2)}× | — |`),
    ...result.variants.flatMap((v) =>
      SHAPES.map((shape) => `| ${v.name} (${v.modelFile}) | ${shape.label} | ${ms(v.cpuPerSequence[shape.key])} | — | ${x(v.layoutRatios[shape.key])} |`),
    ),
  ];
  const floorRows = [
    ...SHAPES.map((shape) => `| transport floor: bare grpc-js, a fixed vector per text, no model | ${shape.label} | ${ms(result.floor.cpuPerSequence[shape.key])} | — | — | — | — | — |`),
    ...SHAPES.map((shape) => `| under it: bare node:http2, gRPC framing by hand, no grpc-js | ${shape.label} | ${ms(result.http2Floor.cpuPerSequence[shape.key])} | — | — | — | — | — |`),
  ];
  const floorShares = result.ceilings.map(
    (c) => `${c.modelFile}: ${SHAPES.map((shape) => `${((result.floor.cpuPerSequence[shape.key] / c.cpuPerSequence) * 100).toFixed(0)}% (${shape.label})`).join(", ")}`,
  );
  // The least any Node.js server can spend: Node's HTTP/2 per call plus ONNX Runtime's own work, in the cheaper layout.
  const bounds = [...new Set(result.variants.map((v) => v.modelFile))].map((file) => {
    const c = own(file);
    const inference = Math.min(c.cpuPerSequence, c.layoutCpuPerSequence);
    return `${file}: ${SHAPES.map((shape) => {
      const bound = result.http2Floor.cpuPerSequence[shape.key] + inference;
      const left = 1.15 * c.cpuPerSequence - bound;
      return `${ms(bound)} ms (${(bound / c.cpuPerSequence).toFixed(2)}× its ceiling) at ${shape.label}, leaving ${ms(Math.max(0, left) * shape.perRequest)} ms per call under the 1.15× bar`;
    }).join("; ")}`;
  });
  const threads = result.variants.map((v) => `| ${v.name} | ${v.threads.slice(0, 6).map(([name, share]) => `${name} ${(share * 100).toFixed(0)}%`).join(", ")} |`);
  const mainRows = result.variants.flatMap((v) =>
    SHAPES.map((shape) => {
      const each = v.mainVsRest[shape.key];
      return `| ${v.name} | ${shape.label} | ${(v.mainPerCall[shape.key] * 1e3).toFixed(3)} | ${median(each).toFixed(3)} (${each.map((x) => x.toFixed(3)).join(", ")}) |`;
    }),
  );
  return `## CPU per sequence at saturation

${describe}

| server | load | CPU ms/seq (median) | vs its file's ceiling: median (each rep) | seq/s | seq/s × fp32 ceiling | mean batch | padded ÷ real tokens |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${ceilingRows.join("\n")}
${rows.join("\n")}
${floorRows.join("\n")}

Target: ≤ 1.15× the ceiling of the same file. Padding is what the batches ran beyond the texts' own
tokens: the server's from its metrics (bertd_batch_tokens ÷ bertd_input_tokens), the ceiling's from its
length-sorted batches; it costs ONNX Runtime about as much CPU as real tokens. The transport floor alone (what grpc-js and Node's HTTP/2 cost
per call, measured the same way) is, as a share of each ceiling's CPU per sequence: ${floorShares.join("; ")}.
Node's HTTP/2 alone, without grpc-js, costs ${SHAPES.map((shape) => `${((result.http2Floor.cpuPerSequence[shape.key] / result.floor.cpuPerSequence[shape.key]) * 100).toFixed(0)}%`).join(" and ")} of
that floor: what grpc-js adds is the rest. Node's HTTP/2 floor plus the lower of the two ceilings below is
the least a Node.js server can spend per sequence, before it tokenizes, batches or encodes anything:
${bounds.join("; ")}.

The same servers against the ceiling in the server's own layout: ${fp32.threads} ceiling processes of one intra-op
thread each, on the same batches at once, as the inference workers run (each rep beside the ceiling above).
One thread spends nothing on synchronising with another, so on some machines this ceiling is the lower.

| server | load | CPU ms/seq (median) | layout ceiling ÷ ceiling above | vs the layout ceiling: median (each rep) |
| --- | --- | ---: | ---: | ---: |
${layoutRows.join("\n")}

| server | p50 one text, concurrency 1 (ms) | direct ONNX Runtime, same file: ${threadsLabel} / 1 thread / 1 thread after ${IDLE_MS} ms idle (ms) | difference to the faster back-to-back | difference to 1 thread after ${IDLE_MS} ms idle | direct ONNX Runtime, fp32 (ms) |
| --- | ---: | ---: | ---: | ---: | ---: |
${latency.join("\n")}
| transport floor: bare grpc-js, a fixed vector, no model | ${result.floor.singleP50Ms.toFixed(2)} | — | — | — | — |
| under it: bare node:http2, no grpc-js | ${result.http2Floor.singleP50Ms.toFixed(2)} | — | — | — | — |

Target: ≤ direct ONNX Runtime on the same file + 1 ms. The direct runs go back to back, with
${threadsLabel} and with one (an inference worker runs one; for one short text, waking a second thread
often costs more than it saves), and with one thread idle ${IDLE_MS} ms before each run: a worker serving
one client idles between its calls, and a run after an idle spell is slower (caches, clock), so that
column is what a server at concurrency 1 can reach. The floor's row is a gRPC round trip on loopback with nothing behind it, client and
server on these cores: of each difference above, that much is the transport's.

The gRPC thread (grpc-js, HTTP/2, protobuf, tokenization, the batcher, metrics, the call's log line) per
call, and against the server's other threads (the workers and ONNX Runtime, V8's helpers) in the same
measurement: a machine's drift moves both alike, so that ratio shows a change to the per-call work that
the CPU-per-sequence ratios above cannot resolve.

| server | load | gRPC thread CPU ms per call (median) | gRPC thread ÷ other threads: median (each rep) |
| --- | --- | ---: | ---: |
${mainRows.join("\n")}

Where the server's CPU went (1 text/request, last rep, by thread name):

| server | threads |
| --- | --- |
${threads.join("\n")}
`;
}
