/**
 * The ceiling, in its own process: direct onnxruntime-node on the given texts, tokenized and packed
 * into length-sorted batches beforehand, so only ONNX Runtime's work is counted.
 * argv: modelDir threads maxBatchSize maxBatchTokens singles [modelFile, default model.onnx] [idleMs, default 0]; stdin: JSON string[].
 * stdout: JSON { cpuSecondsPerSequence, sequencesPerSecond, singleP50Ms, paddingRatio (padded ÷ real tokens),
 * singleIdleP50Ms (with idleMs: the singles again, the thread asleep idleMs before each, as a server
 * waits between the calls of one client) }.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { BertTokenizer } from "../../src/core/tokenizer/index.js";
import { Latencies } from "./latency.js";
import { paddedFeeds } from "./padded-feeds.js";

const [modelDir, threadsArg, maxBatchSizeArg, maxBatchTokensArg, singlesArg, modelFile = "model.onnx", idleMsArg = "0"] = process.argv.slice(2);
const idleMs = Number(idleMsArg);
const texts = JSON.parse(readFileSync(0, "utf8")) as string[];
const maxBatchSize = Number(maxBatchSizeArg);
const maxBatchTokens = Number(maxBatchTokensArg);
const tokenizer = BertTokenizer.fromDirectory(modelDir);
const session = await ort.InferenceSession.create(join(modelDir, modelFile), {
  intraOpNumThreads: Number(threadsArg),
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionProviders: ["cpu"],
  extra: { session: { intra_op: { allow_spinning: "0" } } },
});
const withTypes = session.inputNames.includes("token_type_ids");

const feeds = (rows: Int32Array[]): Record<string, ort.Tensor> => paddedFeeds(rows, withTypes);

const encoded = texts.map((text) => tokenizer.encode(text).ids.slice(0, 512));
const sorted = encoded.slice().sort((a, b) => a.length - b.length);
const batches: Record<string, ort.Tensor>[] = [];
let current: Int32Array[] = [];
let paddedTokens = 0;
const cut = (rows: Int32Array[]): void => {
  batches.push(feeds(rows));
  paddedTokens += rows.length * Math.max(...rows.map((ids) => ids.length));
};
for (const ids of sorted) {
  if (current.length + 1 > maxBatchSize || (current.length + 1) * ids.length > maxBatchTokens) {
    cut(current);
    current = [];
  }
  current.push(ids);
}
if (current.length) cut(current);
const realTokens = encoded.reduce((sum, ids) => sum + ids.length, 0);

async function run(input: Record<string, ort.Tensor>): Promise<void> {
  const out = await session.run(input);
  for (const tensor of Object.values(out)) tensor.dispose();
}

for (const batch of batches.slice(0, 3)) await run(batch);
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (const batch of batches) await run(batch);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const singleFeeds = encoded.slice(0, Number(singlesArg)).map((ids) => feeds([ids]));
const sleeper = new Int32Array(new SharedArrayBuffer(4));
async function singles(idle: number): Promise<Latencies> {
  const latencies = new Latencies();
  for (const input of singleFeeds) {
    if (idle > 0) Atomics.wait(sleeper, 0, 0, idle);
    const t0 = performance.now();
    await run(input);
    latencies.add(performance.now() - t0);
  }
  return latencies;
}
const single = await singles(0);
const idleSingle = idleMs > 0 ? await singles(idleMs) : undefined;
await session.release();
process.stdout.write(
  JSON.stringify({
    cpuSecondsPerSequence: (cpu.user + cpu.system) / 1e6 / texts.length,
    sequencesPerSecond: texts.length / seconds,
    singleP50Ms: single.count > 0 ? single.percentile(50) : NaN,
    paddingRatio: paddedTokens / realTokens,
    singleIdleP50Ms: idleSingle && idleSingle.count > 0 ? idleSingle.percentile(50) : NaN,
  }),
);
