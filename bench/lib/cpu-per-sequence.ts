import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startServer, type ServerProcess } from "../../test/helpers/server-process.js";
import { median, processCpuSeconds, threadCpuSeconds, threadDelta } from "./cpu-time.js";
import { Latencies, closedLoop } from "./latency.js";

/** A server to measure: this checkout, or another one (a baseline), with its own extra options. */
export interface ServerVariant {
  readonly name: string;
  readonly root?: string;
  readonly args?: readonly string[];
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
  /** Median over reps of server CPU seconds per sequence (all threads), by shape. */
  readonly cpuPerSequence: Record<ShapeKey, number>;
  /** Each rep's ratio to the ceiling of the same rep, by shape. */
  readonly ratios: Record<ShapeKey, number[]>;
  readonly sequencesPerSecond: Record<ShapeKey, number>;
  readonly meanBatch: Record<ShapeKey, number>;
  /** Share of the server's CPU by thread name, 1 text/request, last rep. */
  readonly threads: [string, number][];
  readonly singleP50Ms: number;
}

export interface CpuResult {
  readonly ceilingCpuPerSequence: number;
  readonly ceilingSequencesPerSecond: number;
  readonly ceilingSingleP50Ms: number;
  readonly variants: VariantResult[];
}

const CEILING = fileURLToPath(new URL("./ceiling.ts", import.meta.url));

/** The ceiling (ceiling.ts) in its own process on these texts: direct ONNX Runtime on length-sorted batches. */
export function runCeiling(
  options: Pick<CpuOptions, "modelDir" | "texts" | "threads" | "maxBatchSize" | "maxBatchTokens">,
  singles: number,
): { cpuSecondsPerSequence: number; sequencesPerSecond: number; singleP50Ms: number } {
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", CEILING, options.modelDir, String(options.threads), String(options.maxBatchSize), String(options.maxBatchTokens), String(singles)],
    { encoding: "utf8", input: JSON.stringify(options.texts), maxBuffer: 1 << 24 },
  );
  if (child.status !== 0) throw new Error(`ceiling run failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as { cpuSecondsPerSequence: number; sequencesPerSecond: number; singleP50Ms: number };
}

async function scrapeBatches(server: ServerProcess): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const read = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { sum: read("bertd_batch_size_sum"), count: read("bertd_batch_size_count") };
}

/**
 * Server-process CPU seconds per sequence (all threads, from /proc) against the ceiling's, the ceiling
 * rerun before each round of server measurements; then p50 latency at concurrency 1.
 */
export async function measureCpuPerSequence(options: CpuOptions): Promise<CpuResult> {
  const { texts, log } = options;
  const servers: ServerProcess[] = [];
  for (const variant of options.variants) {
    const args = ["--model-dir", options.modelDir, "--max-batch-size", String(options.maxBatchSize), "--max-batch-tokens", String(options.maxBatchTokens), ...(variant.args ?? [])];
    servers.push(await startServer(args, {}, { captureLogs: false, root: variant.root }));
  }
  const ceilings: number[] = [];
  const ceilingRates: number[] = [];
  const perVariant = options.variants.map(() => ({
    cpu: { one: [] as number[], eight: [] as number[] },
    ratio: { one: [] as number[], eight: [] as number[] },
    rate: { one: [] as number[], eight: [] as number[] },
    batch: { one: [] as number[], eight: [] as number[] },
    threads: new Map<string, number>(),
  }));
  try {
    for (let rep = 0; rep < options.reps; rep++) {
      const ceiling = runCeiling(options, 0);
      ceilings.push(ceiling.cpuSecondsPerSequence);
      ceilingRates.push(ceiling.sequencesPerSecond);
      log(`rep ${rep + 1}: ceiling ${(ceiling.cpuSecondsPerSequence * 1e3).toFixed(3)} ms CPU/seq, ${ceiling.sequencesPerSecond.toFixed(0)} seq/s`);
      for (const [v, server] of servers.entries()) {
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
          result.ratio[shape.key].push(cpu / texts.length / ceiling.cpuSecondsPerSequence);
          result.rate[shape.key].push(texts.length / seconds);
          result.batch[shape.key].push((batchesAfter.sum - batchesBefore.sum) / Math.max(1, batchesAfter.count - batchesBefore.count));
          if (shape.key === "one") result.threads = threadDelta(threadsBefore, threadsAfter);
          log(
            `rep ${rep + 1}: ${options.variants[v].name}, ${shape.label}: ${((cpu / texts.length) * 1e3).toFixed(3)} ms CPU/seq ` +
              `(${(cpu / texts.length / ceiling.cpuSecondsPerSequence).toFixed(2)}× ceiling), ${(texts.length / seconds).toFixed(0)} seq/s, mean batch ${result.batch[shape.key].at(-1)!.toFixed(1)}`,
          );
        }
      }
    }
    const ceilingSingle = runCeiling(options, options.singles);
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
        cpuPerSequence: { one: median(r.cpu.one), eight: median(r.cpu.eight) },
        ratios: r.ratio,
        sequencesPerSecond: { one: median(r.rate.one), eight: median(r.rate.eight) },
        meanBatch: { one: median(r.batch.one), eight: median(r.batch.eight) },
        threads: [...r.threads.entries()].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).map(([name, s]) => [name, s / total]),
        singleP50Ms: single.percentile(50),
      });
    }
    return {
      ceilingCpuPerSequence: median(ceilings),
      ceilingSequencesPerSecond: median(ceilingRates),
      ceilingSingleP50Ms: ceilingSingle.singleP50Ms,
      variants,
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}

/** The report's section: CPU per sequence and latency at concurrency 1, every row against the ceiling of the same run. */
export function cpuSection(result: CpuResult, describe: string): string {
  const ms = (s: number): string => (s * 1e3).toFixed(3);
  const x = (values: number[]): string => `${median(values).toFixed(2)}× (${values.map((v) => v.toFixed(2)).join(", ")})`;
  const rows = result.variants.flatMap((v) =>
    SHAPES.map(
      (shape) =>
        `| ${v.name} | ${shape.label} | ${ms(v.cpuPerSequence[shape.key])} | ${x(v.ratios[shape.key])} | ${v.sequencesPerSecond[shape.key].toFixed(0)} | ${v.meanBatch[shape.key].toFixed(1)} |`,
    ),
  );
  const latency = result.variants.map((v) => `| ${v.name} | ${v.singleP50Ms.toFixed(2)} | +${(v.singleP50Ms - result.ceilingSingleP50Ms).toFixed(2)} |`);
  const threads = result.variants.map((v) => `| ${v.name} | ${v.threads.slice(0, 6).map(([name, share]) => `${name} ${(share * 100).toFixed(0)}%`).join(", ")} |`);
  return `## CPU per sequence at saturation

${describe}

| server | load | CPU ms/seq (median) | vs ceiling: median (each rep) | seq/s | mean batch |
| --- | --- | ---: | ---: | ---: | ---: |
| ceiling: direct ONNX Runtime, length-sorted batches, own process | — | ${ms(result.ceilingCpuPerSequence)} | 1.00× | ${result.ceilingSequencesPerSecond.toFixed(0)} | — |
${rows.join("\n")}

Target: ≤ 1.15× the ceiling.

| server | p50 one text, concurrency 1 (ms) | vs direct ONNX Runtime (${result.ceilingSingleP50Ms.toFixed(2)} ms) |
| --- | ---: | ---: |
${latency.join("\n")}

Target: ≤ direct ONNX Runtime + 1 ms.

Where the server's CPU went (1 text/request, last rep, by thread name):

| server | threads |
| --- | --- |
${threads.join("\n")}
`;
}
