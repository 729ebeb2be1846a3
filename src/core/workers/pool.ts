import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { ServiceError } from "../errors.js";
import type { BatchDone, BatchJob, FromWorker, WorkerInit, WorkerReady } from "./protocol.js";

interface Slot {
  worker: Worker;
  busy: boolean;
  pending?: { resolve: (done: BatchDone) => void; reject: (error: Error) => void };
}

const fromTypeScript = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./inference-worker${fromTypeScript ? ".ts" : ".js"}`, import.meta.url);
const bootstrapUrl = new URL("./typescript-worker-bootstrap.mjs", import.meta.url);

/** Inference worker threads, one ONNX Runtime session each. A worker that dies is replaced. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
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

  get idle(): number {
    let idle = 0;
    for (const slot of this.slots) if (!slot.busy) idle++;
    return idle;
  }

  /** Called whenever a worker becomes free. */
  onIdle(listener: () => void): void {
    this.idleListener = listener;
  }

  /** Runs a batch on an idle worker; callers check `idle` first. */
  run(ids: Int32Array, lengths: Int32Array, modes: Uint8Array, positions: Int32Array, positionCounts: Int32Array): Promise<BatchDone> {
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) return Promise.reject(new ServiceError("internal", "no idle inference worker"));
    slot.busy = true;
    const job: BatchJob = { type: "run", id: this.nextId++, ids, lengths, modes, positions, positionCounts };
    return new Promise<BatchDone>((resolve, reject) => {
      slot.pending = { resolve, reject };
      const transfer = [ids.buffer, lengths.buffer, modes.buffer, positions.buffer, positionCounts.buffer] as ArrayBuffer[];
      slot.worker.postMessage(job, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, busy: false };
    this.slots.push(slot);
    worker.on("message", (message: FromWorker) => {
      if (message.type !== "done" && message.type !== "error") return;
      const pending = slot.pending;
      slot.pending = undefined;
      slot.busy = false;
      if (message.type === "done") pending?.resolve(message);
      else pending?.reject(new ServiceError("internal", `inference failed: ${message.message}`));
      this.idleListener();
    });
    worker.on("error", (error) => this.replace(slot, error));
    worker.on("exit", (code) => this.replace(slot, new Error(`worker exited with code ${code}`)));
  }

  private replace(slot: Slot, cause: Error): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    this.slots.splice(index, 1);
    slot.pending?.reject(new ServiceError("unavailable", `inference worker died: ${cause.message}`));
    if (this.closed) return;
    this.log.error({ err: cause }, "inference worker died; starting a new one");
    spawn(this.init).then(
      ({ worker }) => {
        if (this.closed) void worker.terminate();
        else {
          this.adopt(worker);
          this.idleListener();
        }
      },
      (error: unknown) => this.log.fatal({ err: error }, "could not replace an inference worker"),
    );
  }
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
