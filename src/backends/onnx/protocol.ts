import type { Batch, BatchReadouts } from "../batch-runner.js";
import type { Device } from "./device.js";
import type { WorkerFaults } from "./worker-faults.js";

/** Messages between the worker pool (main thread) and an inference worker. */
export interface WorkerInit {
  readonly modelPath: string;
  readonly device: Device;
  readonly intraOpThreads: number;
  readonly spinning: boolean;
  /** Pool mean and CLS rows inside the graph when the model allows it (see pooled-outputs.ts). */
  readonly graphPooling: boolean;
  /** Test-only fault injection (BERTD_TEST_FAULTS). */
  readonly faults?: WorkerFaults;
}

export interface WorkerReady {
  readonly type: "ready";
  readonly provider: string;
  /** Set when device "auto" fell back to the CPU: why. */
  readonly fallbackReason?: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly hiddenSize: number;
  /** The outputs concatenated into a token state (see tokenStateOutputs). */
  readonly tokenStateOutputs: readonly string[];
  /** Whether mean and CLS rows are pooled inside the graph; if asked for and not, why not. */
  readonly graphPooling: boolean;
  readonly graphPoolingReason?: string;
}

export interface WorkerFailed {
  readonly type: "failed";
  readonly message: string;
}

/** One batch and the id its answer comes back with. */
export interface BatchJob extends Batch {
  readonly type: "run";
  readonly id: number;
}

export interface BatchDone extends BatchReadouts {
  readonly type: "done";
  readonly id: number;
}

export interface BatchFailed {
  readonly type: "error";
  readonly id: number;
  readonly message: string;
}

export type FromWorker = WorkerReady | WorkerFailed | BatchDone | BatchFailed;
