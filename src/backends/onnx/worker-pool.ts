import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { ServiceError } from "../../core/errors.js";
import type { Batch, BatchOutput, BatchRunner } from "../batch-runner.js";
import type { BatchJob, FromWorker, WorkerInit, WorkerReady } from "./protocol.js";

/** A batch and its callers; `attempts` counts the workers it was given to. */
interface Task {
  readonly job: BatchJob;
  attempts: number;
  resolve(done: BatchOutput): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  task?: Task;
}

/** A batch whose worker died is run once more, row by row, on other workers; a row that kills a worker again fails. */
const MAX_ATTEMPTS = 2;
const RESPAWN_DELAY_MS = 1000;

const fromTypeScript = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./worker${fromTypeScript ? ".ts" : ".js"}`, import.meta.url);
const bootstrapUrl = new URL("./typescript-worker-bootstrap.mjs", import.meta.url);

/**
 * Inference worker threads, one ONNX Runtime session each. A worker that dies (crash, exit) is
 * replaced, and the batch it held is retried once on the next free worker; if that worker dies too,
 * the batch's calls fail with UNAVAILABLE naming the cause. No call waits on a dead worker.
 */
export class WorkerPool implements BatchRunner {
  private readonly slots: Slot[] = [];
  /** Batches whose worker died, waiting for a free worker ahead of new batches. */
  private readonly retries: Task[] = [];
  private closed = false;
  private nextId = 1;
  private idleListener: () => void = () => {};

  private constructor(
    private readonly init: WorkerInit,
    private readonly log: Logger,
    readonly info: WorkerReady,
  ) {}

  static async start(count: number, init: WorkerInit, log: Logger): Promise<WorkerPool> {
    const first = await spawn(init);
    const pool = new WorkerPool(init, log, first.ready);
    pool.adopt(first.worker);
    const rest = await Promise.all(Array.from({ length: count - 1 }, () => spawn(init)));
    for (const { worker } of rest) pool.adopt(worker);
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Free workers not already promised to a retried batch. */
  get idle(): number {
    let idle = 0;
    for (const slot of this.slots) if (!slot.task) idle++;
    return Math.max(0, idle - this.retries.length);
  }

  /** Called whenever a worker becomes free. */
  onIdle(listener: () => void): void {
    this.idleListener = listener;
  }

  /** Runs a batch on an idle worker; callers check `idle` first. */
  run(batch: Batch): Promise<BatchOutput> {
    if (this.closed) return Promise.reject(new ServiceError("unavailable", "the server is shutting down"));
    const slot = this.slots.find((s) => !s.task);
    if (!slot || this.idle === 0) return Promise.reject(new ServiceError("internal", "no idle inference worker"));
    const job: BatchJob = { type: "run", id: this.nextId++, ...batch };
    return new Promise<BatchOutput>((resolve, reject) => this.assign(slot, { job, attempts: 0, resolve, reject }));
  }

  /** Lets batches already running finish (up to `graceMs`): terminating a worker inside session.run aborts the process. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    const deadline = performance.now() + graceMs;
    while (this.slots.some((slot) => slot.task) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const task of this.retries.splice(0)) task.reject(new ServiceError("unavailable", "the server is shutting down"));
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private assign(slot: Slot, task: Task): void {
    slot.task = task;
    task.attempts++;
    // Copied, not transferred: the batch must outlive a worker that dies holding it.
    slot.worker.postMessage(task.job);
  }

  /** A worker is free: a waiting retry goes first, else the batcher is told. */
  private freed(slot: Slot): void {
    slot.task = undefined;
    if (this.closed) return;
    const retry = this.retries.shift();
    if (retry) this.assign(slot, retry);
    else this.idleListener();
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker };
    this.slots.push(slot);
    worker.on("message", (message: FromWorker) => {
      if (message.type !== "done" && message.type !== "error") return;
      const task = slot.task;
      this.freed(slot);
      if (message.type === "done") task?.resolve(message);
      else task?.reject(new ServiceError("internal", `inference failed: ${message.message}`));
    });
    worker.on("error", (error) => this.replace(slot, error));
    worker.on("exit", (code) => this.replace(slot, new Error(`worker exited with code ${code}`)));
  }

  private replace(slot: Slot, cause: Error): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    this.slots.splice(index, 1);
    const task = slot.task;
    if (this.closed) {
      task?.reject(new ServiceError("unavailable", "the server is shutting down"));
      return;
    }
    this.log.error({ err: cause, batch: task?.job.id, attempts: task?.attempts }, "inference worker died; starting a new one");
    if (task && task.attempts < MAX_ATTEMPTS) {
      // Row by row, so that one poisonous input fails only the calls that sent it.
      this.retries.push(...(task.job.lengths.length > 1 ? this.splitRows(task) : [task]));
      for (const free of this.slots.filter((s) => !s.task)) this.freed(free);
    } else if (task) {
      task.reject(new ServiceError("unavailable", `inference worker died running this batch ${task.attempts} times (last: ${cause.message}): not retried again`));
    }
    this.respawn();
  }

  /** One task per row of a task's batch; the task settles once every row has. */
  private splitRows(task: Task): Task[] {
    const { ids, lengths, modes, positions, positionCounts, typeIds } = task.job;
    const rows = lengths.length;
    const outcomes: (BatchOutput | Error)[] = new Array<BatchOutput | Error>(rows);
    let left = rows;
    const settle = (row: number, outcome: BatchOutput | Error): void => {
      outcomes[row] = outcome;
      if (--left === 0) {
        const merged = mergeRows(outcomes, positionCounts);
        if (merged instanceof Error) task.reject(merged);
        else task.resolve(merged);
      }
    };
    let offset = 0;
    let positionOffset = 0;
    return Array.from(lengths, (length, row) => {
      const count = positionCounts[row];
      const job: BatchJob = {
        type: "run",
        id: this.nextId++,
        ids: ids.slice(offset, offset + length),
        typeIds: typeIds?.slice(offset, offset + length),
        lengths: Int32Array.of(length),
        modes: Uint8Array.of(modes[row]),
        positions: positions.slice(positionOffset, positionOffset + count),
        positionCounts: Int32Array.of(count),
      };
      offset += length;
      positionOffset += count;
      return { job, attempts: task.attempts, resolve: (done: BatchOutput) => settle(row, done), reject: (error: Error) => settle(row, error) };
    });
  }

  private respawn(): void {
    spawn(this.init).then(
      ({ worker }) => {
        if (this.closed) void worker.terminate();
        else {
          this.adopt(worker);
          this.freed(this.slots[this.slots.length - 1]);
        }
      },
      (error: unknown) => {
        this.log.fatal({ err: error }, "could not start a replacement inference worker; trying again");
        if (this.slots.length === 0) {
          for (const task of this.retries.splice(0)) task.reject(new ServiceError("unavailable", `no inference worker is running: ${(error as Error).message}`));
        }
        if (!this.closed) setTimeout(() => this.respawn(), RESPAWN_DELAY_MS).unref();
      },
    );
  }
}

/** Row results back into one batch result (a failed row's token states as zeros); an error when no row succeeded. */
function mergeRows(outcomes: readonly (BatchOutput | Error)[], positionCounts: Int32Array): BatchOutput | Error {
  const done = outcomes.filter((o): o is BatchOutput => !(o instanceof Error));
  if (done.length === 0) return outcomes[0];
  const { hiddenSize } = done[0];
  const labelCount = Math.max(...done.map((d) => d.labelCount));
  const pooled = new Float32Array(outcomes.length * hiddenSize);
  const logits = labelCount > 0 ? new Float32Array(outcomes.length * labelCount) : undefined;
  const withStates = done.find((d) => d.states && d.states.length > 0);
  const stateWidth = withStates?.states ? withStates.states.length / (positionCounts[outcomes.indexOf(withStates)] || 1) : 0;
  const states = withStates ? new Float32Array(positionCounts.reduce((sum, n) => sum + n, 0) * stateWidth) : undefined;
  let stateOffset = 0;
  outcomes.forEach((outcome, row) => {
    if (!(outcome instanceof Error)) {
      pooled.set(outcome.pooled, row * hiddenSize);
      if (logits && outcome.logits) logits.set(outcome.logits, row * labelCount);
      if (states && outcome.states) states.set(outcome.states, stateOffset);
    }
    stateOffset += positionCounts[row] * stateWidth;
  });
  return {
    pooled,
    hiddenSize,
    logits,
    labelCount,
    states,
    inferenceMs: done.reduce((sum, d) => sum + d.inferenceMs, 0),
    poolingMs: done.reduce((sum, d) => sum + d.poolingMs, 0),
    paddedTokens: done.reduce((sum, d) => sum + (d.paddedTokens ?? 0), 0),
    rowErrors: outcomes.map((o) => (o instanceof Error ? o : undefined)),
  };
}

function spawn(init: WorkerInit): Promise<{ worker: Worker; ready: WorkerReady }> {
  const worker = fromTypeScript
    ? new Worker(bootstrapUrl, { workerData: { ...init, entry: workerUrl.href } })
    : new Worker(workerUrl, { workerData: init });
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromWorker): void => {
      worker.off("error", onError);
      worker.off("message", onMessage);
      if (message.type === "ready") resolve({ worker, ready: message });
      else {
        void worker.terminate();
        reject(new Error(message.type === "failed" ? message.message : `unexpected ${message.type} from a starting worker`));
      }
    };
    const onError = (error: Error): void => reject(error);
    worker.on("message", onMessage);
    worker.once("error", onError);
  });
}
