import { ParamTensor } from "./params.js";
import type { ForwardFn } from "./types.js";

/**
 * out_k = b_k + Σ_i W[k, i] x_i for the first `outputs` rows of W (row-major, `dim` columns).
 * Two rows at a time with two partial sums each (fewer loads; a fixed, deterministic summation order).
 */
export function linearForward(w: Float64Array, b: Float64Array, outputs: number, dim: number, x: Float64Array, out: Float64Array): void {
  const even = dim & ~1;
  let k = 0;
  for (; k + 1 < outputs; k += 2) {
    const r0 = k * dim;
    const r1 = r0 + dim;
    let a0 = 0;
    let a1 = 0;
    let c0 = 0;
    let c1 = 0;
    for (let i = 0; i < even; i += 2) {
      const x0 = x[i];
      const x1 = x[i + 1];
      a0 += w[r0 + i] * x0;
      a1 += w[r0 + i + 1] * x1;
      c0 += w[r1 + i] * x0;
      c1 += w[r1 + i + 1] * x1;
    }
    if (even < dim) {
      a0 += w[r0 + even] * x[even];
      c0 += w[r1 + even] * x[even];
    }
    out[k] = b[k] + (a0 + a1);
    out[k + 1] = b[k + 1] + (c0 + c1);
  }
  if (k < outputs) {
    const r0 = k * dim;
    let a0 = 0;
    let a1 = 0;
    for (let i = 0; i < even; i += 2) {
      a0 += w[r0 + i] * x[i];
      a1 += w[r0 + i + 1] * x[i + 1];
    }
    if (even < dim) a0 += w[r0 + even] * x[even];
    out[k] = b[k] + (a0 + a1);
  }
}

/** gW += g ⊗ x, gb += g, four rows at a time (each x_i loaded once per four rows). */
export function linearBackward(gw: Float64Array, gb: Float64Array, outputs: number, dim: number, x: Float64Array, g: Float64Array): void {
  let k = 0;
  for (; k + 3 < outputs; k += 4) {
    const g0 = g[k];
    const g1 = g[k + 1];
    const g2 = g[k + 2];
    const g3 = g[k + 3];
    const r0 = k * dim;
    const r1 = r0 + dim;
    const r2 = r1 + dim;
    const r3 = r2 + dim;
    for (let i = 0; i < dim; i++) {
      const xi = x[i];
      gw[r0 + i] += g0 * xi;
      gw[r1 + i] += g1 * xi;
      gw[r2 + i] += g2 * xi;
      gw[r3 + i] += g3 * xi;
    }
    gb[k] += g0;
    gb[k + 1] += g1;
    gb[k + 2] += g2;
    gb[k + 3] += g3;
  }
  for (; k < outputs; k++) {
    const gk = g[k];
    const row = k * dim;
    for (let i = 0; i < dim; i++) gw[row + i] += gk * x[i];
    gb[k] += gk;
  }
}

/** The linear architecture: W (labels × inputDim, decayed), b (labels, not decayed). Zero-initialised. */
export class LinearModel {
  readonly architecture = "linear" as const;
  readonly inputDim: number;
  readonly w: ParamTensor;
  readonly b: ParamTensor;
  readonly tensors: readonly ParamTensor[];

  constructor(inputDim: number, outputs: number) {
    this.inputDim = inputDim;
    this.w = new ParamTensor("w", outputs, inputDim, { decay: true, labelRows: true });
    this.b = new ParamTensor("b", outputs, 1, { decay: false, labelRows: true });
    this.tensors = [this.w, this.b];
  }

  get outputs(): number {
    return this.b.rows;
  }

  forward(x: Float64Array, logits: Float64Array): void {
    linearForward(this.w.value, this.b.value, this.outputs, this.inputDim, x, logits);
  }

  /** Accumulates the gradient of Σ dlogits·logits with respect to the parameters. */
  backward(x: Float64Array, dlogits: Float64Array): void {
    linearBackward(this.w.grad, this.b.grad, this.outputs, this.inputDim, x, dlogits);
  }

  addOutputs(count: number): void {
    for (const t of this.tensors) t.addRows(count);
  }

  /** A forward pass over copies of the current parameters. */
  frozen(): ForwardFn {
    const w = this.w.value.slice();
    const b = this.b.value.slice();
    const outputs = this.outputs;
    const dim = this.inputDim;
    return {
      outputs,
      forward: (x, logits) => linearForward(w, b, outputs, dim, x, logits),
    };
  }
}
