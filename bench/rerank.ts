/**
 * npm run bench:rerank — bertd.v1 Encoder.Rerank of 1 query × 32 documents against the ceiling: direct
 * ONNX Runtime on the same pair encoding and the same batch of 32 pairs, rounds interleaved in one run,
 * medians of the rounds. Two models: the default one (models/default, its served precision) with a
 * pair head taught through Adapt, and a classifier-only cross-encoder export (tools/generator
 * --classifier relevant --classifier-only, the default model's shape, random weights) served by its own
 * classifier. Queries are Debian short descriptions, documents long descriptions
 * (test/fixtures/debian-package-descriptions). Writes docs/benchmarks/rerank.md.
 *
 * Options: --rounds N (default 5), --calls N per round and row (default 16), --quick (3 rounds of 8).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { loadTokenizer } from "../src/core/tokenizer/index.js";
import { Promotion } from "../src/gen/bertd/v1/heads_pb.js";
import { generateBertModel } from "../tools/generator/index.js";
import { adapt } from "../test/helpers/adapt-client.js";
import { descriptionPackages, descriptionPairs } from "../test/helpers/description-pairs.js";
import { ROOT, startServer, type ServerProcess } from "../test/helpers/server-process.js";
import { Latencies, closedLoop } from "./lib/latency.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    calls: { type: "string", default: "16" },
    quick: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "docs", "benchmarks", "rerank.md") },
  },
});
const ROUNDS = args.quick ? 3 : Number(args.rounds);
const CALLS = args.quick ? 8 : Number(args.calls);
const DOCUMENTS = 32;
const IN_FLIGHT = 4;
const threads = availableParallelism();
const log = (line: string): void => console.error(line);

/** Call i: package i's short description against 32 long descriptions, its own among them. */
const packages = descriptionPackages();
const queries = Array.from({ length: CALLS }, (_, i) => ({
  query: packages[i].short,
  documents: Array.from({ length: DOCUMENTS }, (_, d) => packages[(i + d * 7) % packages.length].long),
}));

interface Subject {
  readonly name: string;
  readonly modelDir: string;
  /** The file the server loads with these flags. */
  readonly modelFile: string;
  readonly serverFlags: string[];
  /** Pair head to rerank with (taught first), or none: the model's own classifier. */
  readonly head?: { name: string; label: string };
  readonly output: "last_hidden_state" | "logits";
}

interface Round {
  /** The ceiling's fastest split this round: pairs per ONNX Runtime run. */
  ceilingChunk: number;
  ceilingMs: number;
  ceilingDocsPerSecond: number;
  serverMs: number;
  serverDocsPerSecond: number;
  serverInFlightDocsPerSecond: number;
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Sequences per ONNX Runtime run the ceiling tries (a call's sequences sorted by length); the fastest counts. */
const CHUNKS = [72, 32, 16, 8];

/**
 * The ceiling: each call's sequences encoded beforehand with the server's own tokenizer: the 32 pairs,
 * and for a pair head also the query and each document alone (its features need them,
 * src/core/pair-features.ts); sorted by length, run in chunks of `chunk` (less padding than one batch),
 * pooled as the server pools.
 */
async function ceiling(subject: Subject): Promise<{ run: (i: number, chunk: number) => Promise<void>; release: () => Promise<void> }> {
  const tokenizer = loadTokenizer(subject.modelDir);
  const session = await ort.InferenceSession.create(join(subject.modelDir, subject.modelFile), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
  const feedsOf = (encoded: { ids: Int32Array; typeIds?: Int32Array }[]): { feed: Record<string, ort.Tensor>; lengths: number[]; length: number } => {
    const rows = encoded.length;
    const length = Math.max(...encoded.map((e) => e.ids.length));
    const ids = new BigInt64Array(rows * length);
    const mask = new BigInt64Array(rows * length);
    const types = new BigInt64Array(rows * length);
    encoded.forEach((e, r) => e.ids.forEach((id, t) => ((ids[r * length + t] = BigInt(id)), (mask[r * length + t] = 1n), (types[r * length + t] = BigInt(e.typeIds?.[t] ?? 0)))));
    const shape = [rows, length];
    const feed: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", ids, shape), attention_mask: new ort.Tensor("int64", mask, shape) };
    if (session.inputNames.includes("token_type_ids")) feed.token_type_ids = new ort.Tensor("int64", types, shape);
    return { feed, lengths: encoded.map((e) => e.ids.length), length };
  };
  const calls = queries.map(({ query, documents }) => {
    const pairs = documents.map((d) => tokenizer.encodePair(query, d, { truncation: { maxLength: 512, strategy: "longest_first", direction: "right" } }));
    const alone = subject.head ? [...new Set([query, ...documents])].map((text) => tokenizer.encode(text)) : [];
    const encoded = [...pairs, ...alone].sort((a, b) => a.ids.length - b.ids.length);
    return new Map(CHUNKS.map((chunk) => [chunk, Array.from({ length: Math.ceil(encoded.length / chunk) }, (_, c) => feedsOf(encoded.slice(c * chunk, (c + 1) * chunk)))]));
  });
  return {
    run: async (i, chunk) => {
      for (const { feed, lengths, length } of calls[i].get(chunk)!) {
        const out = await session.run(feed, [subject.output]);
        const data = out[subject.output].data as Float32Array;
        if (subject.output === "last_hidden_state") {
          const width = data.length / (lengths.length * length);
          lengths.forEach((n, r) => {
            const pooled = new Float32Array(width);
            for (let t = 0; t < n; t++) for (let h = 0; h < width; h++) pooled[h] += data[(r * length + t) * width + h];
            for (let h = 0; h < width; h++) pooled[h] /= n;
          });
        }
        out[subject.output].dispose();
      }
    },
    release: () => session.release(),
  };
}

async function teach(server: ServerProcess, head: { name: string; label: string }): Promise<void> {
  const train = descriptionPairs("train", 7).slice(0, 64);
  await adapt(
    server.heads(),
    { head: head.name, labels: ["match", "other"], pair: true, promotion: Promotion.ALWAYS },
    train.map((p) => ({ id: p.id, text: p.text, textPair: p.textPair, labels: [p.label] })),
  );
}

async function measure(subject: Subject): Promise<Round[]> {
  const direct = await ceiling(subject);
  const server = await startServer(["--model-dir", subject.modelDir, ...subject.serverFlags], {}, { captureLogs: false });
  const rerank = server.encoder().unary("rerank");
  const call = async (i: number): Promise<void> => {
    const response = await rerank({ ...queries[i], head: subject.head?.name ?? "", label: subject.head?.label ?? "" });
    if (response.ranks.length !== DOCUMENTS) throw new Error(`Rerank answered ${response.ranks.length} ranks of ${DOCUMENTS}`);
  };
  const rounds: Round[] = [];
  try {
    if (subject.head) await teach(server, subject.head);
    for (let i = 0; i < CALLS; i++) await Promise.all([call(i), ...CHUNKS.map((chunk) => direct.run(i, chunk))]); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      let best = { chunk: 0, ms: Infinity, seconds: Infinity };
      for (const chunk of CHUNKS) {
        const latency = new Latencies();
        const seconds = await closedLoop(CALLS, 1, async (i) => {
          const t0 = performance.now();
          await direct.run(i, chunk);
          latency.add(performance.now() - t0);
        });
        if (latency.percentile(50) < best.ms) best = { chunk, ms: latency.percentile(50), seconds };
      }
      const serverLatency = new Latencies();
      const serverSeconds = await closedLoop(CALLS, 1, async (i) => {
        const t0 = performance.now();
        await call(i);
        serverLatency.add(performance.now() - t0);
      });
      const inFlightSeconds = await closedLoop(CALLS, IN_FLIGHT, call);
      rounds.push({
        ceilingChunk: best.chunk,
        ceilingMs: best.ms,
        ceilingDocsPerSecond: (CALLS * DOCUMENTS) / best.seconds,
        serverMs: serverLatency.percentile(50),
        serverDocsPerSecond: (CALLS * DOCUMENTS) / serverSeconds,
        serverInFlightDocsPerSecond: (CALLS * DOCUMENTS) / inFlightSeconds,
      });
      const r = rounds.at(-1)!;
      log(`${subject.name} round ${round + 1}: ceiling (runs of ${r.ceilingChunk}) ${r.ceilingMs.toFixed(1)} ms ${r.ceilingDocsPerSecond.toFixed(0)} docs/s; server ${r.serverMs.toFixed(1)} ms ${r.serverDocsPerSecond.toFixed(0)} docs/s, ${IN_FLIGHT} in flight ${r.serverInFlightDocsPerSecond.toFixed(0)} docs/s`);
    }
  } finally {
    await server.stop();
    await direct.release();
  }
  return rounds;
}

const crossEncoderDir = mkdtempSync(join(tmpdir(), "bertd-rerank-bench-"));
const subjects: Subject[] = [
  {
    name: "models/default (int8), pair head taught through Adapt",
    modelDir: join(ROOT, "models", "default"),
    modelFile: "model_quantized.onnx",
    serverFlags: ["--precision", "int8"],
    head: { name: "description-match", label: "match" },
    output: "last_hidden_state",
  },
  {
    name: "classifier-only cross-encoder export (fp32, 4 × 256, one logit)",
    modelDir: crossEncoderDir,
    modelFile: "model.onnx",
    serverFlags: ["--precision", "fp32"],
    output: "logits",
  },
];
const results: [Subject, Round[]][] = [];
try {
  await generateBertModel({ outDir: crossEncoderDir, layers: 4, hidden: 256, heads: 4, intermediate: 1024, labels: ["relevant"], classifierOnly: true, vocabDir: join(ROOT, "models", "default") });
  for (const subject of subjects) results.push([subject, await measure(subject)]);
} finally {
  rmSync(crossEncoderDir, { recursive: true, force: true });
}

const f = (x: number, digits = 1): string => x.toFixed(digits);
const rows = results.map(([subject, rounds]) => {
  const m = (key: keyof Round): number => median(rounds.map((r) => r[key]));
  return (
    `| ${subject.name} | ${[...new Set(rounds.map((r) => r.ceilingChunk))].map((c) => `runs of ${c}`).join(", ")} | ${f(m("serverMs"))} | ${f(m("ceilingMs"))} | ${f(m("serverMs") / m("ceilingMs"), 2)}× | ` +
    `${f(m("serverDocsPerSecond"), 0)} | ${f(m("serverInFlightDocsPerSecond"), 0)} | ${f(m("ceilingDocsPerSecond"), 0)} | ${f(m("serverDocsPerSecond") / m("ceilingDocsPerSecond"), 2)}× | ${f(m("serverInFlightDocsPerSecond") / m("ceilingDocsPerSecond"), 2)}× |`
  );
});
const report = `# Rerank: 1 query × ${DOCUMENTS} documents

Measured by \`npm run bench:rerank\` (bench/rerank.ts) on ${new Date().toISOString().slice(0, 10)}: ${cpus()[0]?.model ?? "unknown CPU"}, ${threads} cores;
Node ${process.version}, ONNX Runtime ${ort.env.versions.node}, CPU provider, one server worker. Each call reranks ${DOCUMENTS} Debian long
package descriptions for a short one (test/fixtures/debian-package-descriptions; ${CALLS} different calls per round). The
ceiling is direct ONNX Runtime in the benchmark's process on the same ${DOCUMENTS} pairs, encoded beforehand by the server's
own tokenizer (the same pair template and ids), the same model file, session options and threads. A pair head's
features also need the query and each document encoded alone (src/core/pair-features.ts): its ceiling runs those ${DOCUMENTS + 1}
texts too, and mean-pools every sequence (the features' products and the head's small matrix product are left out). The
ceiling sorts a call's sequences by length and runs them in chunks of ${CHUNKS.join(", ")} (less padding than one batch), whichever
was fastest that round (the split column). ${ROUNDS} rounds, each: the ceiling, then the server with one
call at a time, then ${IN_FLIGHT} calls in flight; the table gives the medians of the rounds. The client runs on the same machine, which
is shared and noisy: read the ratios more than the absolute numbers.

| model and scorer | ceiling split | server p50 ms | ceiling p50 ms | latency ratio | server docs/s (1 call) | server docs/s (${IN_FLIGHT} calls) | ceiling docs/s | throughput ratio (1 call) | throughput ratio (${IN_FLIGHT} calls) |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}

Latency ratio: server time per call / ceiling time per run (1.00× is no overhead). Throughput ratio: server documents
per second / the ceiling's. The server's extra time per call is tokenizing the ${DOCUMENTS} pairs, the batcher, the worker
hand-off, the head or the sigmoid, sorting, and the gRPC round trip.
`;
writeFileSync(args.out, report);
console.log(report);
