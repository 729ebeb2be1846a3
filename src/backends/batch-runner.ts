/** What the batcher hands a backend: one batch, the rows' token ids back to back. */
export interface Batch {
  readonly ids: Int32Array;
  readonly lengths: Int32Array;
  /** Token type (segment) ids laid out like `ids`, when a row is a pair; absent = every token type 0. */
  readonly typeIds?: Int32Array;
  /** Per row, its readout code (core/pooling.ts): a pooling, LOGITS or TOKEN_STATES. */
  readonly modes: Uint8Array;
  /** TOKEN_STATES rows: the token positions to return, row after row (`positionCounts[b]` for row b, 0 for other rows). */
  readonly positions: Int32Array;
  readonly positionCounts: Int32Array;
}

/** Every row's readout of a batch. */
export interface BatchReadouts {
  /** rows × hidden pooled vectors (empty for a classifier-only export, hiddenSize 0). */
  readonly pooled: Float32Array;
  readonly hiddenSize: number;
  /** rows × labels, when a row asked for the model's logits. */
  readonly logits?: Float32Array;
  readonly labelCount: number;
  /** positions × (layers · hidden) token states, for the batch's `positions`. */
  readonly states?: Float32Array;
  readonly inferenceMs: number;
  readonly poolingMs: number;
  /** The padded tokens the backend ran, when it did not pad every row to the batch's longest. */
  readonly paddedTokens?: number;
}

/** What a batch gives back: every row's readout, or (after a worker died on it) some rows' errors. */
export interface BatchOutput extends BatchReadouts {
  /** Per row: the error that row failed with, when the batch was split after a worker died. */
  readonly rowErrors?: readonly (Error | undefined)[];
}

/** Runs batches for the batcher (the ONNX worker pool; a fake in tests). */
export interface BatchRunner {
  /** How many batches it can start now; the batcher runs one only while this is above 0. */
  readonly idle: number;
  /** Called whenever it can start another batch. */
  onIdle(listener: () => void): void;
  run(batch: Batch): Promise<BatchOutput>;
}
