import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, readdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { modelFileCandidates, type Precision } from "../backends/onnx/model-files.js";
import { PoolingMode } from "./pooling.js";

/** What bertd reads from a model directory (the layout of a Hugging Face ONNX export). */
export interface ModelDirectory {
  readonly dir: string;
  readonly id: string;
  readonly modelPath: string;
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

export function readModelDirectory(dir: string, precision: Precision = "auto", preferFp16 = false): ModelDirectory {
  const root = resolve(dir);
  if (!existsSync(root)) throw new ModelDirectoryError(`model directory ${root} does not exist`);
  const order = modelFileCandidates(precision, preferFp16);
  const modelFile = order.find((name) => existsSync(join(root, name)));
  if (!modelFile) {
    const hint = basename(root) === "default" && precision !== "fp16" ? " (run `npm ci`, which generates the default model, or `npm run model:generate`)" : "";
    const asked = precision === "auto" ? "" : ` for --precision ${precision}`;
    throw new ModelDirectoryError(`model directory ${root} has no ${order.join(" or ")}${asked}${hint}`);
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
    hiddenSize: numberField(config, "hidden_size"),
    maxPositionEmbeddings: numberField(config, "max_position_embeddings"),
    sentenceTransformersPooling: sentenceTransformersPooling(root),
    labels,
    problemType: labels ? problemType : undefined,
    config,
  };
}

/** sha256 over model.onnx and its external data files: heads are bound to this. */
export async function hashModel(model: ModelDirectory): Promise<string> {
  const hash = createHash("sha256");
  const stem = basename(model.modelPath);
  const dir = resolve(model.modelPath, "..");
  const external = readdirSync(dir).filter((f) => f !== stem && f.startsWith(stem)).sort();
  const files = [model.modelPath, ...external.map((f) => join(dir, f))];
  for (const file of files) {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
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
