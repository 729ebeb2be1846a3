/** Pooling turns a sequence's token states into one vector. Codes travel to workers as bytes. */
export const PoolingMode = { cls: 1, mean: 2, max: 3, pooler: 4 } as const;
export type PoolingMode = (typeof PoolingMode)[keyof typeof PoolingMode];
export type PoolingName = keyof typeof PoolingMode;

/** Not a pooling: the row of the model's own `logits` output, for models that end in a classifier. */
export const LOGITS = 5;
/** Not a pooling: the token states at chosen positions (each word's first piece), for TOKEN heads. */
export const TOKEN_STATES = 6;
/** What a worker returns for one input: a pooled vector, the classifier's logits, or token states. */
export type Readout = PoolingMode | typeof LOGITS | typeof TOKEN_STATES;

export function poolingName(mode: PoolingMode): PoolingName {
  return (Object.keys(PoolingMode) as PoolingName[]).find((name) => PoolingMode[name] === mode)!;
}

/**
 * Pools every row of a padded batch into `out` (batch × hidden).
 * `hidden` is batch × sequence × hidden; `lengths[b]` counts the real tokens of row b, padding after them.
 */
export function poolBatch(
  hidden: Float32Array,
  pooler: Float32Array | undefined,
  lengths: Int32Array,
  modes: Uint8Array,
  sequence: number,
  width: number,
  out: Float32Array,
): void {
  for (let b = 0; b < lengths.length; b++) {
    const rowStart = b * sequence * width;
    const target = b * width;
    const length = lengths[b];
    switch (modes[b]) {
      case PoolingMode.cls:
        out.set(hidden.subarray(rowStart, rowStart + width), target);
        break;
      case PoolingMode.pooler:
        if (!pooler) throw new Error("the model has no pooler_output");
        out.set(pooler.subarray(b * width, b * width + width), target);
        break;
      case PoolingMode.mean: {
        out.fill(0, target, target + width);
        for (let t = 0; t < length; t++) {
          const token = rowStart + t * width;
          for (let h = 0; h < width; h++) out[target + h] += hidden[token + h];
        }
        const scale = 1 / Math.max(length, 1);
        for (let h = 0; h < width; h++) out[target + h] *= scale;
        break;
      }
      case PoolingMode.max: {
        out.set(hidden.subarray(rowStart, rowStart + width), target);
        for (let t = 1; t < length; t++) {
          const token = rowStart + t * width;
          for (let h = 0; h < width; h++) {
            const value = hidden[token + h];
            if (value > out[target + h]) out[target + h] = value;
          }
        }
        break;
      }
      case LOGITS:
      case TOKEN_STATES:
        break;
      default:
        throw new Error(`unknown pooling mode ${modes[b]}`);
    }
  }
}

/** Keeps the first `dimensions` values (0 = all) and optionally L2-normalizes, into a new array. */
export function finishVector(pooled: Float32Array, dimensions: number, normalize: boolean): Float32Array {
  const width = dimensions > 0 && dimensions < pooled.length ? dimensions : pooled.length;
  const vector = pooled.slice(0, width);
  if (normalize) {
    let sum = 0;
    for (let i = 0; i < width; i++) sum += vector[i] * vector[i];
    const norm = Math.sqrt(sum);
    if (norm > 0) for (let i = 0; i < width; i++) vector[i] /= norm;
  }
  return vector;
}

/**
 * Copies the token states at `positions` out of a padded batch into `out` (positions × layers·hidden,
 * in order; each row the layers' states side by side): row b owns the next `counts[b]` positions.
 * Only these rows leave the worker.
 */
export function gatherStates(layers: readonly Float32Array[], positions: Int32Array, counts: Int32Array, sequence: number, width: number, out: Float32Array): void {
  const stride = width * layers.length;
  let k = 0;
  for (let b = 0; b < counts.length; b++) {
    for (let i = 0; i < counts[b]; i++, k++) {
      const from = (b * sequence + positions[k]) * width;
      layers.forEach((hidden, l) => out.set(hidden.subarray(from, from + width), k * stride + l * width));
    }
  }
}
