/** The weights a model file holds. */
export type Weights = "fp32" | "fp16";

/** Which weights to load: fp32 and fp16 load those or fail; auto takes fp16 first only when asked to prefer it (CUDA). */
export type Precision = "auto" | Weights;

export interface ModelFileVariant {
  /** Relative to the model directory. */
  readonly file: string;
  readonly weights: Weights;
}

/**
 * The ONNX files bertd loads from a model directory, in order of preference for the same weights:
 * at the root, or under onnx/ as Hugging Face's ONNX exports lay them out.
 */
export const MODEL_FILE_VARIANTS: readonly ModelFileVariant[] = [
  { file: "model.onnx", weights: "fp32" },
  { file: "onnx/model.onnx", weights: "fp32" },
  { file: "model_fp16.onnx", weights: "fp16" },
  { file: "onnx/model_fp16.onnx", weights: "fp16" },
];

/** The files to try, first one present wins. */
export function modelFileCandidates(precision: Precision, preferFp16: boolean): string[] {
  const order: readonly Weights[] = precision !== "auto" ? [precision] : preferFp16 ? ["fp16", "fp32"] : ["fp32", "fp16"];
  return order.flatMap((weights) => MODEL_FILE_VARIANTS.filter((variant) => variant.weights === weights).map((variant) => variant.file));
}
