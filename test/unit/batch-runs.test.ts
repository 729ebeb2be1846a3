import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Batch, BatchOutput } from "../../src/backends/batch-runner.js";
import { MIN_RUN_ROWS, RUN_OVERHEAD_TOKENS, planRuns } from "../../src/backends/onnx/batch-runs.js";
import { WorkerPool } from "../../src/backends/onnx/worker-pool.js";
import { LOGITS, PoolingMode, TOKEN_STATES } from "../../src/core/pooling.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { generateBertModel } from "../../tools/generator/index.js";

function runsOf(lengths: number[], split = true): number[][] {
  const plan = planRuns(Int32Array.from(lengths), split);
  const runs: number[][] = [];
  let from = 0;
  for (const end of plan.ends) {
    runs.push(Array.from(plan.order.subarray(from, end)));
    from = end;
  }
  return runs;
}

function cost(lengths: number[], runs: number[][]): number {
  return runs.reduce((sum, rows) => sum + rows.length * Math.max(...rows.map((row) => lengths[row])) + RUN_OVERHEAD_TOKENS, 0);
}

describe("planRuns", () => {
  it("keeps a batch whole when it is small, uniform, or not to be split", () => {
    const mixed = [...new Array<number>(MIN_RUN_ROWS).fill(5), ...new Array<number>(MIN_RUN_ROWS).fill(60)];
    assert.deepEqual(runsOf(mixed.slice(1)), [Array.from({ length: mixed.length - 1 }, (_, row) => row)]);
    assert.deepEqual(runsOf(mixed, false), [Array.from({ length: mixed.length }, (_, row) => row)]);
    assert.equal(runsOf(new Array<number>(40).fill(20)).length, 1);
  });

  it("splits short rows from long ones, shortest first", () => {
    const lengths = [60, 5, 60, 5, 5, 60, 5, 60, 5, 60, 5, 60, 5, 60, 5, 60];
    assert.deepEqual(runsOf(lengths), [
      [1, 3, 4, 6, 8, 10, 12, 14],
      [0, 2, 5, 7, 9, 11, 13, 15],
    ]);
  });

  it("covers every row once, in runs of at least MIN_RUN_ROWS, never costing more than one run", () => {
    let seed = 11;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 200; trial++) {
      const lengths = Array.from({ length: 1 + Math.floor(random() * 64) }, () => 2 + Math.floor(random() * (random() < 0.2 ? 300 : 40)));
      const runs = runsOf(lengths);
      assert.deepEqual(runs.flat().sort((a, b) => a - b), lengths.map((_, row) => row));
      if (runs.length > 1) {
        for (const rows of runs) assert.ok(rows.length >= MIN_RUN_ROWS, `run of ${rows.length} rows`);
        const order = runs.flat().map((row) => lengths[row]);
        assert.deepEqual(order, order.slice().sort((a, b) => a - b));
      }
      assert.ok(cost(lengths, runs) <= cost(lengths, [lengths.map((_, row) => row)]));
    }
  });
});

describe("a CPU worker running a batch of mixed lengths in runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "bertd-runs-"));
  let pool: WorkerPool;

  before(async () => {
    await generateBertModel({ outDir: dir, layers: 2, hidden: 32, heads: 2, intermediate: 64, seed: 9, labels: ["a", "b", "c"], hiddenStates: true });
    pool = await WorkerPool.start(1, { modelPath: join(dir, "model.onnx"), device: { kind: "cpu" }, intraOpThreads: 1, spinning: false, graphPooling: true }, createLogger("silent", false));
  });
  after(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers rows that read nothing (token states at no position, as a Tag of an empty text asks) without a run", async () => {
    const rows = 5;
    const done = await pool.run({
      ids: new Int32Array(rows * 2).fill(7),
      lengths: new Int32Array(rows).fill(2),
      modes: new Uint8Array(rows).fill(TOKEN_STATES),
      positions: new Int32Array(0),
      positionCounts: new Int32Array(rows),
    });
    assert.equal(done.pooled.length, rows * done.hiddenSize);
    assert.equal(done.states?.length ?? 0, 0);
  });

  it("answers every row, every readout, as the row run alone does", async () => {
    const modes = [PoolingMode.mean, PoolingMode.cls, PoolingMode.max, PoolingMode.pooler, LOGITS, TOKEN_STATES];
    const rows = Array.from({ length: 29 }, (_, row) => {
      const length = row % 3 === 0 ? 40 + row : 3 + (row % 7);
      const ids = Int32Array.from({ length }, (_, t) => 100 + ((row * 31 + t * 7) % 900));
      const typeIds = Int32Array.from({ length }, (_, t) => (t > length / 2 ? 1 : 0));
      const mode = modes[row % modes.length];
      const positions = mode === TOKEN_STATES ? Int32Array.of(0, length - 1) : new Int32Array(0);
      return { ids, typeIds, mode, positions };
    });
    const batchOf = (chosen: typeof rows): Batch => ({
      ids: Int32Array.from(chosen.flatMap((row) => Array.from(row.ids))),
      typeIds: Int32Array.from(chosen.flatMap((row) => Array.from(row.typeIds))),
      lengths: Int32Array.from(chosen, (row) => row.ids.length),
      modes: Uint8Array.from(chosen, (row) => row.mode),
      positions: Int32Array.from(chosen.flatMap((row) => Array.from(row.positions))),
      positionCounts: Int32Array.from(chosen, (row) => row.positions.length),
    });
    const whole = await pool.run(batchOf(rows));
    const longest = Math.max(...rows.map((row) => row.ids.length));
    assert.ok(whole.paddedTokens! < rows.length * longest, `ran ${whole.paddedTokens} padded tokens, one run pads ${rows.length * longest}`);
    const alone: BatchOutput[] = [];
    for (const row of rows) alone.push(await pool.run(batchOf([row])));
    const { hiddenSize, labelCount } = whole;
    assert.equal(labelCount, 3);
    const stateWidth = whole.states!.length / rows.reduce((sum, row) => sum + row.positions.length, 0);
    let position = 0;
    rows.forEach((row, b) => {
      const close = (got: Float32Array, want: Float32Array, what: string): void => {
        assert.equal(got.length, want.length, what);
        got.forEach((value, i) => assert.ok(Math.abs(value - want[i]) < 1e-4, `row ${b} ${what}[${i}]: ${value} vs ${want[i]}`));
      };
      if (row.mode === LOGITS) close(whole.logits!.subarray(b * labelCount, (b + 1) * labelCount), alone[b].logits!, "logits");
      else if (row.mode === TOKEN_STATES) close(whole.states!.subarray(position * stateWidth, (position + 2) * stateWidth), alone[b].states!, "states");
      else close(whole.pooled.subarray(b * hiddenSize, (b + 1) * hiddenSize), alone[b].pooled, "pooled");
      position += row.positions.length;
    });
  });
});
