/**
 * npm run gpu:check — bertd on ONNX Runtime's CUDA provider, checked and measured in one run:
 *  1. correctness: embeddings from `--device cuda` against a `--device cpu` server. ONNX Runtime's CUDA
 *     provider runs fp32 MatMuls in TF32 (its use_tf32 defaults to on, and onnxruntime-node cannot pass
 *     provider options), so fp32 is checked twice: as served (cosine ≥ 0.9999) and with
 *     NVIDIA_TF32_OVERRIDE=0, full fp32 (max abs diff ≤ 1e-3); fp16 needs cosine ≥ 0.999;
 *  2. throughput and latency at batch 1, 32, 128 and 256 and sequence length 32 and 128, for a
 *     BERT-base-shaped (12 × 768) and a MiniLM-shaped (6 × 384) generated model, fp32 and fp16: the server
 *     against direct ONNX Runtime on the same device fetching last_hidden_state (the ceiling), direct as
 *     the server's worker runs it (its session options, its graph with pooled outputs), and the CPU for
 *     the speedup; from the server's /metrics, where its
 *     time went (ONNX Runtime run and pooling per batch inside the worker, batch size, tokenize and queue
 *     per call);
 *  3. fused attention, direct: the first model with each layer's self-attention as ONNX Runtime's
 *     MultiHeadAttention op against standard ops, at the longest sequence;
 *  4. Adapt on the device: examples/s of one Adapt stream (no replay) next to Embed texts/s on the same
 *     texts, model and server (the MiniLM-shaped one when measured, else the first);
 *  5. a short table printed last and appended to docs/benchmarks/serving.md with the card and the date.
 *
 *   npm run gpu:check                              # on the GPU machine (see docs/gpu.md)
 *   npm run gpu:check -- --device cpu --quick      # dry run anywhere: small model and sizes, no append
 *
 * Options: --device cuda|cuda:N|cpu, --quick, --models base,minilm, --seconds S (per cell),
 * --out FILE (default docs/benchmarks/serving.md; --quick: bench/out/gpu-check/dry-run.md), --no-append.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { POOLED_OUTPUTS, withPooledOutputs } from "../src/backends/onnx/pooled-outputs.js";
import { asFloat32 } from "../src/backends/onnx/outputs.js";
import { openSession } from "../src/backends/onnx/session.js";
import { parseDevice } from "../src/config.js";
import { Encoding, Pooling } from "../src/gen/bertd/v1/encoder_pb.js";
import { generateBertModel, PRESETS } from "../tools/generator/index.js";
import { ROOT, startServer, type ServerProcess } from "../test/helpers/server-process.js";
import { adapt } from "../test/helpers/adapt-client.js";
import { longTexts, readSplit, shortTexts } from "./lib/corpus.js";
import { Latencies } from "./lib/latency.js";

export interface GpuCheckArgs {
  readonly device: string;
  readonly quick: boolean;
  readonly models: readonly (keyof typeof PRESETS)[];
  readonly seconds: number;
  readonly out: string;
  readonly append: boolean;
  readonly batches: readonly number[];
  readonly sequences: readonly number[];
}

export function parseGpuCheckArgs(argv: readonly string[]): GpuCheckArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      device: { type: "string", default: "cuda" },
      quick: { type: "boolean", default: false },
      models: { type: "string" },
      seconds: { type: "string" },
      out: { type: "string" },
      "no-append": { type: "boolean", default: false },
    },
  });
  const device = parseDevice(values.device);
  if (device.kind === "auto") throw new Error("--device must be cuda, cuda:N or cpu (auto would hide which one was measured)");
  const quick = values.quick;
  const models = (values.models ?? (quick ? "default" : "base,minilm")).split(",").map((m) => m.trim());
  for (const m of models) if (!Object.hasOwn(PRESETS, m)) throw new Error(`--models: unknown model "${m}" (one of ${Object.keys(PRESETS).join(", ")})`);
  const seconds = Number(values.seconds ?? (quick ? "0.4" : "2"));
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds must be a positive number, got "${values.seconds}"`);
  return {
    device: values.device,
    quick,
    models: models as (keyof typeof PRESETS)[],
    seconds,
    out: values.out ?? (quick ? join(ROOT, "bench", "out", "gpu-check", "dry-run.md") : join(ROOT, "docs", "benchmarks", "serving.md")),
    append: !values["no-append"],
    batches: quick ? [1, 8] : [1, 32, 128, 256],
    sequences: quick ? [16, 32] : [32, 128],
  };
}

const FP32_TOLERANCE = 1e-3;
const TF32_MIN_COSINE = 0.9999;
const FP16_MIN_COSINE = 0.999;

interface Cell {
  model: string;
  precision: "fp32" | "fp16";
  sequence: number;
  batch: number;
  directSeqPerSec: number;
  directP50: number;
  /** p50 of session.run as the worker makes it: its session options and pooled-output graph, fetching mean rows. */
  serverOptionsP50: number;
  serverSeqPerSec: number;
  serverP50: number;
  concurrency: number;
  /** From the server's /metrics over the one-caller latency run and over the throughput run. */
  alone: Breakdown;
  breakdown: Breakdown;
}

/** Where the server's time went over a run: means per batch and per call, from /metrics deltas. */
interface Breakdown {
  batches: number;
  meanBatchSize: number;
  runMsPerBatch: number;
  poolingMsPerBatch: number;
  tokenizeMsPerCall: number;
  queueMsPerCall: number;
  callMs: number;
}

type Scrape = Map<string, number>;

/** The server's /metrics as `name{labels}` → value (histogram _sum and _count lines included). */
async function scrape(server: ServerProcess): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const values: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    values.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return values;
}

function breakdown(before: Scrape, after: Scrape): Breakdown {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const per = (sum: number, count: number): number => (count > 0 ? sum / count : NaN);
  const embed = (stage: string, part: "sum" | "count") => delta(`bertd_stage_duration_seconds_${part}{method="/bertd.v1.Encoder/Embed",stage="${stage}"}`);
  const batches = delta("bertd_batch_size_count");
  const calls = delta('bertd_request_duration_seconds_count{method="/bertd.v1.Encoder/Embed"}');
  return {
    batches,
    meanBatchSize: per(delta("bertd_batch_size_sum"), batches),
    runMsPerBatch: per(1000 * delta("bertd_inference_duration_seconds_sum"), batches),
    poolingMsPerBatch: per(1000 * delta("bertd_pooling_duration_seconds_sum"), batches),
    tokenizeMsPerCall: per(1000 * embed("tokenize", "sum"), embed("tokenize", "count")),
    queueMsPerCall: per(1000 * embed("queue", "sum"), embed("queue", "count")),
    callMs: per(1000 * delta('bertd_request_duration_seconds_sum{method="/bertd.v1.Encoder/Embed"}'), calls),
  };
}

function card(device: string): string {
  if (device === "cpu") return `CPU: ${cpus()[0]?.model ?? "unknown"} (${cpus().length} threads) — dry run`;
  try {
    return execFileSync("nvidia-smi", ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader", `--id=${parseDevice(device).kind === "cuda" ? (parseDevice(device) as { deviceId: number }).deviceId : 0}`], { encoding: "utf8" }).trim();
  } catch {
    return `${device} (nvidia-smi not available)`;
  }
}

/** Texts of exactly `tokens` tokens with [CLS] and [SEP]: "the" is one WordPiece token. */
function textOfTokens(tokens: number): string {
  return Array.from({ length: tokens - 2 }, () => "the").join(" ");
}

/** `concurrency` callers for `seconds` after one warm-up round: completed requests and the seconds they took. */
async function closedLoopFor(seconds: number, concurrency: number, task: () => Promise<void>): Promise<{ requests: number; seconds: number }> {
  await Promise.all(Array.from({ length: concurrency }, task));
  let requests = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await task();
        requests++;
      }
    }),
  );
  return { requests, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const args = parseGpuCheckArgs(process.argv.slice(2));
  const outDir = join(ROOT, "bench", "out", "gpu-check");
  mkdirSync(outDir, { recursive: true });
  const logFile = join(outDir, "run.log");
  writeFileSync(logFile, "");
  const log = (line: string): void => {
    console.error(line);
    appendFileSync(logFile, `${line}\n`);
  };
  const device = parseDevice(args.device);
  const onGpu = device.kind === "cuda";
  const cardName = card(args.device);
  log(`gpu:check on ${args.device}: ${cardName}; ONNX Runtime ${ort.env.versions.node}; models ${args.models.join(", ")}`);

  const dirs = new Map<string, string>();
  for (const preset of args.models) {
    const dir = join(ROOT, "bench", "out", `model-${preset}-both`);
    if (!existsSync(join(dir, "model.onnx")) || !existsSync(join(dir, "model_fp16.onnx"))) {
      log(`generating the ${preset} model (fp32 and fp16) in ${dir} …`);
      await generateBertModel({ outDir: dir, ...PRESETS[preset], seed: 42, precision: "both" });
    }
    dirs.set(preset, dir);
  }
  const quiet = { captureLogs: false };
  const serverArgs = (dir: string, dev: string, precision: string) => ["--model-dir", dir, "--device", dev, "--precision", precision];

  // 1. Correctness against the CPU, on the first model.
  const checkDir = dirs.get(args.models[0])!;
  const texts = [...shortTexts(args.quick ? 48 : 256), ...longTexts(args.quick ? 8 : 32)];
  const embedAll = async (server: ServerProcess): Promise<Float32Array[]> => {
    const embed = server.encoder().unary("embed");
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 32) {
      const response = await embed({ inputs: texts.slice(i, i + 32), pooling: Pooling.MEAN, encoding: Encoding.BYTES });
      for (const e of response.embeddings) vectors.push(new Float32Array(new Uint8Array(e.bytes).buffer));
    }
    return vectors;
  };
  const compare = (a: Float32Array[], b: Float32Array[]): { maxAbsDiff: number; minCosine: number } => {
    let maxAbsDiff = 0;
    let minCosine = 1;
    for (let i = 0; i < a.length; i++) {
      let dot = 0;
      let aa = 0;
      let bb = 0;
      for (let j = 0; j < a[i].length; j++) {
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i][j] - b[i][j]));
        dot += a[i][j] * b[i][j];
        aa += a[i][j] * a[i][j];
        bb += b[i][j] * b[i][j];
      }
      minCosine = Math.min(minCosine, dot / Math.sqrt(aa * bb || 1));
    }
    return { maxAbsDiff, minCosine };
  };
  const cpuServer = await startServer(serverArgs(checkDir, "cpu", "fp32"), {}, quiet);
  const reference = await embedAll(cpuServer);
  await cpuServer.stop();
  const diffs: Record<string, { maxAbsDiff: number; minCosine: number }> = {};
  const variants = [
    { name: "fp32", precision: "fp32", env: {} },
    { name: "fp32-no-tf32", precision: "fp32", env: { NVIDIA_TF32_OVERRIDE: "0" } },
    { name: "fp16", precision: "fp16", env: {} },
  ] as const;
  for (const variant of variants) {
    const server = await startServer(serverArgs(checkDir, args.device, variant.precision), variant.env, quiet);
    const info = await server.encoder().unary("getModelInfo")({});
    if (info.executionProvider !== (onGpu ? `cuda:${(device as { deviceId: number }).deviceId}` : "cpu")) {
      throw new Error(`the server reports provider ${info.executionProvider}, not ${args.device}`);
    }
    diffs[variant.name] = compare(reference, await embedAll(server));
    await server.stop();
    log(`embeddings ${args.device} ${variant.name} vs cpu fp32, ${texts.length} texts: max abs diff ${diffs[variant.name].maxAbsDiff.toExponential(2)}, min cosine ${diffs[variant.name].minCosine.toFixed(6)}`);
  }
  const failures = [
    ...(diffs["fp32-no-tf32"].maxAbsDiff > FP32_TOLERANCE ? [`full fp32 (NVIDIA_TF32_OVERRIDE=0) differs from the CPU by ${diffs["fp32-no-tf32"].maxAbsDiff} (> ${FP32_TOLERANCE})`] : []),
    ...(diffs.fp32.minCosine < TF32_MIN_COSINE ? [`fp32 as served (TF32) has min cosine ${diffs.fp32.minCosine} (< ${TF32_MIN_COSINE})`] : []),
    ...(diffs.fp16.minCosine < FP16_MIN_COSINE ? [`fp16 has min cosine ${diffs.fp16.minCosine} (< ${FP16_MIN_COSINE})`] : []),
  ];

  // 2. Throughput and latency, direct ONNX Runtime and the server, per model, precision, length, batch.
  const cells: Cell[] = [];
  const cpuDirect = new Map<string, number>();
  const cpuCell = [args.batches[1] ?? args.batches[0], args.sequences.at(-1)!] as const;
  const provider: ort.InferenceSession.ExecutionProviderConfig = onGpu ? { name: "cuda", deviceId: (device as { deviceId: number }).deviceId } : "cpu";
  const timed = async (run: () => Promise<void>): Promise<{ perSec: number; p50: number }> => {
    await run();
    const latencies = new Latencies();
    const started = performance.now();
    while (performance.now() - started < args.seconds * 1000 || latencies.count < 3) {
      const t = performance.now();
      await run();
      latencies.add(performance.now() - t);
    }
    return { perSec: (latencies.count * 1000) / (performance.now() - started), p50: latencies.percentile(50) };
  };
  const feeds = (batch: number, sequence: number): Record<string, ort.Tensor> => {
    const ids = new BigInt64Array(batch * sequence).fill(1996n); // "the"
    for (let b = 0; b < batch; b++) {
      ids[b * sequence] = 101n;
      ids[b * sequence + sequence - 1] = 102n;
    }
    const shape = [batch, sequence];
    return {
      input_ids: new ort.Tensor("int64", ids, shape),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(batch * sequence).fill(1n), shape),
      token_type_ids: new ort.Tensor("int64", new BigInt64Array(batch * sequence), shape),
    };
  };
  // The outputs the server's worker fetches for pooled embeddings.
  const fetchesOf = (session: ort.InferenceSession): string[] => ["last_hidden_state", ...(session.outputNames.includes("pooler_output") ? ["pooler_output"] : [])];
  const directRun = (session: ort.InferenceSession, f: Record<string, ort.Tensor>, fetches = fetchesOf(session)) => {
    return async () => {
      const out = await session.run(f, fetches);
      for (const t of Object.values(out)) t.dispose();
    };
  };
  for (const preset of args.models) {
    const dir = dirs.get(preset)!;
    if (onGpu) {
      // The CPU on the same machine, one representative cell, for the speedup.
      const session = await ort.InferenceSession.create(join(dir, "model.onnx"), { graphOptimizationLevel: "all", executionProviders: ["cpu"] });
      const [b, s] = cpuCell;
      cpuDirect.set(preset, (await timed(directRun(session, feeds(b, s)))).perSec * b);
      await session.release();
      log(`${preset} cpu direct, batch ${b} × ${s}: ${cpuDirect.get(preset)!.toFixed(1)} seq/s`);
    }
    for (const precision of ["fp32", "fp16"] as const) {
      const file = join(dir, precision === "fp16" ? "model_fp16.onnx" : "model.onnx");
      const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: "all", executionProviders: [provider] });
      const direct = new Map<string, { perSec: number; p50: number }>();
      for (const sequence of args.sequences) {
        for (const batch of args.batches) direct.set(`${sequence}/${batch}`, await timed(directRun(session, feeds(batch, sequence))));
      }
      await session.release();
      // The same runs as the server's worker makes them: its session options (one worker: all cores as
      // intra-op threads, no spinning) and its graph with pooled outputs, fetching the mean-pooled rows.
      const pooledGraph = onGpu ? withPooledOutputs(readFileSync(file), dir) : { reason: "on the CPU the server pools in JavaScript" };
      const serverOptions = await openSession({ modelPath: file, modelBytes: "bytes" in pooledGraph ? pooledGraph.bytes : undefined, device, intraOpThreads: cpus().length });
      const workerFetches = "bytes" in pooledGraph ? [POOLED_OUTPUTS.mean] : fetchesOf(serverOptions.session);
      const withServerOptions = new Map<string, number>();
      for (const sequence of args.sequences) {
        for (const batch of args.batches) withServerOptions.set(`${sequence}/${batch}`, (await timed(directRun(serverOptions.session, feeds(batch, sequence), workerFetches))).p50);
      }
      await serverOptions.session.release();
      const server = await startServer(serverArgs(dir, args.device, precision), {}, quiet);
      const embed = server.encoder().unary("embed");
      for (const sequence of args.sequences) {
        const text = textOfTokens(sequence);
        for (const batch of args.batches) {
          const inputs = Array.from({ length: batch }, () => text);
          const request = () => embed({ inputs, pooling: Pooling.MEAN, encoding: Encoding.BYTES }).then(() => {});
          const idleBefore = await scrape(server);
          const latency = await timed(request);
          const alone = breakdown(idleBefore, await scrape(server));
          // Throughput: enough callers to keep a batch in flight while the next is prepared.
          const concurrency = Math.max(2, Math.ceil(256 / batch));
          const before = await scrape(server);
          const { requests, seconds } = await closedLoopFor(args.seconds, concurrency, request);
          const spent = breakdown(before, await scrape(server));
          const d = direct.get(`${sequence}/${batch}`)!;
          const cell: Cell = {
            model: preset, precision, sequence, batch,
            directSeqPerSec: d.perSec * batch, directP50: d.p50, serverOptionsP50: withServerOptions.get(`${sequence}/${batch}`)!,
            serverSeqPerSec: (requests * batch) / seconds, serverP50: latency.p50, concurrency, alone, breakdown: spent,
          };
          cells.push(cell);
          log(`${preset} ${precision} seq ${sequence} batch ${batch}: direct ${cell.directSeqPerSec.toFixed(0)} seq/s p50 ${d.p50.toFixed(2)} ms; server ${cell.serverSeqPerSec.toFixed(0)} seq/s (c=${concurrency}) p50 ${latency.p50.toFixed(2)} ms; direct as the worker runs it p50 ${cell.serverOptionsP50.toFixed(2)} ms; server alone: ${JSON.stringify(alone, (_k, v: unknown) => (typeof v === "number" ? Number(v.toFixed(2)) : v))}; under load: ${JSON.stringify(spent, (_k, v: unknown) => (typeof v === "number" ? Number(v.toFixed(2)) : v))}`);
        }
      }
      await server.stop();
    }
  }

  // 3. Fused attention: the first model with each layer's self-attention as ONNX Runtime's
  // MultiHeadAttention contrib op, against standard ops, direct, at the longest sequence.
  const fusedPreset = args.models[0];
  const fusedDir = join(ROOT, "bench", "out", `model-${fusedPreset}-fused-both`);
  if (!existsSync(join(fusedDir, "model.onnx")) || !existsSync(join(fusedDir, "model_fp16.onnx"))) {
    log(`generating the ${fusedPreset} model with fused attention (fp32 and fp16) in ${fusedDir} …`);
    await generateBertModel({ outDir: fusedDir, ...PRESETS[fusedPreset], seed: 42, precision: "both", fusedAttention: true });
  }
  const fusedCells: { precision: string; batch: number; sequence: number; standardSeqPerSec: number; fusedSeqPerSec: number; maxAbsDiff: number }[] = [];
  const fusedSequence = args.sequences.at(-1)!;
  for (const precision of ["fp32", "fp16"] as const) {
    const name = precision === "fp16" ? "model_fp16.onnx" : "model.onnx";
    const [standard, fused] = await Promise.all([dirs.get(fusedPreset)!, fusedDir].map((dir) => ort.InferenceSession.create(join(dir, name), { graphOptimizationLevel: "all", executionProviders: [provider] })));
    for (const batch of args.batches.filter((b) => b > 1)) {
      const f = feeds(batch, fusedSequence);
      // Padding in every other row, so the fused op's mask is exercised.
      const mask = f.attention_mask.data as BigInt64Array;
      for (let b = 1; b < batch; b += 2) mask.fill(0n, b * fusedSequence + fusedSequence / 2, (b + 1) * fusedSequence);
      const [a, c] = await Promise.all([standard.run(f, ["last_hidden_state"]), fused.run(f, ["last_hidden_state"])]);
      const x = asFloat32(a.last_hidden_state);
      const y = asFloat32(c.last_hidden_state);
      let maxAbsDiff = 0;
      for (let i = 0; i < x.length; i++) if (mask[Math.floor(i / (x.length / mask.length))]) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x[i] - y[i]));
      const standardRate = (await timed(directRun(standard, f, ["last_hidden_state"]))).perSec * batch;
      const fusedRate = (await timed(directRun(fused, f, ["last_hidden_state"]))).perSec * batch;
      fusedCells.push({ precision, batch, sequence: fusedSequence, standardSeqPerSec: standardRate, fusedSeqPerSec: fusedRate, maxAbsDiff });
      log(`${fusedPreset} ${precision} seq ${fusedSequence} batch ${batch}: standard attention ${standardRate.toFixed(0)} seq/s, MultiHeadAttention ${fusedRate.toFixed(0)} seq/s (×${(fusedRate / standardRate).toFixed(2)}), max abs diff ${maxAbsDiff.toExponential(2)}`);
    }
    await Promise.all([standard.release(), fused.release()]);
  }

  // 4. Adapt: one stream of labelled texts against Embed on the same texts and server.
  const adaptModel = args.models.includes("minilm") ? "minilm" : args.models[0];
  const rows = readSplit("train").slice(0, args.quick ? 400 : 4000);
  const adaptServer = await startServer([...serverArgs(dirs.get(adaptModel)!, args.device, "fp32"), "--adapt-examples-per-second", "0"], {}, quiet);
  const adaptEmbed = adaptServer.encoder().unary("embed");
  let started = performance.now();
  for (let i = 0; i < rows.length; i += 64) await adaptEmbed({ inputs: rows.slice(i, i + 64).map((r) => r.text), pooling: Pooling.MEAN, encoding: Encoding.BYTES });
  const embedTextsPerSec = rows.length / ((performance.now() - started) / 1000);
  started = performance.now();
  const adapted = await adapt(
    adaptServer.heads(),
    { head: "gpu-check", labels: [...new Set(rows.map((r) => r.label))].sort(), hyperparameters: { replayPasses: 0, seed: 1n } },
    rows.map((r) => ({ id: r.id, text: r.text, labels: [r.label] })),
  );
  const adaptExamplesPerSec = rows.length / ((performance.now() - started) / 1000);
  await adaptServer.stop();
  const adaptResult = { model: adaptModel, examples: rows.length, embedTextsPerSec, adaptExamplesPerSec, holdoutAccuracy: adapted.committed[0]?.holdout?.accuracy };
  log(`adapt on ${adaptModel} fp32, ${rows.length} examples: ${adaptExamplesPerSec.toFixed(0)} examples/s; embed on the same texts (64 per call, one caller): ${embedTextsPerSec.toFixed(0)} texts/s`);
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ device: args.device, card: cardName, diffs, cells, cpuDirect: Object.fromEntries(cpuDirect), adapt: adaptResult, fusedAttention: fusedCells }, null, 2)}\n`);

  // 5. The table.
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const shape = (m: string) => `${PRESETS[m as keyof typeof PRESETS].layers}×${PRESETS[m as keyof typeof PRESETS].hidden}`;
  const lines = [
    `## GPU check (\`npm run gpu:check\`), ${date} UTC`,
    "",
    `Card: ${cardName}. Device \`${args.device}\`, ONNX Runtime ${ort.env.versions.node}, Node ${process.version}; generated random-weight models (cost as trained).`,
    `Embeddings vs the CPU (fp32), ${texts.length} texts: ${variants.map((v) => `${v.name} max abs diff ${diffs[v.name].maxAbsDiff.toExponential(2)}, min cosine ${diffs[v.name].minCosine.toFixed(6)}`).join("; ")} (bars: full fp32 ≤ ${FP32_TOLERANCE}, TF32 cosine ≥ ${TF32_MIN_COSINE}, fp16 cosine ≥ ${FP16_MIN_COSINE}: ${failures.length === 0 ? "met" : "NOT met"}).`,
    ...[...cpuDirect].map(([m, rate]) => `CPU direct ONNX Runtime on this machine, ${m} fp32, batch ${cpuCell[0]} × ${cpuCell[1]}: ${rate.toFixed(1)} seq/s (GPU/CPU = server on the GPU / this).`),
    `Adapt (${adaptModel}, fp32, one stream, ${rows.length} Debian package descriptions, no replay): ${adaptExamplesPerSec.toFixed(0)} examples/s; Embed of the same texts, 64 per call, one caller: ${embedTextsPerSec.toFixed(0)} texts/s.`,
    "Server: Embed calls of `batch` inputs of exactly `seq` tokens, mean pooling, bytes encoding; throughput with c callers, p50 with one caller. Direct: session.run on the same device, same batch, fetching last_hidden_state; \"opts p50\": as the server's worker runs it (its session options, the graph with pooled outputs, fetching mean rows). \"alone run ms\": ONNX Runtime's run per batch inside the worker during the one-caller run. Under load (the throughput run, from /metrics): mean batch size, ONNX Runtime run and pooling ms per batch inside the worker, ms per call.",
    "",
    "| model | prec | seq | batch | direct seq/s | server seq/s | server/direct | direct p50 ms | opts p50 ms | server p50 ms | alone run ms | load: batch | run ms | pool ms | call ms | GPU/CPU |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...cells.map((c) => {
      const cpu = c.batch === cpuCell[0] && c.sequence === cpuCell[1] ? cpuDirect.get(c.model) : undefined;
      return `| ${c.model} ${shape(c.model)} | ${c.precision} | ${c.sequence} | ${c.batch} | ${c.directSeqPerSec.toFixed(0)} | ${c.serverSeqPerSec.toFixed(0)} | ${(c.serverSeqPerSec / c.directSeqPerSec).toFixed(2)} | ${c.directP50.toFixed(2)} | ${c.serverOptionsP50.toFixed(2)} | ${c.serverP50.toFixed(2)} | ${c.alone.runMsPerBatch.toFixed(2)} | ${c.breakdown.meanBatchSize.toFixed(1)} | ${c.breakdown.runMsPerBatch.toFixed(2)} | ${c.breakdown.poolingMsPerBatch.toFixed(2)} | ${c.breakdown.callMs.toFixed(2)} | ${cpu ? `${(c.serverSeqPerSec / cpu).toFixed(1)}×` : "–"} |`;
    }),
    "",
  ];
  lines.push(
    `Fused attention, direct ONNX Runtime (${fusedPreset}, sequence ${fusedSequence}, every other row half padding): each layer's self-attention as the MultiHeadAttention contrib op against standard ops.`,
    "",
    "| prec | batch | standard seq/s | MultiHeadAttention seq/s | fused/standard | max abs diff |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...fusedCells.map((c) => `| ${c.precision} | ${c.batch} | ${c.standardSeqPerSec.toFixed(0)} | ${c.fusedSeqPerSec.toFixed(0)} | ${(c.fusedSeqPerSec / c.standardSeqPerSec).toFixed(2)} | ${c.maxAbsDiff.toExponential(2)} |`),
    "",
  );
  const table = lines.join("\n");
  if (args.append) {
    mkdirSync(join(args.out, ".."), { recursive: true });
    const before = existsSync(args.out) ? readFileSync(args.out, "utf8") : "";
    writeFileSync(args.out, `${before}${before && !before.endsWith("\n\n") ? "\n" : ""}${table}`);
    log(`appended to ${args.out}; full log ${logFile}, results ${join(outDir, "results.json")}`);
  }
  console.log(table);
  if (failures.length > 0) {
    console.error(`gpu:check: FAILED: ${failures.join("; ")}`);
    process.exitCode = 1;
  }
}

if (process.argv[1]?.endsWith("gpu-check.ts")) {
  main().catch((error: unknown) => {
    console.error(`gpu:check: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
