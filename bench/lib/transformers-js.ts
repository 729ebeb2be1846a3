/**
 * Child process of bench/serve.ts: transformers.js's feature-extraction pipeline on the same model.
 * argv: modelDir preset threads sampleSize; stdin: {"short": [...], "long": [...]}; stdout: JSON rates.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../test/helpers/server-process.js";

const [modelDir, preset, threadsArg, sampleArg] = process.argv.slice(2);
const corpora = JSON.parse(readFileSync(0, "utf8")) as Record<string, string[]>;
const root = join(ROOT, "bench", "out", "transformers");
const dir = join(root, preset);
if (!existsSync(join(dir, "onnx", "model.onnx"))) {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  for (const file of ["config.json", "tokenizer.json", "tokenizer_config.json"]) symlinkSync(join(modelDir, file), join(dir, file));
  symlinkSync(join(modelDir, "model.onnx"), join(dir, "onnx", "model.onnx"));
}
const transformers = await import("@huggingface/transformers");
transformers.env.allowRemoteModels = false;
transformers.env.localModelPath = `${root}/`;
const threads = Number(threadsArg);
const extractor = await transformers.pipeline("feature-extraction", preset, {
  dtype: "fp32",
  device: "cpu",
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});
const out: Record<string, number> = {};
for (const [name, texts] of Object.entries(corpora)) {
  const sample = texts.slice(0, Number(sampleArg));
  let best = 0;
  for (const batch of [1, 8, 32]) {
    await extractor(sample.slice(0, batch), { pooling: "mean" });
    const started = performance.now();
    for (let i = 0; i < sample.length; i += batch) await extractor(sample.slice(i, i + batch), { pooling: "mean" });
    const rate = sample.length / ((performance.now() - started) / 1000);
    console.error(`transformers.js ${name} batch ${batch}: ${rate.toFixed(1)} seq/s`);
    if (rate > best) {
      best = rate;
      out[`${name}Batch`] = batch;
    }
  }
  out[name] = best;
}
await extractor.dispose();
console.log(JSON.stringify(out));
