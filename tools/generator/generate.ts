// CLI: write a BERT-architecture ONNX model with seeded random weights. See README.md beside this.
//
//   node --import tsx tools/generator/generate.ts                     # models/random-tiny, seed 42
//   node --import tsx tools/generator/generate.ts --from-weights models/default   # the trained default
//   node --import tsx tools/generator/generate.ts --preset minilm --out /tmp/minilm

import { parseArgs } from "node:util";
import { PRESETS, RANDOM_MODEL_DIR, buildFromWeights, generateBertModel, type GenerateOptions } from "./index.js";

const USAGE = `usage: generate.ts [options]
  --from-weights DIR      build DIR/model.onnx from DIR/weights.safetensors and DIR/config.json (trained
                          weights; the shape options below do not apply)
  --out DIR               output directory (default models/random-tiny)
  --preset NAME           shape preset: ${Object.keys(PRESETS).join(", ")} (default: default)
  --layers N              encoder layers (default 2)
  --hidden H              hidden size (default 128)
  --heads A               attention heads; must divide H (default 2)
  --intermediate I        feed-forward size (default 512)
  --max-position P        position embeddings (default 512)
  --type-vocab T          token types (default 2)
  --vocab-size V          word embeddings (default: lines of vocab.txt)
  --seed S                integer in [0, 2^32) (default 42)
  --vocab-dir DIR         copy ${"vocab.txt, tokenizer.json, tokenizer_config.json, NOTICE.md"} from DIR (default models/default)
  --no-vocab              copy no vocabulary files (needs --vocab-size)
  --no-token-type-ids     graph without the token_type_ids input (all tokens type 0)
  --no-pooler             graph without the pooler_output output
  --classifier L1,L2,...  add a logits output [batch, labels] over the pooled output
  --multilabel            with --classifier: problem_type multi_label_classification
  --classifier-only       with --classifier: logits is the only output (a sequence-classification
                          export such as a cross-encoder reranker; --classifier relevant for one logit)
  --hidden-states         also output each layer but the last as hidden_states.N
  --fused-attention       self-attention as ONNX Runtime's MultiHeadAttention contrib op (com.microsoft)
  --precision P           fp32 (model.onnx, default), fp16 (model_fp16.onnx: float16 weights and
                          compute, float32 outputs, for GPUs) or both
  --quiet                 print nothing on success`;

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} wants a non-negative integer, got "${value}"`);
  return Number(value);
}

function precisionOf(value: string | undefined): "fp32" | "fp16" | "both" {
  if (value === undefined) return "fp32";
  if (value === "fp32" || value === "fp16" || value === "both") return value;
  throw new Error(`--precision must be fp32, fp16 or both, got "${value}"`);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      out: { type: "string" },
      "from-weights": { type: "string" },
      preset: { type: "string" },
      layers: { type: "string" },
      hidden: { type: "string" },
      heads: { type: "string" },
      intermediate: { type: "string" },
      "max-position": { type: "string" },
      "type-vocab": { type: "string" },
      "vocab-size": { type: "string" },
      seed: { type: "string" },
      "vocab-dir": { type: "string" },
      "no-vocab": { type: "boolean" },
      "no-token-type-ids": { type: "boolean" },
      "no-pooler": { type: "boolean" },
      classifier: { type: "string" },
      multilabel: { type: "boolean" },
      "hidden-states": { type: "boolean" },
      "classifier-only": { type: "boolean" },
      "fused-attention": { type: "boolean" },
      quiet: { type: "boolean" },
      precision: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values["from-weights"] !== undefined) {
    const started = performance.now();
    const model = await buildFromWeights(values["from-weights"], precisionOf(values.precision));
    if (!values.quiet) {
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      console.log(`wrote ${model.modelPath} (${(model.modelBytes / 1e6).toFixed(1)} MB, ${(model.parameters / 1e6).toFixed(2)}M trained parameters) in ${seconds} s`);
    }
    return;
  }
  const presetName = values.preset ?? "default";
  if (!Object.hasOwn(PRESETS, presetName)) throw new Error(`unknown --preset "${presetName}"`);
  const preset = PRESETS[presetName as keyof typeof PRESETS];
  if (values["no-vocab"] && values["vocab-dir"] !== undefined) throw new Error("--no-vocab and --vocab-dir exclude each other");

  const options: GenerateOptions = {
    outDir: values.out ?? RANDOM_MODEL_DIR,
    layers: integer("layers", values.layers) ?? preset.layers,
    hidden: integer("hidden", values.hidden) ?? preset.hidden,
    heads: integer("heads", values.heads) ?? preset.heads,
    intermediate: integer("intermediate", values.intermediate) ?? preset.intermediate,
    maxPosition: integer("max-position", values["max-position"]),
    typeVocab: integer("type-vocab", values["type-vocab"]),
    vocabSize: integer("vocab-size", values["vocab-size"]),
    seed: integer("seed", values.seed),
    vocabDir: values["no-vocab"] ? null : values["vocab-dir"],
    tokenTypeIds: !values["no-token-type-ids"],
    pooler: !values["no-pooler"],
    labels: values.classifier?.split(",").map((label) => label.trim()),
    multilabel: values.multilabel ?? false,
    hiddenStates: values["hidden-states"] ?? false,
    classifierOnly: values["classifier-only"] ?? false,
    fusedAttention: values["fused-attention"] ?? false,
    precision: precisionOf(values.precision),
  };
  if (options.labels?.some((label) => label === "")) throw new Error(`--classifier has an empty label: "${values.classifier}"`);
  if (options.multilabel && options.labels === undefined) throw new Error("--multilabel needs --classifier");
  if (options.classifierOnly && options.labels === undefined) throw new Error("--classifier-only needs --classifier");

  const started = performance.now();
  const model = await generateBertModel(options);
  if (!values.quiet) {
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    const mb = (model.modelBytes / 1e6).toFixed(1);
    const params = (model.parameters / 1e6).toFixed(2);
    console.log(`wrote ${model.modelPath} (${mb} MB, ${params}M random parameters) in ${seconds} s`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`generate: ${error instanceof Error ? error.message : String(error)}`);
  console.error(USAGE);
  process.exit(2);
});
