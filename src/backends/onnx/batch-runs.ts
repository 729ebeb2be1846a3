import type { Batch, BatchReadouts } from "../batch-runner.js";

/**
 * On the CPU a batch costs about its padded tokens (rows × longest row), so a worker runs a batch
 * as a few runs of rows of similar length rather than one matrix padded to its longest row. A run
 * keeps at least MIN_RUN_ROWS rows (fewer use the matrix kernels badly) and costs RUN_OVERHEAD_TOKENS
 * more than its padded tokens (a session.run's fixed cost). With direct ONNX Runtime on server-like
 * batches of short texts this ran 8–19% less CPU per sequence than one run (docs/benchmarks/serving.md).
 */
export const MIN_RUN_ROWS = 4;
export const RUN_OVERHEAD_TOKENS = 8;

export interface RunPlan {
  /** Row indices, shortest first (rows of one length in batch order). */
  readonly order: Int32Array;
  /** Where each run ends in `order` (exclusive); the last is the row count. */
  readonly ends: Int32Array;
}

/** The cheapest runs for rows of these lengths; one run in batch order unless `split`. */
export function planRuns(lengths: Int32Array, split: boolean): RunPlan {
  const rows = lengths.length;
  const identity = Int32Array.from({ length: rows }, (_, row) => row);
  if (!split || rows < 2 * MIN_RUN_ROWS) return { order: identity, ends: Int32Array.of(rows) };
  const order = identity.sort((a, b) => lengths[a] - lengths[b] || a - b);
  // cost[j]: the cheapest runs of order[0, j); start[j]: where the last of them starts.
  const cost = new Float64Array(rows + 1).fill(Infinity);
  const start = new Int32Array(rows + 1);
  cost[0] = 0;
  for (let end = MIN_RUN_ROWS; end <= rows; end++) {
    const longest = lengths[order[end - 1]];
    for (let from = 0; from <= end - MIN_RUN_ROWS; from = from === 0 ? MIN_RUN_ROWS : from + 1) {
      const total = cost[from] + (end - from) * longest + RUN_OVERHEAD_TOKENS;
      if (total < cost[end]) {
        cost[end] = total;
        start[end] = from;
      }
    }
  }
  const ends: number[] = [];
  for (let end = rows; end > 0; end = start[end]) ends.unshift(end);
  return { order, ends: Int32Array.from(ends) };
}

/** Where each row's token ids and token-state positions start in a batch. */
function rowStarts(batch: Batch): { tokens: Int32Array; positions: Int32Array } {
  const rows = batch.lengths.length;
  const tokens = new Int32Array(rows + 1);
  const positions = new Int32Array(rows + 1);
  for (let row = 0; row < rows; row++) {
    tokens[row + 1] = tokens[row] + batch.lengths[row];
    positions[row + 1] = positions[row] + batch.positionCounts[row];
  }
  return { tokens, positions };
}

/** The batch made of `rows` of `batch`, in that order. */
function selectRows(batch: Batch, rows: Int32Array, starts: { tokens: Int32Array; positions: Int32Array }): Batch {
  let tokenCount = 0;
  let positionCount = 0;
  for (const row of rows) {
    tokenCount += batch.lengths[row];
    positionCount += batch.positionCounts[row];
  }
  const ids = new Int32Array(tokenCount);
  const typeIds = batch.typeIds ? new Int32Array(tokenCount) : undefined;
  const positions = new Int32Array(positionCount);
  let token = 0;
  let position = 0;
  rows.forEach((row) => {
    const [from, to] = [starts.tokens[row], starts.tokens[row + 1]];
    ids.set(batch.ids.subarray(from, to), token);
    typeIds?.set(batch.typeIds!.subarray(from, to), token);
    token += to - from;
    positions.set(batch.positions.subarray(starts.positions[row], starts.positions[row + 1]), position);
    position += batch.positionCounts[row];
  });
  return {
    ids,
    typeIds,
    lengths: Int32Array.from(rows, (row) => batch.lengths[row]),
    modes: Uint8Array.from(rows, (row) => batch.modes[row]),
    positions,
    positionCounts: Int32Array.from(rows, (row) => batch.positionCounts[row]),
  };
}

/** What running one padded batch gives back, and how many padded tokens it ran. */
export interface RunReadouts extends BatchReadouts {
  readonly paddedTokens: number;
}

/**
 * Runs `batch` as the plan's runs, one after another, and puts every row's readout back in the
 * batch's order. A plan of one run in batch order runs the batch as it is.
 */
export async function runPlanned(batch: Batch, plan: RunPlan, infer: (run: Batch) => Promise<RunReadouts>): Promise<RunReadouts> {
  const rows = batch.lengths.length;
  if (plan.ends.length === 1) return infer(batch);
  const starts = rowStarts(batch);
  let pooled: Float32Array | undefined;
  let logits: Float32Array | undefined;
  let states: Float32Array | undefined;
  let hiddenSize = 0;
  let labelCount = 0;
  let inferenceMs = 0;
  let poolingMs = 0;
  let paddedTokens = 0;
  let from = 0;
  for (const end of plan.ends) {
    const runRows = plan.order.subarray(from, end);
    from = end;
    const done = await infer(selectRows(batch, runRows, starts));
    hiddenSize = done.hiddenSize;
    inferenceMs += done.inferenceMs;
    poolingMs += done.poolingMs;
    paddedTokens += done.paddedTokens;
    pooled ??= new Float32Array(rows * hiddenSize);
    if (done.logits && !logits) {
      labelCount = done.labelCount;
      logits = new Float32Array(rows * labelCount);
    }
    const stateWidth = done.states && done.states.length > 0 ? done.states.length / countPositions(batch, runRows) : 0;
    if (stateWidth > 0) states ??= new Float32Array(starts.positions[rows] * stateWidth);
    let position = 0;
    runRows.forEach((row, k) => {
      pooled!.set(done.pooled.subarray(k * hiddenSize, (k + 1) * hiddenSize), row * hiddenSize);
      if (done.logits) logits!.set(done.logits.subarray(k * labelCount, (k + 1) * labelCount), row * labelCount);
      const count = batch.positionCounts[row];
      if (count > 0 && stateWidth > 0) {
        states!.set(done.states!.subarray(position * stateWidth, (position + count) * stateWidth), starts.positions[row] * stateWidth);
      }
      position += count;
    });
  }
  return { pooled: pooled!, hiddenSize, logits, labelCount, states, inferenceMs, poolingMs, paddedTokens };
}

function countPositions(batch: Batch, rows: Int32Array): number {
  let count = 0;
  for (const row of rows) count += batch.positionCounts[row];
  return count;
}
