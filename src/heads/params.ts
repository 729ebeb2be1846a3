/**
 * A parameter tensor (row-major rows × cols, float64) with its gradient accumulator and optimizer state.
 * `labelRows`: one row per output label, so the tensor grows by a row when a label is added, and AdamW's
 * bias correction counts that row's steps from its birth.
 */
export class ParamTensor {
  readonly name: string;
  rows: number;
  readonly cols: number;
  /** Weight decay applies (weights yes, biases never). */
  readonly decay: boolean;
  readonly labelRows: boolean;
  value: Float64Array;
  grad: Float64Array;
  /** AdamW first moment, or SGD velocity. */
  moment1: Float64Array;
  /** AdamW second moment (unused by SGD, kept zero). */
  moment2: Float64Array;

  constructor(name: string, rows: number, cols: number, opts: { decay: boolean; labelRows: boolean }) {
    this.name = name;
    this.rows = rows;
    this.cols = cols;
    this.decay = opts.decay;
    this.labelRows = opts.labelRows;
    const n = rows * cols;
    this.value = new Float64Array(n);
    this.grad = new Float64Array(n);
    this.moment1 = new Float64Array(n);
    this.moment2 = new Float64Array(n);
  }

  get size(): number {
    return this.rows * this.cols;
  }

  /** Appends zero rows to the values, gradients and optimizer moments alike. */
  addRows(count: number): void {
    const n = (this.rows + count) * this.cols;
    this.value = grow(this.value, n);
    this.grad = grow(this.grad, n);
    this.moment1 = grow(this.moment1, n);
    this.moment2 = grow(this.moment2, n);
    this.rows += count;
  }
}

function grow(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}
