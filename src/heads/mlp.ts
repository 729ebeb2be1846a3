import { linearBackward, linearForward, type LinearModel } from "./linear.js";
import { ParamTensor } from "./params.js";
import type { Prng } from "./prng.js";
import type { ForwardFn } from "./types.js";

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** GELU, tanh approximation (as in the original BERT): 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³))). */
export function gelu(u: number): number {
  return 0.5 * u * (1 + Math.tanh(GELU_C * (u + GELU_A * u * u * u)));
}

/** d gelu(u) / du for the tanh approximation. */
export function geluDerivative(u: number): number {
  const t = Math.tanh(GELU_C * (u + GELU_A * u * u * u));
  return 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * u * u);
}

function mlpForward(
  w1: Float64Array,
  b1: Float64Array,
  w2: Float64Array,
  b2: Float64Array,
  hidden: number,
  outputs: number,
  dim: number,
  x: Float64Array,
  pre: Float64Array,
  h: Float64Array,
  logits: Float64Array,
): void {
  linearForward(w1, b1, hidden, dim, x, pre);
  for (let j = 0; j < hidden; j++) h[j] = gelu(pre[j]);
  linearForward(w2, b2, outputs, hidden, h, logits);
}

/**
 * One hidden layer with GELU: logits = W₂ GELU(W₁ x + b₁) + b₂.
 * W₁ ~ N(0, 1/inputDim) from the seed (unit-variance pre-activations on standardized inputs), b₁ = 0;
 * W₂ and b₂ start at zero, as does every output row added later (W₁ is random, so there is no symmetry to break).
 * Weight decay on W₁ and W₂, never on b₁ and b₂.
 */
export class MlpModel {
  readonly architecture = "mlp" as const;
  readonly inputDim: number;
  readonly hiddenSize: number;
  readonly w1: ParamTensor;
  readonly b1: ParamTensor;
  readonly w2: ParamTensor;
  readonly b2: ParamTensor;
  readonly tensors: readonly ParamTensor[];
  private readonly pre: Float64Array;
  private readonly h: Float64Array;
  private readonly dh: Float64Array;

  constructor(inputDim: number, hiddenSize: number, outputs: number) {
    this.inputDim = inputDim;
    this.hiddenSize = hiddenSize;
    this.w1 = new ParamTensor("w1", hiddenSize, inputDim, { decay: true, labelRows: false });
    this.b1 = new ParamTensor("b1", hiddenSize, 1, { decay: false, labelRows: false });
    this.w2 = new ParamTensor("w2", outputs, hiddenSize, { decay: true, labelRows: true });
    this.b2 = new ParamTensor("b2", outputs, 1, { decay: false, labelRows: true });
    this.tensors = [this.w1, this.b1, this.w2, this.b2];
    this.pre = new Float64Array(hiddenSize);
    this.h = new Float64Array(hiddenSize);
    this.dh = new Float64Array(hiddenSize);
  }

  /** Draws W₁ from the PRNG (a fresh head only; restored heads carry their weights). */
  initialize(prng: Prng): void {
    const std = 1 / Math.sqrt(this.inputDim);
    const w = this.w1.value;
    for (let i = 0; i < w.length; i++) w[i] = std * prng.nextNormal();
  }

  get outputs(): number {
    return this.b2.rows;
  }

  forward(x: Float64Array, logits: Float64Array): void {
    mlpForward(this.w1.value, this.b1.value, this.w2.value, this.b2.value, this.hiddenSize, this.outputs, this.inputDim, x, this.pre, this.h, logits);
  }

  /** Accumulates gradients; must follow forward(x) (it reuses the cached activations). */
  backward(x: Float64Array, dlogits: Float64Array): void {
    const hidden = this.hiddenSize;
    const outputs = this.outputs;
    linearBackward(this.w2.grad, this.b2.grad, outputs, hidden, this.h, dlogits);
    const dh = this.dh;
    dh.fill(0);
    const w2 = this.w2.value;
    for (let k = 0, row = 0; k < outputs; k++, row += hidden) {
      const g = dlogits[k];
      if (g === 0) continue;
      for (let j = 0; j < hidden; j++) dh[j] += g * w2[row + j];
    }
    for (let j = 0; j < hidden; j++) dh[j] *= geluDerivative(this.pre[j]);
    linearBackward(this.w1.grad, this.b1.grad, hidden, this.inputDim, x, dh);
  }

  addOutputs(count: number): void {
    this.w2.addRows(count);
    this.b2.addRows(count);
  }

  frozen(): ForwardFn {
    const w1 = this.w1.value.slice();
    const b1 = this.b1.value.slice();
    const w2 = this.w2.value.slice();
    const b2 = this.b2.value.slice();
    const hidden = this.hiddenSize;
    const outputs = this.outputs;
    const dim = this.inputDim;
    const pre = new Float64Array(hidden);
    const h = new Float64Array(hidden);
    return {
      outputs,
      forward: (x, logits) => mlpForward(w1, b1, w2, b2, hidden, outputs, dim, x, pre, h, logits),
    };
  }
}

/** Either architecture; both expose forward/backward/addOutputs/frozen over their ParamTensors. */
export type HeadModel = LinearModel | MlpModel;
