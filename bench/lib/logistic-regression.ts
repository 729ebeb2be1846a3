/**
 * Offline baseline: multinomial logistic regression on fixed features, trained to convergence.
 *
 * Features are standardized with the training set's mean and (population) standard deviation. The objective
 *   f(W, b) = (1/n) Σ_i −log softmax(W x̂_i + b)_{y_i}  +  (l2 / 2) ‖W‖²      (the bias is not penalized)
 * is minimized full-batch with L-BFGS (history 10, backtracking Armijo line search), which for l2 > 0 is
 * strictly convex, so the result is its unique optimum up to the tolerance.
 */

import { linearBackward, linearForward } from "../../src/heads/linear.js";

export type Features = ArrayLike<number>;

export interface LogisticRegressionOptions {
  /** L2 strength on the weights (not the bias), ≥ 0. */
  readonly l2: number;
  /** Default 500. */
  readonly maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this. Default 1e-6. */
  readonly tolerance?: number;
  /** Number of classes (default: max label + 1). */
  readonly numClasses?: number;
}

export interface LogisticRegressionModel {
  readonly numClasses: number;
  readonly dim: number;
  readonly l2: number;
  /** Weights on standardized features, numClasses × dim row-major, and biases. */
  readonly weights: Float64Array;
  readonly bias: Float64Array;
  readonly mean: Float64Array;
  /** 1 / std per feature. */
  readonly scale: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Final objective value. */
  readonly objective: number;
  /** Final gradient max-norm. */
  readonly gradientNorm: number;
  predictProba(x: Features): Float64Array;
  predict(x: Features): number;
}

/** Standardized copy of the training matrix (n × d, row-major) with its mean and 1/std. */
function standardize(x: readonly Features[]): { data: Float64Array; mean: Float64Array; scale: Float64Array; n: number; d: number } {
  const n = x.length;
  if (n === 0) throw new RangeError("no training examples");
  const d = x[0].length;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (const row of x) {
    if (row.length !== d) throw new RangeError("rows of different dimensions");
    for (let j = 0; j < d; j++) mean[j] += row[j];
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (const row of x) {
    for (let j = 0; j < d; j++) {
      const c = row[j] - mean[j];
      scale[j] += c * c;
    }
  }
  for (let j = 0; j < d; j++) {
    const std = Math.sqrt(scale[j] / n);
    scale[j] = std > 1e-12 ? 1 / std : 1;
  }
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    for (let j = 0; j < d; j++) data[i * d + j] = (row[j] - mean[j]) * scale[j];
  }
  return { data, mean, scale, n, d };
}

/** Objective and gradient at theta = [W (k × d), b (k)]; rows of `data` are precomputed subarrays. */
function objective(theta: Float64Array, grad: Float64Array, rows: readonly Float64Array[], y: readonly number[], d: number, k: number, l2: number): number {
  grad.fill(0);
  const n = rows.length;
  const logits = new Float64Array(k);
  const wSize = k * d;
  const w = theta.subarray(0, wSize);
  const b = theta.subarray(wSize);
  const gw = grad.subarray(0, wSize);
  const gb = grad.subarray(wSize);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    linearForward(w, b, k, d, row, logits);
    let max = -Infinity;
    for (let c = 0; c < k; c++) if (logits[c] > max) max = logits[c];
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(logits[c] - max);
    const yi = y[i];
    const lse = max + Math.log(sum);
    loss += lse - logits[yi];
    for (let c = 0; c < k; c++) logits[c] = Math.exp(logits[c] - lse) - (c === yi ? 1 : 0);
    linearBackward(gw, gb, k, d, row, logits);
  }
  const invN = 1 / n;
  let penalty = 0;
  for (let p = 0; p < theta.length; p++) grad[p] *= invN;
  for (let p = 0; p < wSize; p++) {
    penalty += theta[p] * theta[p];
    grad[p] += l2 * theta[p];
  }
  return loss * invN + 0.5 * l2 * penalty;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function trainLogisticRegression(x: readonly Features[], y: readonly number[], options: LogisticRegressionOptions): LogisticRegressionModel {
  const { l2 } = options;
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new RangeError(`l2 must be finite and ≥ 0, got ${l2}`);
  if (x.length !== y.length) throw new RangeError("x and y differ in length");
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-6;
  const k = options.numClasses ?? Math.max(...y) + 1;
  for (const label of y) if (!Number.isInteger(label) || label < 0 || label >= k) throw new RangeError(`bad label ${label}`);
  const { data, mean, scale, n, d } = standardize(x);
  const rows = Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
  const size = k * d + k;
  const theta = new Float64Array(size);
  const grad = new Float64Array(size);
  let f = objective(theta, grad, rows, y, d, k, l2);

  const m = 10;
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(size);
  const alpha = new Float64Array(m);
  const nextTheta = new Float64Array(size);
  const nextGrad = new Float64Array(size);
  let iterations = 0;
  let converged = maxAbs(grad) < tolerance;
  while (!converged && iterations < maxIterations) {
    iterations++;
    // Two-loop recursion: dir = −H g.
    dir.set(grad);
    for (let h = sHist.length - 1; h >= 0; h--) {
      alpha[h] = rho[h] * dot(sHist[h], dir);
      for (let p = 0; p < size; p++) dir[p] -= alpha[h] * yHist[h][p];
    }
    let gamma = 1;
    if (sHist.length > 0) {
      const last = sHist.length - 1;
      gamma = dot(sHist[last], yHist[last]) / dot(yHist[last], yHist[last]);
    }
    for (let p = 0; p < size; p++) dir[p] *= gamma;
    for (let h = 0; h < sHist.length; h++) {
      const beta = rho[h] * dot(yHist[h], dir);
      for (let p = 0; p < size; p++) dir[p] += (alpha[h] - beta) * sHist[h][p];
    }
    for (let p = 0; p < size; p++) dir[p] = -dir[p];
    let slope = dot(grad, dir);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHist.length = 0;
      yHist.length = 0;
      rho.length = 0;
      for (let p = 0; p < size; p++) dir[p] = -grad[p];
      slope = dot(grad, dir);
    }
    // Backtracking Armijo line search; the first iteration starts from a step of 1 / ‖g‖.
    let step = sHist.length === 0 ? Math.min(1, 1 / Math.sqrt(dot(grad, grad))) : 1;
    let fNext = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      for (let p = 0; p < size; p++) nextTheta[p] = theta[p] + step * dir[p];
      fNext = objective(nextTheta, nextGrad, rows, y, d, k, l2);
      if (fNext <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNext <= f)) break; // no progress possible at this precision
    const s = new Float64Array(size);
    const yy = new Float64Array(size);
    for (let p = 0; p < size; p++) {
      s[p] = nextTheta[p] - theta[p];
      yy[p] = nextGrad[p] - grad[p];
    }
    const sy = dot(s, yy);
    if (sy > 1e-12) {
      if (sHist.length === m) {
        sHist.shift();
        yHist.shift();
        rho.shift();
      }
      sHist.push(s);
      yHist.push(yy);
      rho.push(1 / sy);
    }
    const decrease = f - fNext;
    theta.set(nextTheta);
    grad.set(nextGrad);
    f = fNext;
    converged = maxAbs(grad) < tolerance || decrease <= 1e-15 * Math.max(1, Math.abs(f));
  }

  const weights = theta.slice(0, k * d);
  const bias = theta.slice(k * d);
  const predictProba = (row: Features): Float64Array => {
    if (row.length !== d) throw new RangeError(`expected dimension ${d}, got ${row.length}`);
    const out = new Float64Array(k);
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let s = bias[c];
      for (let j = 0; j < d; j++) s += weights[c * d + j] * (row[j] - mean[j]) * scale[j];
      out[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      out[c] = Math.exp(out[c] - max);
      sum += out[c];
    }
    for (let c = 0; c < k; c++) out[c] /= sum;
    return out;
  };
  return {
    numClasses: k,
    dim: d,
    l2,
    weights,
    bias,
    mean,
    scale,
    iterations,
    converged,
    objective: f,
    gradientNorm: maxAbs(grad),
    predictProba,
    predict: (row) => {
      const p = predictProba(row);
      let best = 0;
      for (let c = 1; c < k; c++) if (p[c] > p[best]) best = c;
      return best;
    },
  };
}

export function accuracy(model: LogisticRegressionModel, x: readonly Features[], y: readonly number[]): number {
  if (x.length === 0) return 0;
  let correct = 0;
  for (let i = 0; i < x.length; i++) if (model.predict(x[i]) === y[i]) correct++;
  return correct / x.length;
}

export interface L2Choice {
  readonly l2: number;
  readonly accuracy: number;
  readonly model: LogisticRegressionModel;
  /** Validation accuracy for every grid value, in grid order. */
  readonly results: readonly { readonly l2: number; readonly accuracy: number }[];
}

/** Trains one model per grid value and returns the best by validation accuracy (ties: the stronger L2). */
export function chooseL2(
  trainX: readonly Features[],
  trainY: readonly number[],
  valX: readonly Features[],
  valY: readonly number[],
  grid: readonly number[] = [1e-4, 1e-3, 1e-2, 1e-1, 1],
  options: Omit<LogisticRegressionOptions, "l2"> = {},
): L2Choice {
  if (grid.length === 0) throw new RangeError("empty L2 grid");
  const numClasses = options.numClasses ?? Math.max(...trainY, ...valY) + 1;
  let best: L2Choice | undefined;
  const results: { l2: number; accuracy: number }[] = [];
  for (const l2 of grid) {
    const model = trainLogisticRegression(trainX, trainY, { ...options, l2, numClasses });
    const acc = accuracy(model, valX, valY);
    results.push({ l2, accuracy: acc });
    if (!best || acc > best.accuracy || (acc === best.accuracy && l2 > best.l2)) best = { l2, accuracy: acc, model, results };
  }
  return { ...best!, results };
}
