// Writes a BERT-architecture ONNX model with seeded random weights, its config.json and vocabulary.

import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  GENERATOR_VERSION,
  LAYER_NORM_EPS,
  INITIALIZER_RANGE,
  buildBertGraph,
  parameterCount,
  validateGraphOptions,
  type BertGraphOptions,
} from "./bert-graph.js";
import { convertToFloat16 } from "../onnx/float16.js";
import { readSafetensors } from "../onnx/safetensors.js";
import { encodeModel } from "../onnx/writer.js";

export { GENERATOR_VERSION, buildBertGraph, parameterCount, type BertGraphOptions } from "./bert-graph.js";

const MODELS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "models");
/** models/default, where the service looks for its model unless told otherwise: the trained encoder. */
export const DEFAULT_MODEL_DIR = join(MODELS, "default");
/** models/random-tiny: the seeded random 2 × 128 model the tests use (generated on install, not committed). */
export const RANDOM_MODEL_DIR = join(MODELS, "random-tiny");

/** Files copied from the vocabulary directory next to the model. */
export const VOCAB_FILES = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "NOTICE.md"] as const;

export interface GenerateOptions {
  /** Directory to write model.onnx and config.json into (created if missing); default models/random-tiny. */
  readonly outDir: string;
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly intermediate?: number;
  readonly maxPosition?: number;
  readonly typeVocab?: number;
  /** Rows of the word embedding table; defaults to the number of lines of vocabDir/vocab.txt. */
  readonly vocabSize?: number;
  /** Integer in [0, 2^32). */
  readonly seed?: number;
  /** Where to copy VOCAB_FILES from; null copies nothing (then vocabSize is required). */
  readonly vocabDir?: string | null;
  /** Default true: the graph takes token_type_ids. */
  readonly tokenTypeIds?: boolean;
  /** Default true: the graph outputs pooler_output. */
  readonly pooler?: boolean;
  /** Classifier labels, in id order: adds the `logits` output and id2label/label2id to config.json. */
  readonly labels?: readonly string[];
  /** With labels: problem_type multi_label_classification instead of single_label_classification. */
  readonly multilabel?: boolean;
  /** Default false: also output every layer but the last as `hidden_states.N`. */
  readonly hiddenStates?: boolean;
  /** With labels: `logits` is the only output (a sequence-classification export such as a cross-encoder). */
  readonly classifierOnly?: boolean;
  /** Default false: self-attention as ONNX Runtime's MultiHeadAttention contrib op (to measure fused attention). */
  readonly fusedAttention?: boolean;
  /** fp32 writes model.onnx (default), fp16 model_fp16.onnx (float16 weights, float32 outputs), both writes both. */
  readonly precision?: "fp32" | "fp16" | "both";
}

/** Shapes of the models bertd is tried and benchmarked with. */
export const PRESETS = {
  /** The default model: small enough to generate on every install. */
  default: { layers: 2, hidden: 128, heads: 2, intermediate: 512 },
  /** all-MiniLM-L6-v2's shape. */
  minilm: { layers: 6, hidden: 384, heads: 12, intermediate: 1536 },
  /** bert-base-uncased's shape. */
  base: { layers: 12, hidden: 768, heads: 12, intermediate: 3072 },
} as const satisfies Record<string, Pick<GenerateOptions, "layers" | "hidden" | "heads" | "intermediate">>;

export const DEFAULT_SEED = 42;

export interface GeneratedModel {
  readonly modelPath: string;
  readonly configPath: string;
  /** Size of modelPath in bytes (model.onnx unless only fp16 was asked for). */
  readonly modelBytes: number;
  readonly parameters: number;
  readonly config: BertConfigJson;
}

export type BertConfigJson = Record<string, unknown>;

export async function resolveGraphOptions(options: GenerateOptions): Promise<BertGraphOptions> {
  const vocabDir = options.vocabDir === undefined ? DEFAULT_MODEL_DIR : options.vocabDir;
  const vocabLines = vocabDir === null ? null : await countVocab(join(vocabDir, "vocab.txt"));
  const vocabSize = options.vocabSize ?? vocabLines;
  if (vocabSize === null) throw new Error("vocabSize is required when no vocabulary directory is given");
  if (vocabLines !== null && vocabSize < vocabLines) {
    throw new RangeError(`vocabSize ${vocabSize} is smaller than the ${vocabLines} entries of ${vocabDir}/vocab.txt`);
  }
  const d = PRESETS.default;
  const graph: BertGraphOptions = {
    vocabSize,
    hiddenSize: options.hidden ?? d.hidden,
    numLayers: options.layers ?? d.layers,
    numHeads: options.heads ?? d.heads,
    intermediateSize: options.intermediate ?? d.intermediate,
    maxPositions: options.maxPosition ?? 512,
    typeVocabSize: options.typeVocab ?? 2,
    seed: options.seed ?? DEFAULT_SEED,
    tokenTypeIds: options.tokenTypeIds ?? true,
    pooler: options.pooler ?? true,
    labels: options.labels && options.labels.length > 0 ? [...options.labels] : null,
    hiddenStates: options.hiddenStates ?? false,
    classifierOnly: options.classifierOnly ?? false,
    fusedAttention: options.fusedAttention ?? false,
  };
  validateGraphOptions(graph);
  if (!Number.isInteger(graph.seed) || graph.seed < 0 || graph.seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${graph.seed}`);
  }
  if (options.multilabel && graph.labels === null) throw new Error("multilabel needs classifier labels");
  return graph;
}

/** Hugging Face BertConfig fields for the model, plus a "bertd" section saying how it was made. */
export function bertConfig(o: BertGraphOptions, multilabel = false): BertConfigJson {
  const config: BertConfigJson = {
    architectures: [o.labels === null ? "BertModel" : "BertForSequenceClassification"],
    model_type: "bert",
    vocab_size: o.vocabSize,
    hidden_size: o.hiddenSize,
    num_hidden_layers: o.numLayers,
    num_attention_heads: o.numHeads,
    intermediate_size: o.intermediateSize,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: o.maxPositions,
    type_vocab_size: o.typeVocabSize,
    initializer_range: INITIALIZER_RANGE,
    layer_norm_eps: LAYER_NORM_EPS,
    pad_token_id: 0,
    position_embedding_type: "absolute",
  };
  if (o.labels !== null) {
    config.id2label = Object.fromEntries(o.labels.map((label, id) => [String(id), label]));
    config.label2id = Object.fromEntries(o.labels.map((label, id) => [label, id]));
    config.problem_type = multilabel ? "multi_label_classification" : "single_label_classification";
  }
  config.bertd = {
    generator: GENERATOR_VERSION,
    seed: o.seed,
    weights: "random",
    inputs: ["input_ids", "attention_mask", ...(o.tokenTypeIds ? ["token_type_ids"] : [])],
    outputs: o.classifierOnly
      ? ["logits"]
      : [
          "last_hidden_state",
          ...(o.pooler ? ["pooler_output"] : []),
          ...(o.labels !== null ? ["logits"] : []),
          ...(o.hiddenStates ? Array.from({ length: o.numLayers - 1 }, (_, i) => `hidden_states.${i + 1}`) : []),
        ],
  };
  return config;
}

/**
 * Writes `model.onnx` and `config.json` into options.outDir, and copies the vocabulary files there
 * unless it is the vocabulary directory itself. Same options → byte-identical files.
 */
export async function generateBertModel(options: GenerateOptions): Promise<GeneratedModel> {
  const graphOptions = await resolveGraphOptions(options);
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true });

  const graph = buildBertGraph(graphOptions);
  const precision = options.precision ?? "fp32";
  let modelPath = "";
  let modelBytes = 0;
  if (precision !== "fp32") {
    const { chunks, byteLength } = encodeModel(convertToFloat16(graph));
    modelPath = join(outDir, "model_fp16.onnx");
    modelBytes = byteLength;
    await writeAtomically(modelPath, chunks);
  }
  if (precision !== "fp16") {
    const { chunks, byteLength } = encodeModel(graph);
    modelPath = join(outDir, "model.onnx");
    modelBytes = byteLength;
    await writeAtomically(modelPath, chunks);
  }

  const config = bertConfig(graphOptions, options.multilabel ?? false);
  const configPath = join(outDir, "config.json");
  await writeAtomically(configPath, [Buffer.from(`${JSON.stringify(config, null, 2)}\n`)]);

  const vocabDir = options.vocabDir === undefined ? DEFAULT_MODEL_DIR : options.vocabDir;
  if (vocabDir !== null && resolve(vocabDir) !== outDir) {
    // Read and rename into place rather than copyFile: the sources may be read-only, and copyFile
    // would carry that mode over and then fail to overwrite the copy next time.
    for (const file of VOCAB_FILES) await writeAtomically(join(outDir, file), [await readFile(join(vocabDir, file))]);
  }
  return { modelPath, configPath, modelBytes, parameters: parameterCount(graphOptions), config };
}

/**
 * Builds `dir/model.onnx` (and with precision fp16/both `dir/model_fp16.onnx`) from the trained weights in
 * `dir/weights.safetensors` (plain or bertd's compact quantized variant), shaped by `dir/config.json` (Hugging Face BertConfig). The graph is the
 * generator's, so ONNX Runtime fuses it as it fuses the random models. config.json is left as it is.
 */
export async function buildFromWeights(dir: string, precision: "fp32" | "fp16" | "both" = "fp32"): Promise<GeneratedModel> {
  const outDir = resolve(dir);
  const config = JSON.parse(await readFile(join(outDir, "config.json"), "utf8")) as Record<string, unknown>;
  const { tensors } = await readSafetensors(join(outDir, "weights.safetensors"));
  const int = (key: string): number => {
    const value = config[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new Error(`${dir}/config.json: ${key} must be an integer, got ${String(value)}`);
    return value;
  };
  const bertd = (config.bertd ?? {}) as { inputs?: string[]; outputs?: string[] };
  const graphOptions: BertGraphOptions = {
    vocabSize: int("vocab_size"),
    hiddenSize: int("hidden_size"),
    numLayers: int("num_hidden_layers"),
    numHeads: int("num_attention_heads"),
    intermediateSize: int("intermediate_size"),
    maxPositions: int("max_position_embeddings"),
    typeVocabSize: int("type_vocab_size"),
    seed: 0,
    tokenTypeIds: bertd.inputs?.includes("token_type_ids") ?? true,
    pooler: bertd.outputs?.includes("pooler_output") ?? true,
    labels: null,
    weights: tensors,
  };
  validateGraphOptions(graphOptions);
  const graph = buildBertGraph(graphOptions);
  let modelPath = "";
  let modelBytes = 0;
  for (const [variant, file] of [["fp16", "model_fp16.onnx"], ["fp32", "model.onnx"]] as const) {
    if (precision !== "both" && precision !== variant) continue;
    const { chunks, byteLength } = encodeModel(variant === "fp16" ? convertToFloat16(graph) : graph);
    modelPath = join(outDir, file);
    modelBytes = byteLength;
    await writeAtomically(modelPath, chunks);
  }
  return { modelPath, configPath: join(outDir, "config.json"), modelBytes, parameters: parameterCount(graphOptions), config };
}

async function countVocab(path: string): Promise<number> {
  const text = await readFile(path, "utf8");
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.length;
}

/** Writes to a temporary file beside `path`, then renames it over `path`. */
async function writeAtomically(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const file = await open(tmp, "w");
    try {
      for (const chunk of chunks) {
        for (let offset = 0; offset < chunk.byteLength; ) {
          const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
          offset += bytesWritten;
        }
      }
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

