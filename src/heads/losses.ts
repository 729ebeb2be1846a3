/**
 * Numerically stable losses over the first k logits, writing probabilities and (weighted) gradients in place.
 * `result[0]` receives the unweighted loss, `result[1]` the weighted loss (the training objective).
 */

/**
 * Softmax + cross-entropy with one target class (log-sum-exp): loss = lse(z) − z_y.
 * probs = softmax(z); grad = weight · (probs − onehot(y)).
 */
export function softmaxCrossEntropy(
  z: Float64Array,
  k: number,
  target: number,
  weight: number,
  probs: Float64Array,
  grad: Float64Array,
  result: Float64Array,
): void {
  const lse = softmaxInto(z, k, probs);
  for (let j = 0; j < k; j++) grad[j] = weight * (j === target ? probs[j] - 1 : probs[j]);
  const loss = lse - z[target];
  result[0] = loss;
  result[1] = weight * loss;
}

/** Softmax probabilities into `probs`; returns log-sum-exp of the logits. */
export function softmaxInto(z: Float64Array, k: number, probs: Float64Array): number {
  let max = -Infinity;
  for (let j = 0; j < k; j++) if (z[j] > max) max = z[j];
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const e = Math.exp(z[j] - max);
    probs[j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = 0; j < k; j++) probs[j] *= inv;
  return max + Math.log(sum);
}

/** σ(z) without overflow. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Binary cross-entropy of logit z against y ∈ {0, 1}: max(z, 0) − z·y + log(1 + e^−|z|). */
export function bceWithLogits(z: number, y: number): number {
  return Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
}

/**
 * Per-label sigmoid + binary cross-entropy. targets[j] ∈ {0, 1}. Term j is weighted by
 * weight · (targets[j] ? posWeight[j] : negWeight[j]) (class weights; pass null for 1).
 * result[0] = mean BCE over the k labels (unweighted, the reported loss);
 * result[1] = weighted SUM over labels (the objective: each label is its own binary problem, so its gradient
 * does not shrink as labels are added); grad = d result[1] / dz.
 */
export function sigmoidBinaryCrossEntropy(
  z: Float64Array,
  k: number,
  targets: Uint8Array,
  weight: number,
  posWeight: Float64Array | null,
  negWeight: Float64Array | null,
  probs: Float64Array,
  grad: Float64Array,
  result: Float64Array,
): void {
  let loss = 0;
  let weighted = 0;
  for (let j = 0; j < k; j++) {
    const zj = z[j];
    const y = targets[j];
    const p = sigmoid(zj);
    probs[j] = p;
    const l = bceWithLogits(zj, y);
    const w = weight * (y ? (posWeight ? posWeight[j] : 1) : negWeight ? negWeight[j] : 1);
    loss += l;
    weighted += w * l;
    grad[j] = w * (p - y);
  }
  result[0] = k > 0 ? loss / k : 0;
  result[1] = weighted;
}

/** Sigmoid of each logit (prediction). */
export function sigmoidInto(z: Float64Array, k: number, probs: Float64Array): void {
  for (let j = 0; j < k; j++) probs[j] = sigmoid(z[j]);
}
