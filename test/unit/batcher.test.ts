import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import type { Batch, BatchOutput, BatchRunner } from "../../src/backends/batch-runner.js";
import { Batcher, type BatchReport, type BatcherLimits, type SequenceInput } from "../../src/core/batcher.js";
import { Cancellation } from "../../src/core/cancellation.js";
import { ServiceError } from "../../src/core/errors.js";
import { PoolingMode, TOKEN_STATES } from "../../src/core/pooling.js";

const LIMITS: BatcherLimits = {
  maxBatchTokens: 64,
  maxBackgroundBatchTokens: 64,
  maxBatchSize: 8,
  maxBatchDelayMs: 0,
  maxPaddingRatio: 2,
  maxQueueTokens: 10_000,
  maxQueueRequests: 100,
};

interface Running {
  readonly batch: Batch;
  resolve(output: BatchOutput): void;
  reject(error: Error): void;
}

/**
 * A runner with `slots` batches at a time that answers only when told (or at once with `auto`): each
 * row's "pooled vector" is [its first id, its length], each token state the position it was asked for.
 */
class FakeRunner implements BatchRunner {
  /** Every batch it was given, in order. */
  readonly batches: Batch[] = [];
  private readonly running: Running[] = [];
  private listener: () => void = () => {};

  constructor(
    private readonly slots = 1,
    private readonly auto = false,
  ) {}

  get idle(): number {
    return this.slots - this.running.length;
  }

  onIdle(listener: () => void): void {
    this.listener = listener;
  }

  run(batch: Batch): Promise<BatchOutput> {
    this.batches.push(batch);
    return new Promise((resolve, reject) => {
      this.running.push({ batch, resolve, reject });
      if (this.auto) setImmediate(() => this.finish());
    });
  }

  get runningCount(): number {
    return this.running.length;
  }

  /** Answers the oldest running batch, `rowErrors` failing some of its rows; `paddedTokens`: what it says it ran. */
  finish(rowErrors?: (Error | undefined)[], paddedTokens?: number): void {
    const running = this.take();
    running.resolve({ ...readouts(running.batch), rowErrors, paddedTokens });
  }

  /** Fails the oldest running batch as a whole. */
  fail(error: Error): void {
    this.take().reject(error);
  }

  private take(): Running {
    const running = this.running.shift();
    assert.ok(running, "a batch is running");
    this.listener();
    return running;
  }
}

function readouts(batch: Batch): BatchOutput {
  const rows = batch.lengths.length;
  const pooled = new Float32Array(rows * 2);
  let offset = 0;
  for (let b = 0; b < rows; b++) {
    pooled[2 * b] = batch.ids[offset];
    pooled[2 * b + 1] = batch.lengths[b];
    offset += batch.lengths[b];
  }
  return { pooled, hiddenSize: 2, labelCount: 0, states: Float32Array.from(batch.positions), inferenceMs: 1, poolingMs: 0 };
}

/** An input of `length` tokens whose first id is `first`. */
function input(first: number, length: number): SequenceInput {
  const ids = new Int32Array(length).fill(1);
  ids[0] = first;
  return { ids, mode: PoolingMode.mean };
}

function rowsOf(batch: Batch): { first: number; length: number }[] {
  let offset = 0;
  return Array.from(batch.lengths, (length) => {
    const row = { first: batch.ids[offset], length };
    offset += length;
    return row;
  });
}

const paddedTokens = (batch: Batch): number => batch.lengths.length * Math.max(...batch.lengths);

const rejectsWithKind = (promise: Promise<unknown>, kind: ServiceError["kind"]): Promise<void> =>
  assert.rejects(promise, (error: unknown) => error instanceof ServiceError && error.kind === kind);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("Batcher with a fake runner", () => {
  it("answers every input in its request's order, though the inputs ran in different batches", async () => {
    const runner = new FakeRunner(1, true);
    const batcher = new Batcher(runner, { ...LIMITS, maxBatchSize: 2 });
    const results = await batcher.submit([input(10, 3), input(11, 9), input(12, 3), input(13, 9), input(14, 5)]);
    assert.ok(runner.batches.length >= 3, `${runner.batches.length} batches`);
    assert.deepEqual(
      results.map((r) => Array.from(r)),
      [[10, 3], [11, 9], [12, 3], [13, 9], [14, 5]],
    );
    assert.deepEqual(batcher.depth, { requests: 0, tokens: 0 });
  });

  it("keeps every batch within the token budget, grouping inputs of similar length", async () => {
    const runner = new FakeRunner(1, true);
    const batcher = new Batcher(runner, LIMITS);
    const lengths = [4, 30, 4, 30, 4, 30, 20, 20, 20, 20];
    // The blocker runs alone; the rest queue behind it.
    const blocker = batcher.submit([input(99, 2)]);
    await Promise.all([blocker, ...lengths.map((length, i) => batcher.submit([input(100 + i, length)]))]);
    for (const batch of runner.batches) assert.ok(paddedTokens(batch) <= LIMITS.maxBatchTokens, `${paddedTokens(batch)} padded tokens`);
    const ran = runner.batches.slice(1).flatMap(rowsOf).map((row) => row.first).sort();
    assert.deepEqual(ran, lengths.map((_, i) => 100 + i), "every input ran once");
    // The next batch forms around the oldest input (4 tokens) from the other short ones: a 20-token row would pad them past the budget.
    assert.deepEqual(rowsOf(runner.batches[1]).map((row) => row.length), [4, 4, 4]);
  });

  it("reports the padded tokens the runner ran when it says (a CPU worker runs rows of similar length apart), else rows × longest", async () => {
    const runner = new FakeRunner(1);
    const reports: BatchReport[] = [];
    const batcher = new Batcher(runner, LIMITS, { batch: (report) => reports.push(report) });
    const first = batcher.submit([input(1, 2), input(2, 6)]);
    runner.finish(undefined, 9);
    await first;
    const second = batcher.submit([input(3, 2), input(4, 6)]);
    runner.finish();
    await second;
    assert.deepEqual(reports.map((r) => [r.tokens, r.paddedTokens]), [[8, 9], [8, 12]]);
  });

  it("caps background batches at maxBackgroundBatchTokens, interactive ones at maxBatchTokens", async () => {
    const runner = new FakeRunner(1, true);
    const reports: BatchReport[] = [];
    const batcher = new Batcher(runner, { ...LIMITS, maxBackgroundBatchTokens: 16 }, { batch: (report) => reports.push(report) });
    const inputs = Array.from({ length: 8 }, (_, i) => input(i, 8));
    await batcher.submit(inputs, { priority: "background" });
    await batcher.submit(inputs, { priority: "interactive" });
    const background = reports.filter((r) => r.priority === "background");
    const interactive = reports.filter((r) => r.priority === "interactive");
    assert.ok(background.every((r) => r.paddedTokens <= 16), JSON.stringify(background));
    assert.equal(background.length, 4);
    assert.ok(interactive.every((r) => r.paddedTokens <= LIMITS.maxBatchTokens), JSON.stringify(interactive));
    assert.equal(interactive.length, 1);
  });

  it("runs interactive work ahead of background work queued earlier, and background at least every fourth batch", async () => {
    const runner = new FakeRunner(1);
    const reports: BatchReport[] = [];
    const batcher = new Batcher(runner, { ...LIMITS, maxBatchSize: 1 }, { batch: (report) => reports.push(report) });
    const calls = [batcher.submit([input(1, 4)])];
    assert.equal(runner.runningCount, 1, "the first call runs at once");
    calls.push(batcher.submit([input(2, 4)], { priority: "background" }), batcher.submit([input(3, 4)], { priority: "background" }));
    for (let i = 0; i < 6; i++) calls.push(batcher.submit([input(10 + i, 4)]));
    while (runner.runningCount > 0) {
      runner.finish();
      await Promise.resolve();
    }
    await Promise.all(calls);
    assert.deepEqual(
      runner.batches.map((batch) => batch.ids[0]),
      [1, 10, 11, 12, 2, 13, 14, 15, 3],
    );
    assert.deepEqual(
      reports.map((r) => r.priority[0]).join(""),
      "iiiibiiib",
    );
  });

  it("drops a call whose deadline passes while it waits, before it reaches the runner", async () => {
    const runner = new FakeRunner(1);
    const rejected: string[] = [];
    const batcher = new Batcher(runner, LIMITS, { rejected: (reason) => rejected.push(reason) });
    const blocker = batcher.submit([input(1, 4)]);
    const late = batcher.submit([input(2, 4)], { deadline: Date.now() + 20 });
    const onTime = batcher.submit([input(3, 4)], { deadline: Date.now() + 60_000 });
    await sleep(40);
    runner.finish();
    await rejectsWithKind(late, "deadline_exceeded");
    runner.finish();
    await Promise.all([blocker, onTime]);
    assert.deepEqual(rejected, ["deadline"]);
    assert.ok(!runner.batches.some((batch) => rowsOf(batch).some((row) => row.first === 2)), "the late call never ran");
    assert.deepEqual(batcher.depth, { requests: 0, tokens: 0 });
  });

  // A unary call's signal is a Cancellation, a stream's an AbortSignal: the batcher treats both alike.
  const signals = {
    AbortSignal: () => {
      const controller = new AbortController();
      return { signal: controller.signal, cancel: () => controller.abort(), listeners: () => getEventListeners(controller.signal, "abort").length };
    },
    Cancellation: () => {
      const cancellation = new Cancellation();
      return { signal: cancellation, cancel: () => cancellation.cancel(), listeners: () => cancellation.listenerCount };
    },
  };
  for (const [kind, make] of Object.entries(signals)) {
    it(`drops a cancelled call from the queue at once, and refuses one whose signal already aborted (${kind})`, async () => {
      const runner = new FakeRunner(1);
      const rejected: string[] = [];
      const batcher = new Batcher(runner, LIMITS, { rejected: (reason) => rejected.push(reason) });
      const blocker = batcher.submit([input(1, 4)]);
      const { signal, cancel } = make();
      const cancelled = batcher.submit([input(2, 4), input(3, 4)], { signal });
      assert.deepEqual(batcher.depth, { requests: 1, tokens: 8 });
      cancel();
      await rejectsWithKind(cancelled, "cancelled");
      assert.deepEqual(batcher.depth, { requests: 0, tokens: 0 });
      await rejectsWithKind(batcher.submit([input(4, 4)], { signal }), "cancelled");
      runner.finish();
      await blocker;
      assert.deepEqual(runner.batches.map((batch) => batch.ids[0]), [1], "only the blocker ran");
      assert.deepEqual(rejected, ["cancelled"]);
    });

    it(`leaves no listener on the signal of an answered call (${kind})`, async () => {
      const batcher = new Batcher(new FakeRunner(1, true), LIMITS);
      const { signal, listeners } = make();
      const answer = batcher.submit([input(5, 4)], { signal });
      assert.equal(listeners(), 1, "the queued call listens for cancellation");
      assert.equal((await answer).length, 1);
      assert.equal(listeners(), 0, "the answered call's listener is still on the signal");
    });
  }

  it("refuses a call that would overfill the queue with RESOURCE_EXHAUSTED", async () => {
    const runner = new FakeRunner(1);
    const rejected: string[] = [];
    const batcher = new Batcher(runner, { ...LIMITS, maxQueueRequests: 1 }, { rejected: (reason) => rejected.push(reason) });
    const running = batcher.submit([input(1, 4)]);
    const queued = batcher.submit([input(2, 4)]);
    await rejectsWithKind(batcher.submit([input(3, 4)]), "resource_exhausted");
    assert.deepEqual(rejected, ["queue_full"]);
    runner.finish();
    runner.finish();
    await Promise.all([running, queued]);
  });

  it("fails the calls of a batch the runner failed, and only the row a row error names", async () => {
    const runner = new FakeRunner(1);
    const batcher = new Batcher(runner, LIMITS);
    const blocker = batcher.submit([input(1, 4)]);
    const first = batcher.submit([input(2, 4)]);
    const second = batcher.submit([input(3, 4)]);
    runner.fail(new ServiceError("unavailable", "the worker died"));
    await rejectsWithKind(blocker, "unavailable");
    assert.equal(rowsOf(runner.batches[1]).length, 2, "both waiting calls share the next batch");
    runner.finish([undefined, new ServiceError("internal", "row 1 failed")]);
    assert.deepEqual(Array.from((await first)[0]), [2, 4]);
    await rejectsWithKind(second, "internal");
  });

  it("hands TOKEN_STATES positions to the runner and gives each input its own states", async () => {
    const runner = new FakeRunner(1, true);
    const batcher = new Batcher(runner, LIMITS);
    const [a, pooled, b] = await batcher.submit([
      { ids: new Int32Array(6), mode: TOKEN_STATES, positions: Int32Array.of(1, 3, 4) },
      input(7, 5),
      { ids: new Int32Array(6), mode: TOKEN_STATES, positions: Int32Array.of(2) },
    ]);
    assert.deepEqual(Array.from(runner.batches[0].positionCounts).sort(), [0, 1, 3]);
    assert.deepEqual(Array.from(a), [1, 3, 4]);
    assert.deepEqual(Array.from(pooled), [7, 5]);
    assert.deepEqual(Array.from(b), [2]);
  });

  describe("waiting for more inputs (maxBatchDelayMs)", () => {
    /** A one-slot runner and a batcher that waits up to `maxBatchDelayMs`. */
    function waiting(maxBatchDelayMs: number): { runner: FakeRunner; batcher: Batcher } {
      const runner = new FakeRunner(1);
      return { runner, batcher: new Batcher(runner, { ...LIMITS, maxBatchDelayMs }) };
    }

    /** One call runs while four queue; then the four run as one batch and are answered. */
    async function burst(batcher: Batcher, runner: FakeRunner, priority: "interactive" | "background" = "interactive"): Promise<void> {
      const first = batcher.submit([input(1, 4)], { priority });
      const queued = [2, 3, 4, 5].map((id) => batcher.submit([input(id, 4)], { priority }));
      runner.finish();
      await first;
      assert.equal(runner.batches.at(-1)!.lengths.length, 4, "the queued four run together");
      runner.finish();
      await Promise.all(queued);
    }

    it("never holds back a lone call on an idle server", async () => {
      const { runner, batcher } = waiting(1000);
      const lone = batcher.submit([input(1, 4)]);
      assert.equal(runner.batches.length, 1, "dispatched at once");
      runner.finish();
      await lone;
    });

    it("after a burst, runs one caller's calls at once though the burst's load has not decayed", async () => {
      const { runner, batcher } = waiting(30);
      await burst(batcher, runner);
      await sleep(60);
      for (let i = 0; i < 3; i++) {
        const before = runner.batches.length;
        const call = batcher.submit([input(10 + i, 4)]);
        assert.equal(runner.batches.length, before + 1, `call ${i} dispatched at once`);
        runner.finish();
        await call;
      }
    });

    it("waits for the clients whose answers just went out, and batches them together", async () => {
      const { runner, batcher } = waiting(1000);
      await burst(batcher, runner);
      const before = runner.batches.length;
      const again = [12, 13, 14].map((id) => batcher.submit([input(id, 4)]));
      assert.equal(runner.batches.length, before, "the first three back wait for the others");
      again.push(batcher.submit([input(15, 4)]));
      assert.equal(runner.batches.length, before + 1, "the fourth back fills the batch to near the burst's size");
      assert.deepEqual(rowsOf(runner.batches.at(-1)!).map((row) => row.first), [12, 13, 14, 15]);
      runner.finish();
      await Promise.all(again);
    });

    it("does not hold an interactive call back for the clients of background work", async () => {
      const { runner, batcher } = waiting(1000);
      await burst(batcher, runner, "background");
      const call = batcher.submit([input(30, 4)]);
      assert.equal(runner.batches.length, 3, "dispatched at once");
      runner.finish();
      await call;
    });

    it("waits no longer than maxBatchDelayMs for clients that do not come back", async () => {
      const { runner, batcher } = waiting(40);
      await burst(batcher, runner);
      const started = performance.now();
      const call = batcher.submit([input(20, 4)]);
      assert.equal(runner.batches.length, 2, "held back while the burst's clients may come back");
      while (runner.batches.length === 2) await sleep(2);
      const waited = performance.now() - started;
      assert.ok(waited >= 35 && waited < 400, `waited ${waited.toFixed(1)} ms`);
      runner.finish();
      await call;
    });
  });

  it("refuses new calls once closed", async () => {
    const batcher = new Batcher(new FakeRunner(1, true), LIMITS);
    batcher.close();
    await rejectsWithKind(batcher.submit([input(1, 4)]), "unavailable");
  });
});
