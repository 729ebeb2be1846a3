import type { Device } from "../../config.js";
import type { WorkerFaults } from "../faults.js";

/** Messages between the worker pool (main thread) and an inference worker. */
export interface WorkerInit {
  readonly modelPath: string;
  readonly device: Device;
  readonly intraOpThreads: number;
  readonly spinning: boolean;
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
}

export interface WorkerFailed {
  readonly type: "failed";
  readonly message: string;
}

/** One padded batch: the rows' token ids back to back, their lengths and pooling modes. */
export interface BatchJob {
  readonly type: "run";
  readonly id: number;
  readonly ids: Int32Array;
  readonly lengths: Int32Array;
  readonly modes: Uint8Array;
  /** TOKEN_STATES rows: the token positions to return, row after row (`positionCounts[b]` for row b, 0 for other rows). */
  readonly positions: Int32Array;
  readonly positionCounts: Int32Array;
}

export interface BatchDone {
  readonly type: "done";
  readonly id: number;
  /** rows × hidden pooled vectors. */
  readonly pooled: Float32Array;
  readonly hiddenSize: number;
  /** rows × labels, when a row asked for the model's logits. */
  readonly logits?: Float32Array;
  readonly labelCount: number;
  /** positions × (layers · hidden) token states, for the job's `positions`. */
  readonly states?: Float32Array;
  readonly inferenceMs: number;
  readonly poolingMs: number;
}

export interface BatchFailed {
  readonly type: "error";
  readonly id: number;
  readonly message: string;
}

export type FromWorker = WorkerReady | WorkerFailed | BatchDone | BatchFailed;
