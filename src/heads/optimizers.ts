import type { ParamTensor } from "./params.js";

/** Σ (scale · grad)² over all tensors (the squared global norm of the scaled gradient). */
export function gradSquaredNorm(tensors: readonly ParamTensor[], scale: number): number {
  let total = 0;
  for (const t of tensors) {
    const g = t.grad;
    const n = t.size;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const v = g[i] * scale;
      s += v * v;
    }
    total += s;
  }
  return total;
}

/**
 * The factor that global-norm clipping multiplies the gradient by: 1 when maxNorm is 0 (off) or the norm is
 * within it, else maxNorm / (norm + 1e-6) (as torch.nn.utils.clip_grad_norm_).
 */
export function clipFactor(norm: number, maxNorm: number): number {
  if (maxNorm <= 0 || norm <= maxNorm) return 1;
  return maxNorm / (norm + 1e-6);
}

export interface AdamWParams {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
}

/**
 * One AdamW step (torch.optim.AdamW semantics) on every tensor with g = gradScale · grad:
 *   θ ← θ·(1 − lr·wd)   (weights only: tensors with decay)
 *   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
 *   θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
 * t is the step number, counted per output row from the row's birth (rowBirth[r], the step count when the
 * label was added) for tensors with labelRows, so a label added late gets a fresh bias correction.
 */
export function adamwStep(tensors: readonly ParamTensor[], step: number, rowBirth: readonly number[], gradScale: number, p: AdamWParams): void {
  const { lr, beta1, beta2, epsilon } = p;
  for (const t of tensors) {
    const decay = t.decay ? 1 - lr * p.weightDecay : 1;
    const cols = t.cols;
    const value = t.value;
    const grad = t.grad;
    const m = t.moment1;
    const v = t.moment2;
    let lastT = -1;
    let stepSize = 0;
    let invSqrtBc2 = 0;
    for (let r = 0, base = 0; r < t.rows; r++, base += cols) {
      const rowT = t.labelRows ? step - rowBirth[r] : step;
      if (rowT !== lastT) {
        lastT = rowT;
        stepSize = lr / (1 - Math.pow(beta1, rowT));
        invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(beta2, rowT));
      }
      for (let i = base, end = base + cols; i < end; i++) {
        const g = grad[i] * gradScale;
        const mi = beta1 * m[i] + (1 - beta1) * g;
        const vi = beta2 * v[i] + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        value[i] = value[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + epsilon);
      }
    }
  }
}

export interface SgdParams {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

/**
 * One SGD step with heavy-ball momentum (torch.optim.SGD, dampening 0, no Nesterov) and DECOUPLED weight decay
 * (weights only): buf ← μ·buf + g;  θ ← θ·(1 − lr·wd) − lr·buf.
 */
export function sgdStep(tensors: readonly ParamTensor[], gradScale: number, p: SgdParams): void {
  const { lr, momentum } = p;
  for (const t of tensors) {
    const decay = t.decay ? 1 - lr * p.weightDecay : 1;
    const value = t.value;
    const grad = t.grad;
    const buf = t.moment1;
    const n = t.size;
    for (let i = 0; i < n; i++) {
      const b = momentum * buf[i] + grad[i] * gradScale;
      buf[i] = b;
      value[i] = value[i] * decay - lr * b;
    }
  }
}
