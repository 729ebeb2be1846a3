// Checks an exported model directory against PyTorch: bertd's loader reads the directory (model files,
// config, tokenizer), ONNX Runtime runs model.onnx (and model_fp16.onnx if there is one) on the inputs
// export.py saved with PyTorch's output, and the max abs difference from PyTorch over real tokens must
// stay ≤ 1e-4 for fp32 (the fp16 figure is reported).
//
//   node --import tsx pretraining/check-export.ts [--dir models/default] [--reference pretraining/out/reference.json] [--device cpu|cuda]

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { asFloat32 } from "../src/backends/onnx/outputs.js";
import { openSession, ort } from "../src/backends/onnx/session.js";
import { parseDevice } from "../src/config.js";
import { readModelDirectory } from "../src/core/model-directory.js";
import { BertTokenizer } from "../src/core/tokenizer/index.js";
import { ROOT } from "../test/helpers/server-process.js";

interface Reference {
  readonly input_ids: number[][];
  readonly attention_mask: number[][];
  readonly last_hidden_state: number[][][];
}

const FP32_TOLERANCE = 1e-4;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: "string", default: join(ROOT, "models", "default") },
      reference: { type: "string", default: join(ROOT, "pretraining", "out", "reference.json") },
      device: { type: "string", default: "cpu" },
    },
  });
  const reference = JSON.parse(readFileSync(values.reference, "utf8")) as Reference;
  const tokenizer = BertTokenizer.fromDirectory(values.dir);
  const rows = reference.input_ids.length;
  const width = reference.input_ids[0].length;
  const tensor = (m: number[][]) => new ort.Tensor("int64", BigInt64Array.from(m.flat(), (v) => BigInt(v)), [rows, width]);
  const feeds = { input_ids: tensor(reference.input_ids), attention_mask: tensor(reference.attention_mask), token_type_ids: tensor(reference.input_ids.map((r) => r.map(() => 0))) };
  const expected = reference.last_hidden_state.flat(2);
  const hidden = reference.last_hidden_state[0][0].length;
  let failed = false;
  for (const precision of ["fp32", "fp16"] as const) {
    if (precision === "fp16" && !existsSync(join(values.dir, "model_fp16.onnx")) && !existsSync(join(values.dir, "onnx", "model_fp16.onnx"))) continue;
    const model = readModelDirectory(values.dir, { precision });
    const { session, provider } = await openSession({ modelPath: model.modelPath, device: parseDevice(values.device), intraOpThreads: 0 });
    const out = asFloat32((await session.run(feeds)).last_hidden_state);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) {
      const [b, t] = [Math.floor(i / (width * hidden)), Math.floor(i / hidden) % width];
      if (reference.attention_mask[b][t] === 1) worst = Math.max(worst, Math.abs(out[i] - expected[i]));
    }
    const verdict = precision === "fp32" ? (worst <= FP32_TOLERANCE ? "ok" : "FAILED") : "reported";
    if (verdict === "FAILED") failed = true;
    console.log(`${precision} ${model.modelPath} on ${provider}: max abs diff from PyTorch fp32 over real tokens ${worst.toExponential(2)} (${verdict}); hidden ${model.hiddenSize}, vocab ${tokenizer.vocabSize}`);
    await session.release();
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`check-export: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
