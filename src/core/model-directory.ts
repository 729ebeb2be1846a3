import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { type DeviceKind, modelFileCandidates, type Precision, type Weights, weightsOfFile } from "../backends/onnx/model-files.js";
import { PoolingMode } from "./pooling.js";

/** What bertd reads from a model directory (the layout of a Hugging Face ONNX export). */
export interface ModelDirectory {
  readonly dir: string;
  readonly id: string;
  readonly modelPath: string;
  /** The served file relative to dir (model.onnx, onnx/model_quantized.onnx, …). */
  readonly modelFile: string;
  /** What the served file holds: by its name, else by --precision, else by the ops in it. */
  readonly weights: Weights;
  readonly hiddenSize?: number;
  readonly maxPositionEmbeddings?: number;
  /** The sentence-transformers pooling config's mode, when the export has one. */
  readonly sentenceTransformersPooling?: PoolingMode;
  /** Classification labels (config.json id2label), when the model ends in a classifier. */
  readonly labels?: readonly string[];
  readonly problemType?: "single_label_classification" | "multi_label_classification";
  readonly config: Record<string, unknown>;
}

export class ModelDirectoryError extends Error {}

export interface ModelFileChoice {
  readonly precision?: Precision;
  /** The device sessions run on: auto prefers int8 on the CPU and fp16 on CUDA. */
  readonly device?: DeviceKind;
  /** Serve this file (relative to the directory, or absolute) whatever its name. */
  readonly modelFile?: string;
}

export function readModelDirectory(dir: string, choice: ModelFileChoice = {}): ModelDirectory {
  const root = resolve(dir);
  if (!existsSync(root)) throw new ModelDirectoryError(`model directory ${root} does not exist`);
  const precision = choice.precision ?? "auto";
  let modelFile: string | undefined;
  let weights: Weights;
  if (choice.modelFile) {
    modelFile = relative(root, resolve(root, choice.modelFile));
    if (!existsSync(join(root, modelFile))) throw new ModelDirectoryError(`--model-file ${choice.modelFile}: ${join(root, modelFile)} does not exist`);
    weights = weightsOfFile(modelFile) ?? (precision !== "auto" ? precision : sniffWeights(join(root, modelFile)));
    if (precision !== "auto" && weights !== precision) {
      throw new ModelDirectoryError(`--model-file ${choice.modelFile} holds ${weights} weights, not the --precision ${precision} asked for`);
    }
  } else {
    const order = modelFileCandidates(precision, choice.device ?? "cpu");
    modelFile = order.find((name) => existsSync(join(root, name)));
    if (!modelFile) {
      const hint = basename(root) === "default" && precision !== "fp16" ? " (run `npm ci`, which generates the default model, or `npm run model:generate`)" : "";
      const asked = precision === "auto" ? "" : ` for --precision ${precision}`;
      const shown = order.length > 6 ? `${order.slice(0, 4).join(", ")} or another of the names in docs/models.md` : order.join(" or ");
      throw new ModelDirectoryError(`model directory ${root} has no ${shown}${asked}${hint}`);
    }
    weights = weightsOfFile(modelFile)!;
  }
  const config = readJson(join(root, "config.json")) ?? {};
  const id2label = config.id2label as Record<string, string> | undefined;
  let labels: string[] | undefined;
  if (id2label && typeof id2label === "object" && Object.keys(id2label).length > 0) {
    labels = Object.keys(id2label)
      .map(Number)
      .sort((a, b) => a - b)
      .map((i) => String(id2label[String(i)]));
  }
  const problemType = config.problem_type === "multi_label_classification" ? "multi_label_classification" : "single_label_classification";
  const nameOrPath = typeof config._name_or_path === "string" && config._name_or_path ? config._name_or_path : basename(root);
  return {
    dir: root,
    id: nameOrPath,
    modelPath: join(root, modelFile),
    modelFile,
    weights,
    hiddenSize: numberField(config, "hidden_size"),
    maxPositionEmbeddings: numberField(config, "max_position_embeddings"),
    sentenceTransformersPooling: sentenceTransformersPooling(root),
    labels,
    problemType: labels ? problemType : undefined,
    config,
  };
}

/** sha256 over the served file and its external data files (see model-identity.ts for what heads are bound to). */
export async function hashModel(model: ModelDirectory): Promise<string> {
  return hashModelFile(model.modelPath);
}

/** sha256 over a model file and its external data files (those named after it: model.onnx_data, model.onnx.data). */
export async function hashModelFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  const stem = basename(path);
  const dir = resolve(path, "..");
  const external = readdirSync(dir).filter((f) => f !== stem && f.startsWith(stem) && !f.endsWith(".tmp")).sort();
  const files = [path, ...external.map((f) => join(dir, f))];
  for (const file of files) {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

/** A file whose name says nothing: int8 when its graph has integer MatMul ops, else fp32 (fp16 is not told apart cheaply: name it or pass --precision). */
function sniffWeights(path: string): Weights {
  const { size } = statSync(path);
  if (size > 2 ** 31) return "fp32";
  const bytes = readFileSync(path);
  return ["MatMulInteger", "DynamicQuantizeMatMul", "QLinearMatMul", "MatMulIntegerToFloat"].some((op) => bytes.includes(op)) ? "int8" : "fp32";
}

function sentenceTransformersPooling(root: string): PoolingMode | undefined {
  const config = readJson(join(root, "1_Pooling", "config.json"));
  if (!config) return undefined;
  if (config.pooling_mode_cls_token) return PoolingMode.cls;
  if (config.pooling_mode_mean_tokens) return PoolingMode.mean;
  if (config.pooling_mode_max_tokens) return PoolingMode.max;
  return undefined;
}

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ModelDirectoryError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function numberField(config: Record<string, unknown>, key: string): number | undefined {
  const value = config[key];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
