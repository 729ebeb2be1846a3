// `npm run bench:batch-runs`: what running a CPU batch as runs of similar length saves, with direct
// ONNX Runtime and no server. Server-like batches are drawn from the Debian descriptions: per batch,
// 2 × rows texts (a queue), sorted by length, and `rows` consecutive ones from a random place (the
// batcher forms a batch around its oldest input from the queue's inputs closest in length). Each
// batch runs as one padded matrix and as planRuns' runs (src/backends/onnx/batch-runs.ts); rounds
// alternate the two, and the medians of CPU ms per sequence are printed with their ratio.
//   npm run bench:batch-runs [-- --model-dir models/default] [--model-file model_quantized.onnx] [--rows 8,16,32] [--threads 1] [--rounds 5]
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { planRuns } from "../src/backends/onnx/batch-runs.js";
import { BertTokenizer } from "../src/core/tokenizer/index.js";
import { ROOT } from "../test/helpers/server-process.js";
import { shortTexts } from "./lib/corpus.js";
import { paddedFeeds } from "./lib/padded-feeds.js";

const { values } = parseArgs({
  options: {
    "model-dir": { type: "string", default: join(ROOT, "models", "default") },
    "model-file": { type: "string", default: "model_quantized.onnx" },
    rows: { type: "string", default: "8,16,32" },
    threads: { type: "string", default: "1" },
    rounds: { type: "string", default: "5" },
    batches: { type: "string", default: "300" },
  },
});
const modelDir = resolve(values["model-dir"]);
const tokenizer = BertTokenizer.fromDirectory(modelDir);
const session = await ort.InferenceSession.create(join(modelDir, values["model-file"]), {
  intraOpNumThreads: Number(values.threads),
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionProviders: ["cpu"],
  extra: { session: { intra_op: { allow_spinning: "0" } } },
});
const withTypes = session.inputNames.includes("token_type_ids");
const encoded = shortTexts(3000).map((text) => tokenizer.encode(text).ids.slice(0, 512));

let seed = 7;
const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

const feeds = (rows: Int32Array[]): Record<string, ort.Tensor> => paddedFeeds(rows, withTypes);

const padded = (rows: Int32Array[]): number => rows.length * Math.max(...rows.map((ids) => ids.length));

async function cpuMsPerSequence(batches: Record<string, ort.Tensor>[][], sequences: number): Promise<number> {
  const before = process.cpuUsage();
  for (const runs of batches) {
    for (const input of runs) {
      const out = await session.run(input);
      for (const tensor of Object.values(out)) tensor.dispose();
    }
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / sequences;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`${values["model-dir"]} ${values["model-file"]}, ${values.threads} intra-op thread(s), ${values.batches} batches per size, ${values.rounds} rounds`);
console.log("| rows | padded ÷ real, one run | padded ÷ real, runs | runs per batch | CPU ms/seq, one run | CPU ms/seq, runs | runs ÷ one run |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const rows of values.rows.split(",").map(Number)) {
  const drawn: Int32Array[][] = Array.from({ length: Number(values.batches) }, () => {
    const queue = Array.from({ length: 2 * rows }, () => encoded[Math.floor(random() * encoded.length)]).sort((a, b) => a.length - b.length);
    const from = Math.floor(random() * (rows + 1));
    return queue.slice(from, from + rows);
  });
  let real = 0;
  let paddedWhole = 0;
  let paddedRuns = 0;
  let runCount = 0;
  const whole = drawn.map((batch) => [feeds(batch)]);
  const planned = drawn.map((batch) => {
    real += batch.reduce((sum, ids) => sum + ids.length, 0);
    paddedWhole += padded(batch);
    const plan = planRuns(Int32Array.from(batch, (ids) => ids.length), true);
    const runs: Int32Array[][] = [];
    let from = 0;
    for (const end of plan.ends) {
      runs.push(Array.from(plan.order.subarray(from, end), (row) => batch[row]));
      from = end;
    }
    runCount += runs.length;
    paddedRuns += runs.reduce((sum, run) => sum + padded(run), 0);
    return runs.map(feeds);
  });
  const sequences = drawn.length * rows;
  await cpuMsPerSequence(whole.slice(0, 20), 20 * rows);
  await cpuMsPerSequence(planned.slice(0, 20), 20 * rows);
  const one: number[] = [];
  const split: number[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    one.push(await cpuMsPerSequence(whole, sequences));
    split.push(await cpuMsPerSequence(planned, sequences));
  }
  console.log(
    `| ${rows} | ${(paddedWhole / real).toFixed(2)} | ${(paddedRuns / real).toFixed(2)} | ${(runCount / drawn.length).toFixed(2)} | ${median(one).toFixed(3)} | ${median(split).toFixed(3)} | ${(median(split) / median(one)).toFixed(3)} |`,
  );
}
await session.release();
