/** A label and its score (a probability). */
export interface LabelScore {
  readonly label: string;
  readonly score: number;
}

/** One input's labels, highest score first. */
export interface RankedLabels {
  readonly labels: LabelScore[];
}

/** The labels by score, highest first; the first topK of them (0 = all). */
export function rankLabels(labels: readonly string[], scores: ArrayLike<number>, topK: number): RankedLabels {
  const k = topK > 0 ? Math.min(topK, labels.length) : labels.length;
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  return { labels: order.slice(0, k).map((i) => ({ label: labels[i], score: scores[i] })) };
}

export function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

export function sigmoid(row: ArrayLike<number>): Float64Array {
  return Float64Array.from(row, (x) => 1 / (1 + Math.exp(-x)));
}
