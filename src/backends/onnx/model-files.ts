import { readFileSync } from "node:fs";

/** The weights a model file holds. */
export type Weights = "fp32" | "fp16" | "int8";

/**
 * Which weights to load: fp32, fp16 and int8 load those or fail; auto prefers int8 on the CPU
 * (then fp32, fp16) and fp16 on CUDA (then fp32; int8 last, its integer kernels are CPU ones).
 */
export type Precision = "auto" | Weights;

export const PRECISIONS: readonly Precision[] = ["auto", "fp32", "fp16", "int8"];

export type DeviceKind = "cpu" | "cuda";

export interface ModelFileVariant {
  /** Relative to the model directory. */
  readonly file: string;
  readonly weights: Weights;
}

/**
 * The file names in use for one model's variants (bertd's own, Hugging Face Optimum's, sentence-transformers'
 * and transformers.js's), without their directory. Optimum's O1–O3 are graph-optimized fp32, O4 adds fp16.
 */
const NAMES: readonly ModelFileVariant[] = [
  { file: "model.onnx", weights: "fp32" },
  { file: "model_O1.onnx", weights: "fp32" },
  { file: "model_O2.onnx", weights: "fp32" },
  { file: "model_O3.onnx", weights: "fp32" },
  { file: "model_fp16.onnx", weights: "fp16" },
  { file: "model_O4.onnx", weights: "fp16" },
  { file: "model_quantized.onnx", weights: "int8" },
  { file: "model_int8.onnx", weights: "int8" },
  { file: "model_uint8.onnx", weights: "int8" },
  { file: "model_qint8_avx512_vnni.onnx", weights: "int8" },
  { file: "model_qint8_avx512.onnx", weights: "int8" },
  { file: "model_qint8_arm64.onnx", weights: "int8" },
  { file: "model_quint8_avx2.onnx", weights: "int8" },
];

/**
 * The ONNX files bertd loads from a model directory, in order of preference for the same weights:
 * at the root, or under onnx/ as Hugging Face's ONNX exports lay them out.
 */
export const MODEL_FILE_VARIANTS: readonly ModelFileVariant[] = NAMES.flatMap((v) => [v, { file: `onnx/${v.file}`, weights: v.weights }]);

/** The weights a file name holds, by the names above (a name we do not know: undefined). */
export function weightsOfFile(file: string): Weights | undefined {
  const name = file.split(/[\\/]/).pop();
  return NAMES.find((v) => v.file === name)?.weights;
}

let cpuFlags: Set<string> | undefined;

function hostCpuFlags(): Set<string> {
  if (cpuFlags) return cpuFlags;
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
    cpuFlags = new Set(line.trim().split(/\s+/));
  } catch {
    cpuFlags = new Set();
  }
  return cpuFlags;
}

/** The int8 names in the order that suits this CPU: a file built for it first, then bertd's own and the generic ones. */
function int8Order(): string[] {
  const flags = hostCpuFlags();
  const specific =
    process.arch === "arm64"
      ? ["model_qint8_arm64.onnx"]
      : flags.has("avx512_vnni") || flags.has("avx_vnni")
        ? ["model_qint8_avx512_vnni.onnx", "model_qint8_avx512.onnx"]
        : flags.has("avx512f")
          ? ["model_qint8_avx512.onnx"]
          : flags.has("avx2")
            ? ["model_quint8_avx2.onnx"]
            : [];
  const generic = ["model_quantized.onnx", "model_int8.onnx", "model_uint8.onnx"];
  const rest = NAMES.filter((v) => v.weights === "int8" && !specific.includes(v.file) && !generic.includes(v.file)).map((v) => v.file);
  return [...specific, ...generic, ...rest];
}

function namesOf(weights: Weights): string[] {
  return weights === "int8" ? int8Order() : NAMES.filter((v) => v.weights === weights).map((v) => v.file);
}

/** The files to try, first one present wins. */
export function modelFileCandidates(precision: Precision, device: DeviceKind): string[] {
  const order: readonly Weights[] = precision !== "auto" ? [precision] : device === "cuda" ? ["fp16", "fp32", "int8"] : ["int8", "fp32", "fp16"];
  return order.flatMap((weights) => namesOf(weights).flatMap((name) => [name, `onnx/${name}`]));
}
