import { sigmoidInto, softmaxInto } from "./losses.js";
import { standardizeInto } from "./normalizer.js";
import type { Architecture, ForwardFn, HeadType } from "./types.js";

/** Decision rule shared by training, evaluation and serving: argmax (multiclass) or p > 0.5 (multilabel). */
export const MULTILABEL_THRESHOLD = 0.5;

/** Indices of the predicted labels for a probability vector. */
export function predictedIndices(type: HeadType, probs: ArrayLike<number>, k: number, out: number[]): void {
  out.length = 0;
  if (type === "multiclass") {
    if (k === 0) return;
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[j] > probs[best]) best = j;
    out.push(best);
  } else {
    for (let j = 0; j < k; j++) if (probs[j] > MULTILABEL_THRESHOLD) out.push(j);
  }
}

export interface SnapshotInit {
  readonly type: HeadType;
  readonly architecture: Architecture;
  readonly inputDim: number;
  readonly labels: readonly string[];
  readonly mean: Float64Array;
  readonly scale: Float64Array;
  readonly forward: ForwardFn;
  readonly steps: number;
  readonly trainedExamples: number;
}

/**
 * An immutable inference-only view of a head, made by HeadTrainer.freeze(): it owns copies of every array it
 * reads, so later training can never show through. predict() gives the same bits as the trainer's predict()
 * at the moment of freezing.
 */
export class HeadSnapshot {
  readonly type: HeadType;
  readonly architecture: Architecture;
  readonly inputDim: number;
  readonly labels: readonly string[];
  readonly steps: number;
  readonly trainedExamples: number;
  readonly #mean: Float64Array;
  readonly #scale: Float64Array;
  readonly #forward: ForwardFn;
  readonly #x: Float64Array;
  readonly #logits: Float64Array;

  /** Takes ownership of init's arrays: pass copies. */
  constructor(init: SnapshotInit) {
    this.type = init.type;
    this.architecture = init.architecture;
    this.inputDim = init.inputDim;
    this.labels = Object.freeze([...init.labels]);
    this.steps = init.steps;
    this.trainedExamples = init.trainedExamples;
    this.#mean = init.mean;
    this.#scale = init.scale;
    this.#forward = init.forward;
    this.#x = new Float64Array(init.inputDim);
    this.#logits = new Float64Array(init.forward.outputs);
    Object.freeze(this);
  }

  /** Probabilities per label (softmax or per-label sigmoid), in `labels` order. Throws RangeError on bad input. */
  predict(features: ArrayLike<number>): Float64Array {
    const out = new Float64Array(this.labels.length);
    this.predictInto(features, out);
    return out;
  }

  /** predict() into a caller-owned array of at least labels.length. */
  predictInto(features: ArrayLike<number>, out: Float64Array): void {
    checkFeatures(features, this.inputDim);
    const k = this.labels.length;
    if (out.length < k) throw new RangeError(`output array too short: ${out.length} < ${k}`);
    standardizeInto(features, this.#mean, this.#scale, this.#x);
    if (k === 0) return;
    this.#forward.forward(this.#x, this.#logits);
    if (this.type === "multiclass") softmaxInto(this.#logits, k, out);
    else sigmoidInto(this.#logits, k, out);
  }

  /** The head's raw scores per label, before softmax or sigmoid, in `labels` order. Throws RangeError on bad input. */
  logits(features: ArrayLike<number>): Float64Array {
    checkFeatures(features, this.inputDim);
    const k = this.labels.length;
    standardizeInto(features, this.#mean, this.#scale, this.#x);
    if (k === 0) return new Float64Array(0);
    this.#forward.forward(this.#x, this.#logits);
    return this.#logits.slice(0, k);
  }

  /** The predicted label names: argmax (multiclass) or every label with p > 0.5 (multilabel). */
  predictLabels(features: ArrayLike<number>): string[] {
    const probs = this.predict(features);
    const idx: number[] = [];
    predictedIndices(this.type, probs, probs.length, idx);
    return idx.map((i) => this.labels[i]);
  }
}

export function checkFeatures(features: ArrayLike<number>, dim: number): void {
  if (features.length !== dim) throw new RangeError(`features have dimension ${features.length}, expected ${dim}`);
  for (let i = 0; i < dim; i++) if (!Number.isFinite(features[i])) throw new RangeError(`feature ${i} is not finite`);
}
