import { status, type ServiceError } from "@grpc/grpc-js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import type { ServerProcess } from "../helpers/server-process.js";
import { inputs, percentile, sampleRss, timedEmbed } from "./load.js";

export interface SoakOptions {
  readonly seconds: number;
  /** Closed-loop callers of each kind. */
  readonly embedders?: number;
  readonly classifiers?: number;
  /** Adapt writers, each streaming 50 new examples and a commit in a row on its own head, deleted every 20 streams. */
  readonly adapters?: number;
}

export interface SoakReport {
  readonly seconds: number;
  readonly calls: Record<string, number>;
  readonly errors: number;
  readonly firstErrors: string[];
  readonly embedP99Ms: number;
  readonly commits: number;
  /** RSS once warm (after the first quarter), at the end, and at most, in MiB. */
  readonly rssWarmMb: number;
  readonly rssEndMb: number;
  readonly rssMaxMb: number;
  /** Least-squares RSS trend over the last three quarters, MiB per minute. */
  readonly rssSlopeMbPerMin: number;
  /** V8 heap used and external (ArrayBuffer) memory at the start and the end, MiB: tells a JS leak from native growth. */
  readonly heapUsedMb: readonly [number, number];
  readonly externalMb: readonly [number, number];
  /** Every tenth of the run: seconds in, RSS, V8 heap used and external memory (MiB). */
  readonly curve: readonly { s: number; rssMb: number; heapMb: number; externalMb: number }[];
}

/** A gauge of the server's default process metrics, in MiB. */
async function processGaugeMb(server: ServerProcess, name: string): Promise<number> {
  return ((await scrapeMetrics(server)).value(name) ?? NaN) / 2 ** 20;
}

const LABELS = ["sport", "food", "music"];
const RESTART_EVERY = 20;

export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Mixed Embed, Classify and Adapt load for a while, sampling the server's RSS every second. */
export async function soak(server: ServerProcess, options: SoakOptions): Promise<SoakReport> {
  const calls: Record<string, number> = { Embed: 0, Classify: 0, Adapt: 0, DeleteHead: 0 };
  const firstErrors: string[] = [];
  let errors = 0;
  const failed = (method: string, detail: string): void => {
    errors++;
    if (firstErrors.length < 10) firstErrors.push(`${method}: ${detail}`);
  };
  await adapt(server.heads(), { head: "soak", labels: LABELS, hyperparameters: { replayPasses: 1 } }, toyExamples(60, LABELS, "warm"));
  const heapBefore = await processGaugeMb(server, "nodejs_heap_size_used_bytes");
  const externalBefore = await processGaugeMb(server, "nodejs_external_memory_bytes");
  const rss = sampleRss(server.process.pid!, 1000);
  const curve: { s: number; rssMb: number; heapMb: number; externalMb: number }[] = [];
  const sampleCurve = async (): Promise<void> => {
    const s = Math.round((performance.now() - (until - options.seconds * 1000)) / 1000);
    const [heapMb, externalMb] = await Promise.all([processGaugeMb(server, "nodejs_heap_size_used_bytes"), processGaugeMb(server, "nodejs_external_memory_bytes")]);
    curve.push({ s, rssMb: rss.samples.at(-1)?.mb ?? NaN, heapMb: Math.round(heapMb), externalMb: Math.round(externalMb) });
  };
  const curveTimer = setInterval(() => void sampleCurve().catch(() => {}), (options.seconds * 1000) / 10);
  const until = performance.now() + options.seconds * 1000;
  const embedMs: number[] = [];
  let commits = 0;
  let salt = 0;
  const embedder = async (): Promise<void> => {
    while (performance.now() < until) {
      const outcome = await timedEmbed(server, inputs(8, 16, salt++));
      calls.Embed++;
      if (outcome.code === status.OK) embedMs.push(outcome.ms);
      else failed("Embed", status[outcome.code]);
    }
  };
  const classifier = async (): Promise<void> => {
    const classify = server.encoder().unary("classify");
    while (performance.now() < until) {
      calls.Classify++;
      await classify({ head: "soak", inputs: inputs(4, 8, salt++) }).catch((error: ServiceError) => failed("Classify", `${status[error.code]} ${error.details}`));
    }
  };
  // Writes its own head, deleted every RESTART_EVERY streams: the data stays bounded, so a growing RSS means a leak.
  const adapter = async (writer: number): Promise<void> => {
    const heads = server.heads();
    const deleteHead = heads.unary("deleteHead");
    const head = `soak-train-${writer}`;
    let stream = 0;
    while (performance.now() < until) {
      if (stream > 0 && stream % RESTART_EVERY === 0) {
        calls.DeleteHead++;
        await deleteHead({ head }).catch((error: ServiceError) => failed("DeleteHead", `${status[error.code]} ${error.details}`));
      }
      calls.Adapt++;
      const examples = toyExamples(50, LABELS, `soak-${stream++}`, stream);
      await adapt(heads, { head, labels: LABELS, hyperparameters: { replayPasses: 1 } }, [...examples, "commit"]).then(
        (result) => (commits += result.committed.length),
        (error: ServiceError) => failed("Adapt", `${status[error.code]} ${error.details}`),
      );
    }
  };
  await Promise.all([
    ...Array.from({ length: options.embedders ?? 2 }, embedder),
    ...Array.from({ length: options.classifiers ?? 1 }, classifier),
    ...Array.from({ length: options.adapters ?? 1 }, (_, writer) => adapter(writer)),
  ]);
  rss.stop();
  clearInterval(curveTimer);
  await sampleCurve();
  const heapUsedMb = [heapBefore, await processGaugeMb(server, "nodejs_heap_size_used_bytes")] as const;
  const externalMb = [externalBefore, await processGaugeMb(server, "nodejs_external_memory_bytes")] as const;
  const warm = rss.samples.filter((s) => s.atMs >= (options.seconds * 1000) / 4);
  return {
    seconds: options.seconds,
    calls,
    errors,
    firstErrors,
    embedP99Ms: percentile(embedMs, 99),
    commits,
    rssWarmMb: warm[0]?.mb ?? NaN,
    rssEndMb: rss.samples.at(-1)?.mb ?? NaN,
    rssMaxMb: Math.max(...rss.samples.map((s) => s.mb)),
    rssSlopeMbPerMin: slope(warm.map((s) => ({ x: s.atMs / 60_000, y: s.mb }))),
    heapUsedMb,
    externalMb,
    curve,
  };
}
