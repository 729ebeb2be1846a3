/** Shared types of the heads module. */

/** MULTICLASS: exactly one label per example, softmax. MULTILABEL: any number of labels, one sigmoid each. */
export type HeadType = "multiclass" | "multilabel";

/** linear: logits = W x̂ + b. mlp: logits = W₂ GELU(W₁ x̂ + b₁) + b₂ (GELU, tanh approximation). */
export type Architecture = "linear" | "mlp";

export interface HeadSpec {
  readonly type: HeadType;
  readonly architecture: Architecture;
  /** Dimension of the feature vectors (pooled embeddings). */
  readonly inputDim: number;
  /** Initial labels, in output order (may be empty when allowNewLabels). */
  readonly labels: readonly string[];
  /** Whether learn() may add labels it has not seen (a zero-initialised output row each). */
  readonly allowNewLabels: boolean;
}

export interface LabelledExample {
  readonly features: Float32Array | Float64Array | readonly number[];
  readonly labels: readonly string[];
  /** Multiplies the example's loss; must be finite and > 0. Default 1. */
  readonly weight?: number;
}

/** learn() on an accepted example: the prediction made BEFORE the example touched anything. */
export interface LearnOutcome {
  readonly predicted: string[];
  readonly correct: boolean;
  /**
   * Prequential loss: cross-entropy (multiclass) or mean BCE per label (multilabel), unweighted. When the example
   * introduces a label, it is computed after that label's zero-initialised row is added (else it would be ∞).
   */
  readonly loss: number;
}

export interface Rejected {
  readonly rejected: string;
}

export interface EvalMetrics {
  readonly examples: number;
  readonly accuracy: number;
  readonly macroF1: number;
  readonly logLoss: number;
  /** TOKEN heads: entity-level (exact span and type) precision, recall and F1; absent for other heads. */
  readonly spanPrecision?: number;
  readonly spanRecall?: number;
  readonly spanF1?: number;
}

/** The forward pass of a head: features already standardized, logits out. */
export interface ForwardFn {
  readonly outputs: number;
  forward(x: Float64Array, logits: Float64Array): void;
}
