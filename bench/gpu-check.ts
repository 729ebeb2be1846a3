/**
 * npm run gpu:check — bertd on ONNX Runtime's CUDA provider, checked and measured in one run:
 *  1. correctness: embeddings from `--device cuda` against a `--device cpu` server (max abs diff ≤ 1e-3
 *     in fp32; the fp16 figure is reported);
 *  2. throughput and latency at batch 1, 32 and 128 and sequence length 32 and 128, for a BERT-base-shaped
 *     (12 × 768) and a MiniLM-shaped (6 × 384) generated model, fp32 and fp16: the server against direct
 *     ONNX Runtime on the same device (the ceiling), and the CPU for the speedup;
 *  3. a short table printed last and appended to docs/benchmarks/serving.md with the card and the date.
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
import { parseDevice } from "../src/config.js";
import { Encoding, Pooling } from "../src/gen/bertd/v1/encoder_pb.js";
import { generateBertModel, PRESETS } from "../tools/generator/index.js";
import { ROOT, startServer, type ServerProcess } from "../test/helpers/server-process.js";
import { longTexts, shortTexts } from "./lib/corpus.js";
import { Latencies, closedLoop } from "./lib/latency.js";

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
    batches: quick ? [1, 8] : [1, 32, 128],
    sequences: quick ? [16, 32] : [32, 128],
  };
}

const FP32_TOLERANCE = 1e-3;

interface Cell {
  model: string;
  precision: "fp32" | "fp16";
  sequence: number;
  batch: number;
  directSeqPerSec: number;
  directP50: number;
  serverSeqPerSec: number;
  serverP50: number;
  concurrency: number;
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
  const maxDiff = (a: Float32Array[], b: Float32Array[]): number => {
    let worst = 0;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) worst = Math.max(worst, Math.abs(a[i][j] - b[i][j]));
    return worst;
  };
  const cpuServer = await startServer(serverArgs(checkDir, "cpu", "fp32"), {}, quiet);
  const reference = await embedAll(cpuServer);
  await cpuServer.stop();
  const diffs: Record<string, number> = {};
  for (const precision of ["fp32", "fp16"] as const) {
    const server = await startServer(serverArgs(checkDir, args.device, precision), {}, quiet);
    const info = await server.encoder().unary("getModelInfo")({});
    if (info.executionProvider !== (onGpu ? `cuda:${(device as { deviceId: number }).deviceId}` : "cpu")) {
      throw new Error(`the server reports provider ${info.executionProvider}, not ${args.device}`);
    }
    diffs[precision] = maxDiff(reference, await embedAll(server));
    await server.stop();
    log(`embeddings ${args.device} ${precision} vs cpu fp32, ${texts.length} texts: max abs diff ${diffs[precision].toExponential(2)}`);
  }
  const correct = diffs.fp32 <= FP32_TOLERANCE;

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
  const directRun = (session: ort.InferenceSession, f: Record<string, ort.Tensor>) => async () => {
    const out = await session.run(f);
    for (const t of Object.values(out)) t.dispose();
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
      const server = await startServer(serverArgs(dir, args.device, precision), {}, quiet);
      const embed = server.encoder().unary("embed");
      for (const sequence of args.sequences) {
        const text = textOfTokens(sequence);
        for (const batch of args.batches) {
          const inputs = Array.from({ length: batch }, () => text);
          const request = () => embed({ inputs, pooling: Pooling.MEAN, encoding: Encoding.BYTES }).then(() => {});
          const latency = await timed(request);
          // Throughput: enough callers to keep a batch in flight while the next is prepared.
          const concurrency = Math.max(2, Math.ceil(256 / batch));
          const requests = Math.max(concurrency * 2, Math.ceil((latency.perSec * args.seconds * concurrency) / 2));
          const seconds = await closedLoop(requests, concurrency, () => request());
          const d = direct.get(`${sequence}/${batch}`)!;
          const cell: Cell = {
            model: preset, precision, sequence, batch,
            directSeqPerSec: d.perSec * batch, directP50: d.p50,
            serverSeqPerSec: (requests * batch) / seconds, serverP50: latency.p50, concurrency,
          };
          cells.push(cell);
          log(`${preset} ${precision} seq ${sequence} batch ${batch}: direct ${cell.directSeqPerSec.toFixed(0)} seq/s p50 ${d.p50.toFixed(2)} ms; server ${cell.serverSeqPerSec.toFixed(0)} seq/s (c=${concurrency}) p50 ${latency.p50.toFixed(2)} ms`);
        }
      }
      await server.stop();
    }
  }
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ device: args.device, card: cardName, diffs, cells, cpuDirect: Object.fromEntries(cpuDirect) }, null, 2)}\n`);

  // 3. The table.
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const shape = (m: string) => `${PRESETS[m as keyof typeof PRESETS].layers}×${PRESETS[m as keyof typeof PRESETS].hidden}`;
  const lines = [
    `## GPU check (\`npm run gpu:check\`), ${date} UTC`,
    "",
    `Card: ${cardName}. Device \`${args.device}\`, ONNX Runtime ${ort.env.versions.node}, Node ${process.version}; generated random-weight models (cost as trained).`,
    `Embeddings vs the CPU (fp32): max abs diff ${diffs.fp32.toExponential(2)} (${correct ? "within" : "OVER"} ${FP32_TOLERANCE}); fp16: ${diffs.fp16.toExponential(2)}.`,
    ...[...cpuDirect].map(([m, rate]) => `CPU direct ONNX Runtime on this machine, ${m} fp32, batch ${cpuCell[0]} × ${cpuCell[1]}: ${rate.toFixed(1)} seq/s (GPU/CPU = server on the GPU / this).`),
    "Server: Embed calls of `batch` inputs of exactly `seq` tokens, mean pooling, bytes encoding; throughput with c callers, p50 with one caller. Direct: session.run on the same device, same batch.",
    "",
    "| model | prec | seq | batch | direct seq/s | server seq/s | server/direct | direct p50 ms | server p50 ms | GPU/CPU |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...cells.map((c) => {
      const cpu = c.batch === cpuCell[0] && c.sequence === cpuCell[1] ? cpuDirect.get(c.model) : undefined;
      return `| ${c.model} ${shape(c.model)} | ${c.precision} | ${c.sequence} | ${c.batch} | ${c.directSeqPerSec.toFixed(0)} | ${c.serverSeqPerSec.toFixed(0)} | ${(c.serverSeqPerSec / c.directSeqPerSec).toFixed(2)} | ${c.directP50.toFixed(2)} | ${c.serverP50.toFixed(2)} | ${cpu ? `${(c.serverSeqPerSec / cpu).toFixed(1)}×` : "–"} |`;
    }),
    "",
  ];
  const table = lines.join("\n");
  if (args.append) {
    mkdirSync(join(args.out, ".."), { recursive: true });
    const before = existsSync(args.out) ? readFileSync(args.out, "utf8") : "";
    writeFileSync(args.out, `${before}${before && !before.endsWith("\n\n") ? "\n" : ""}${table}`);
    log(`appended to ${args.out}; full log ${logFile}, results ${join(outDir, "results.json")}`);
  }
  console.log(table);
  if (!correct) {
    console.error(`gpu:check: FAILED: fp32 embeddings differ from the CPU's by ${diffs.fp32} (> ${FP32_TOLERANCE})`);
    process.exitCode = 1;
  }
}

if (process.argv[1]?.endsWith("gpu-check.ts")) {
  main().catch((error: unknown) => {
    console.error(`gpu:check: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
