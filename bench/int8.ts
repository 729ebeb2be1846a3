// `npm run bench:int8`: in one run, per model, the fp32 ceiling (ONNX Runtime on the fp32 graph, no
// server), the int8 ceiling (same on `bertd quantize`'s graph) and bertd serving int8, on Debian package
// descriptions (test/fixtures/debian-package-sections). Prints ratios to the fp32 ceiling of this run.
// Then, per model, head agreement across precisions: a head taught on the fp32 server with the sections
// training split, served int8 from the same data directory, top-1 on the test split against fp32's.
//   npm run bench:int8 [-- --models models/default,bench/models/hf-6x384] [--seconds 5] [--no-agreement]
// bench/models/hf-6x384 is made here with tools/torch-export (needs /usr/bin/python3 with torch).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { BertTokenizer } from "../src/core/tokenizer/index.js";
import { adapt } from "../test/helpers/adapt-client.js";
import { ROOT, startServer } from "../test/helpers/server-process.js";
import { readSplit } from "./lib/corpus.js";

const { values } = parseArgs({ options: { models: { type: "string", default: "models/default,bench/models/hf-6x384" }, seconds: { type: "string", default: "5" }, "no-agreement": { type: "boolean", default: false } } });
const seconds = Number(values.seconds);
const texts = readFileSync(join(ROOT, "test/fixtures/debian-package-sections/test.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { text: string }).text);

function ensure(dir: string): void {
  if (dir.endsWith("hf-6x384") && !existsSync(join(ROOT, dir, "model.onnx"))) {
    const made = spawnSync("/usr/bin/python3", [join(ROOT, "tools/torch-export/make_hf_bert.py"), "--out", join(ROOT, dir), "--layers", "6", "--hidden", "384", "--heads", "12", "--intermediate", "1536"], { stdio: "inherit" });
    if (made.status !== 0) throw new Error("could not build the 6×384 model (needs /usr/bin/python3 with torch)");
  }
  if (!existsSync(join(ROOT, dir, "model_quantized.onnx"))) {
    const q = spawnSync(process.execPath, [join(ROOT, "bin/bertd.js"), "quantize", "--model-dir", join(ROOT, dir)], { stdio: "inherit" });
    if (q.status !== 0) throw new Error("bertd quantize failed");
  }
}

/** Sequences per second at batch 1 (one text per run) for `seconds`, and the p50 latency in ms. */
async function direct(path: string, ids: Int32Array[]): Promise<{ perSecond: number; p50: number }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 2, graphOptimizationLevel: "all", executionProviders: ["cpu"] });
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const seq = ids[i % ids.length];
    const shape = [1, seq.length];
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) feeds[name] = new ort.Tensor("int64", name === "input_ids" ? BigInt64Array.from(seq, BigInt) : name === "attention_mask" ? new BigInt64Array(seq.length).fill(1n) : new BigInt64Array(seq.length), shape);
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return { perSecond: (1000 * times.length) / times.reduce((a, b) => a + b, 0), p50: times[Math.floor(times.length / 2)] };
}

async function served(dir: string): Promise<{ perSecond: number; p50: number }> {
  const server = await startServer(["--model-dir", dir, "--precision", "int8"], {}, { captureLogs: false });
  try {
    const client = server.encoder();
    const embed = client.unary("embed");
    for (let i = 0; i < 20; i++) await embed({ inputs: [texts[i]] });
    const times: number[] = [];
    const started = performance.now();
    const end = started + seconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      const t = performance.now();
      await embed({ inputs: [texts[i % texts.length]] });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { perSecond: (1000 * times.length) / (performance.now() - started), p50: times[Math.floor(times.length / 2)] };
  } finally {
    await server.stop();
  }
}

/** Top-1 labels of the test split from a server on `dataDir` at `precision`; the head is taught first when `teach`. */
async function sectionsTop1(dir: string, dataDir: string, precision: "fp32" | "int8", teach: boolean): Promise<{ predicted: string[]; truth: string[] }> {
  const server = await startServer(["--model-dir", dir, "--precision", precision, "--data-dir", dataDir, "--adapt-examples-per-second", "0"], {}, { captureLogs: false });
  try {
    if (teach) {
      const train = readSplit("train");
      const labels = [...new Set(train.map((r) => r.label))].sort();
      await adapt(server.heads(), { head: "sections", labels, hyperparameters: { seed: 1n }, progressEvery: 1000 }, train.map((r) => ({ id: r.id, text: r.text, labels: [r.label] })));
    }
    const test = readSplit("test");
    const classify = server.encoder().unary("classify");
    const predicted: string[] = [];
    for (let i = 0; i < test.length; i += 64) {
      const response = await classify({ head: "sections", inputs: test.slice(i, i + 64).map((r) => r.text), topK: 1 });
      for (const p of response.predictions) predicted.push(p.labels[0].label);
    }
    return { predicted, truth: test.map((r) => r.label) };
  } finally {
    await server.stop();
  }
}

async function headAgreement(dir: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "bertd-int8-agreement-"));
  try {
    const fp32 = await sectionsTop1(dir, dataDir, "fp32", true);
    const int8 = await sectionsTop1(dir, dataDir, "int8", false);
    const n = fp32.truth.length;
    const count = (f: (i: number) => boolean): number => Array.from({ length: n }, (_, i) => i).filter(f).length;
    const pct = (k: number): string => ((100 * k) / n).toFixed(1);
    console.log(`\n${dir}: a head taught on fp32 (sections train split), served int8 from the same data directory, ${n} test texts`);
    console.log("| top-1 agreement int8 vs fp32 | fp32 test accuracy | int8 test accuracy |\n| --- | --- | --- |");
    console.log(`| ${pct(count((i) => fp32.predicted[i] === int8.predicted[i]))}% | ${pct(count((i) => fp32.predicted[i] === fp32.truth[i]))}% | ${pct(count((i) => int8.predicted[i] === int8.truth[i]))}% |`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const dir of values.models.split(",")) {
  ensure(dir);
  const full = join(ROOT, dir);
  const tokenizer = BertTokenizer.fromDirectory(full);
  const ids = texts.map((t) => tokenizer.encode(t).ids);
  const fp32 = await direct(join(full, "model.onnx"), ids);
  const int8 = await direct(join(full, "model_quantized.onnx"), ids);
  const server = await served(full);
  console.log(`\n${dir} (concurrency 1, one text per call, ${seconds} s each)`);
  console.log("| run | seq/s | × fp32 ceiling | p50 ms |\n| --- | --- | --- | --- |");
  for (const [name, r] of [["fp32 ceiling (ONNX Runtime direct)", fp32], ["int8 ceiling (ONNX Runtime direct)", int8], ["bertd serving int8 (gRPC)", server]] as const) {
    console.log(`| ${name} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / fp32.perSecond).toFixed(2)} | ${r.p50.toFixed(2)} |`);
  }
  if (!values["no-agreement"]) await headAgreement(full);
}
