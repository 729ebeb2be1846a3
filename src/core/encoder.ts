import type { Logger } from "pino";
import type { Device } from "../backends/onnx/device.js";
import type { Weights } from "../backends/onnx/model-files.js";
import { ONNXRUNTIME_VERSION } from "../backends/onnx/session.js";
import { WorkerPool } from "../backends/onnx/worker-pool.js";
import type { CancelSignal } from "./cancellation.js";
import { Batcher, type BatcherLimits, type BatcherObserver, type Priority, type SequenceInput } from "./batcher.js";
import { InputTooLongError, failedPrecondition, invalidArgument } from "./errors.js";
import { type TestFaults, workerFaults } from "./faults.js";
import { hashModel, type ModelDirectory } from "./model-directory.js";
import { headIdentity, type HeadIdentity } from "./model-identity.js";
import { pairFeatures } from "./pair-features.js";
import { encodePairs, type PairTruncation, type TextPair } from "./pair-inputs.js";
import { LOGITS, PoolingMode, TOKEN_STATES, finishVector, poolingName, type Readout } from "./pooling.js";
import { loadTokenizer, truncateIds, type Tokenizer } from "./tokenizer/index.js";
import { alignWords, type AlignedWords, type WordSplit } from "./words.js";

export type TruncationSide = "right" | "left" | "none";

export interface EncoderModelOptions {
  readonly model: ModelDirectory;
  readonly device: Device;
  readonly workers: number;
  readonly intraOpThreads: number;
  readonly spinning: boolean;
  readonly graphPooling: boolean;
  readonly limits: BatcherLimits;
  readonly maxClientBatchSize: number;
  readonly maxInputChars: number;
  /** 0 = the model's maximum. */
  readonly maxSequenceLength: number;
  readonly defaultPooling?: PoolingMode;
  readonly defaultTruncation: TruncationSide;
  readonly observer?: BatcherObserver;
  readonly log: Logger;
  /** Test-only fault injection (BERTD_TEST_FAULTS). */
  readonly faults?: TestFaults;
}

export interface EmbedOptions {
  readonly pooling?: PoolingMode;
  readonly normalize: boolean;
  readonly truncation?: TruncationSide;
  readonly dimensions: number;
}

export interface CallOptions {
  readonly deadline?: number;
  readonly signal?: CancelSignal;
  readonly priority?: Priority;
}

export interface ModelInfo {
  readonly id: string;
  readonly path: string;
  readonly hiddenSize: number;
  /** Width of a word's token state: hiddenSize × the layers concatenated (tokenStateLayers). */
  readonly tokenStateWidth: number;
  /** The outputs a token state concatenates: last_hidden_state, then the export's hidden_states.N from the top. */
  readonly tokenStateLayers: readonly string[];
  readonly maxSequenceLength: number;
  readonly vocabularySize: number;
  /** The tokenizer's model type: "WordPiece", "Unigram" or "BPE". */
  readonly tokenizerType: string;
  readonly defaultPooling: PoolingMode;
  readonly provider: string;
  readonly onnxRuntimeVersion: string;
  /** sha256 of the served file: what its embeddings are (the embedding cache is keyed on it). */
  readonly hash: string;
  /** The served file relative to the model directory, and what it holds. */
  readonly modelFile: string;
  readonly weights: Weights;
  /** What heads are bound to: shared by the variants of one model that pass the fidelity check (model-identity.ts). */
  readonly headIdentity: HeadIdentity;
  readonly hasPooler: boolean;
  readonly poolingModes: readonly PoolingMode[];
  /** Where mean and CLS rows are pooled: in the ONNX graph (only batch × hidden floats leave it) or in JavaScript. */
  readonly pooledIn: "graph" | "javascript";
  /** The model's own classifier (config.json id2label, a `logits` output), served as head "model". */
  readonly classifier?: { readonly labels: readonly string[]; readonly multilabel: boolean };
  /** False for a classifier-only export (`logits` and no last_hidden_state): no Embed, Tag or Adapt. */
  readonly hasHiddenStates: boolean;
}

export interface Embedded {
  readonly vectors: Float32Array[];
  readonly inputTokens: number;
  readonly times: StageTimes;
}

/** performance.now() ranges of a call's stages, for traces. */
export interface StageTimes {
  readonly tokenize?: readonly [number, number];
  readonly queue?: readonly [number, number];
  readonly inference?: readonly [number, number];
  readonly head?: readonly [number, number];
}

/** The encoder model: tokenization, the batching queue and the inference workers behind one API. */
export class EncoderModel {
  private constructor(
    private readonly options: EncoderModelOptions,
    readonly tokenizer: Tokenizer,
    private readonly pool: WorkerPool,
    readonly batcher: Batcher,
    readonly info: ModelInfo,
  ) {}

  static async open(options: EncoderModelOptions): Promise<EncoderModel> {
    const { model } = options;
    const tokenizer = loadTokenizer(model.dir);
    const [pool, hash] = await Promise.all([
      WorkerPool.start(
        options.workers,
        {
          modelPath: model.modelPath,
          device: options.device,
          intraOpThreads: options.intraOpThreads,
          spinning: options.spinning,
          graphPooling: options.graphPooling,
          faults: workerFaults(options.faults, (text) => tokenizer.encode(text, { addSpecialTokens: false }).ids),
        },
        options.log,
      ),
      hashModel(model),
    ]);
    const ready = pool.info;
    if (ready.fallbackReason) options.log.warn({ reason: ready.fallbackReason }, "--device auto: CUDA is not available, running on the CPU");
    if (ready.graphPoolingReason) options.log.info({ reason: ready.graphPoolingReason }, "pooling in JavaScript: the graph cannot pool");
    for (const name of ["input_ids", "attention_mask"]) {
      if (!ready.inputNames.includes(name)) {
        await pool.close();
        throw new Error(`${model.modelPath} has no ${name} input (inputs: ${ready.inputNames.join(", ")})`);
      }
    }
    const hasPooler = ready.outputNames.includes("pooler_output");
    const hasHiddenStates = ready.outputNames.includes("last_hidden_state");
    const classifier = model.labels && ready.outputNames.includes("logits") ? { labels: model.labels, multilabel: model.problemType === "multi_label_classification" } : undefined;
    if (!hasHiddenStates && !classifier) {
      await pool.close();
      throw new Error(`${model.modelPath} outputs logits but config.json has no id2label: a classifier-only export needs its labels`);
    }
    const limits = [model.maxPositionEmbeddings, tokenizer.modelMaxLength, options.maxSequenceLength || undefined];
    const maxSequenceLength = Math.min(...limits.filter((n): n is number => typeof n === "number" && n > 0), 512);
    const poolingModes: PoolingMode[] = hasHiddenStates ? [PoolingMode.cls, PoolingMode.mean, PoolingMode.max] : [];
    if (hasPooler) poolingModes.push(PoolingMode.pooler);
    const defaultPooling = options.defaultPooling ?? model.sentenceTransformersPooling ?? PoolingMode.mean;
    if (hasHiddenStates && !poolingModes.includes(defaultPooling)) {
      await pool.close();
      throw new Error(`default pooling ${poolingName(defaultPooling)} is not available: the model has no pooler_output`);
    }
    let identity: HeadIdentity;
    try {
      identity = await headIdentity(model, hash);
    } catch (error) {
      await pool.close();
      throw error;
    }
    const info: ModelInfo = {
      id: model.id,
      path: model.dir,
      hiddenSize: ready.hiddenSize,
      tokenStateWidth: ready.hiddenSize * ready.tokenStateOutputs.length,
      tokenStateLayers: ready.tokenStateOutputs,
      maxSequenceLength,
      vocabularySize: tokenizer.vocabSize,
      tokenizerType: tokenizer.type,
      defaultPooling,
      provider: ready.provider,
      onnxRuntimeVersion: ONNXRUNTIME_VERSION,
      hash,
      modelFile: model.modelFile,
      weights: model.weights,
      headIdentity: identity,
      hasPooler,
      poolingModes,
      pooledIn: ready.graphPooling ? "graph" : "javascript",
      classifier,
      hasHiddenStates,
    };
    return new EncoderModel(options, tokenizer, pool, new Batcher(pool, options.limits, options.observer), info);
  }

  /** Tokenizes and checks every input; throws INVALID_ARGUMENT naming the first bad one. */
  tokenizeInputs(inputs: readonly string[], truncation: TruncationSide | undefined, options: { unlimited?: boolean } = {}): { ids: Int32Array[]; tokens: number } {
    if (!options.unlimited) this.checkInputs(inputs);
    const side = truncation ?? this.options.defaultTruncation;
    const max = this.info.maxSequenceLength;
    const ids: Int32Array[] = new Array<Int32Array>(inputs.length);
    let tokens = 0;
    for (let i = 0; i < inputs.length; i++) {
      let encoded = this.tokenizer.encode(inputs[i]).ids;
      if (encoded.length > max) {
        if (side === "none") {
          throw new InputTooLongError(i, encoded.length, max);
        }
        encoded = truncateIds(encoded, max, side, true);
      }
      ids[i] = encoded;
      tokens += encoded.length;
    }
    return { ids, tokens };
  }

  checkInputs(inputs: readonly string[]): void {
    if (inputs.length === 0) throw invalidArgument("inputs is empty: send at least one text");
    if (inputs.length > this.options.maxClientBatchSize) {
      throw invalidArgument(`inputs has ${inputs.length} texts, over the limit of ${this.options.maxClientBatchSize} (--max-client-batch-size)`);
    }
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i].length > this.options.maxInputChars) {
        throw invalidArgument(`inputs[${i}] has ${inputs[i].length} characters, over the limit of ${this.options.maxInputChars} (--max-input-chars)`);
      }
    }
  }

  /** Most characters in one text (--max-input-chars). */
  get maxInputChars(): number {
    return this.options.maxInputChars;
  }

  /** FAILED_PRECONDITION for `what` (Embed, Tag, Adapt) when the export has only its classifier's logits. */
  requireHiddenStates(what: string): void {
    if (this.info.hasHiddenStates) return;
    throw failedPrecondition(
      `${what} needs the encoder's hidden states, but the served model is a classifier-only export (a logits output and no last_hidden_state): ` +
        "it serves Classify with head \"model\" and Rerank; serve a feature-extraction export for Embed, Tag and Adapt",
    );
  }

  /** Checks pairs like checkInputs: their count, and each text's characters. */
  checkPairs(pairs: readonly TextPair[]): void {
    this.checkInputs(pairs.map((pair) => pair.text));
    for (let i = 0; i < pairs.length; i++) {
      if (pairs[i].textPair.length > this.options.maxInputChars) {
        throw invalidArgument(`text_pairs[${i}] has ${pairs[i].textPair.length} characters, over the limit of ${this.options.maxInputChars} (--max-input-chars)`);
      }
    }
  }

  /** Encodes pairs through the tokenizer's pair template (default truncation: the server's side, longest_first). */
  tokenizePairs(pairs: readonly TextPair[], truncation: Partial<PairTruncation> = {}, options: { unlimited?: boolean; field?: string } = {}): { inputs: { ids: Int32Array; typeIds: Int32Array }[]; tokens: number } {
    if (!options.unlimited) this.checkPairs(pairs);
    const side = truncation.side ?? this.options.defaultTruncation;
    const { encoded, tokens } = encodePairs(this.tokenizer, pairs, this.info.maxSequenceLength, { side, strategy: truncation.strategy }, options.field);
    return { inputs: encoded, tokens };
  }

  /** readouts for pairs: each pair's pooled vector or logits row; pairs batch with single texts. */
  async pairReadouts(pairs: readonly TextPair[], mode: Readout, truncation: Partial<PairTruncation>, call: CallOptions = {}, options: { unlimited?: boolean; field?: string } = {}): Promise<{ readouts: Float32Array[]; inputTokens: number; times: StageTimes }> {
    const started = performance.now();
    const { inputs, tokens } = this.tokenizePairs(pairs, truncation, options);
    const { rows: readouts, times } = await this.submitTimed(inputs.map(({ ids, typeIds }) => ({ ids, typeIds, mode })), call, started);
    return { readouts, inputTokens: tokens, times };
  }

  /**
   * A pair head's features of each pair (src/core/pair-features.ts): the pair pooled together and each
   * distinct text pooled alone, all in one batcher request.
   */
  async pairHeadFeatures(pairs: readonly TextPair[], mode: PoolingMode, truncation: Partial<PairTruncation>, call: CallOptions = {}, options: { unlimited?: boolean; field?: string } = {}): Promise<{ readouts: Float32Array[]; inputTokens: number; times: StageTimes }> {
    const started = performance.now();
    const { inputs, tokens } = this.tokenizePairs(pairs, truncation, options);
    const texts = [...new Set(pairs.flatMap((p) => [p.text, p.textPair]))];
    // Each text alone is no longer than its pair, so it is only ever cut when the pair was.
    const side = truncation.side === "none" ? "right" : truncation.side;
    const single = this.tokenizeInputs(texts, side, { unlimited: true });
    const { rows, times } = await this.submitTimed(
      [...inputs.map(({ ids, typeIds }) => ({ ids, typeIds, mode })), ...single.ids.map((ids) => ({ ids, mode }))],
      call,
      started,
    );
    const alone = new Map(texts.map((text, i) => [text, rows[pairs.length + i]]));
    const readouts = pairs.map((p, i) => pairFeatures(rows[i], alone.get(p.text)!, alone.get(p.textPair)!));
    return { readouts, inputTokens: tokens + single.tokens, times };
  }

  async embed(inputs: readonly string[], options: EmbedOptions, call: CallOptions = {}): Promise<Embedded> {
    this.requireHiddenStates("Embed");
    const mode = options.pooling ?? this.info.defaultPooling;
    if (!this.info.poolingModes.includes(mode)) {
      throw invalidArgument(`pooling ${poolingName(mode).toUpperCase()} is not available: the model has no pooler_output`);
    }
    if (options.dimensions > this.info.hiddenSize) {
      throw invalidArgument(`dimensions ${options.dimensions} is over the model's hidden size of ${this.info.hiddenSize}`);
    }
    const { readouts, inputTokens, times } = await this.readouts(inputs, mode, options.truncation, call);
    return { vectors: readouts.map((vector) => finishVector(vector, options.dimensions, options.normalize)), inputTokens, times };
  }

  /** Tokenizes, queues and runs texts; returns each one's readout (pooled vector or logits) and the stage times. */
  async readouts(inputs: readonly string[], mode: Readout, truncation: TruncationSide | undefined, call: CallOptions = {}): Promise<{ readouts: Float32Array[]; inputTokens: number; times: StageTimes }> {
    const started = performance.now();
    const { ids, tokens } = this.tokenizeInputs(inputs, truncation);
    const { rows: readouts, times } = await this.submitTimed(ids.map((sequence) => ({ ids: sequence, mode })), call, started);
    return { readouts, inputTokens: tokens, times };
  }

  /** Pooled vectors for already-encoded inputs (heads, warm-up): no dimension cut, no normalization. */
  pooled(ids: readonly Int32Array[], mode: Readout, call: CallOptions = {}): Promise<Float32Array[]> {
    return this.batcher.submit(
      ids.map((sequence) => ({ ids: sequence, mode })),
      call,
    );
  }

  /**
   * Aligns each split's words to WordPiece (cut on the right at the model's maximum length) and checks
   * the inputs like tokenizeInputs; `tokens` counts what reaches inference.
   */
  alignInputs(splits: readonly WordSplit[], options: { unlimited?: boolean } = {}): { aligned: AlignedWords[]; tokens: number } {
    if (!options.unlimited) this.checkInputs(splits.map((split) => split.text));
    let tokens = 0;
    const aligned = splits.map((split) => {
      const words = alignWords(this.tokenizer, split, this.info.maxSequenceLength);
      tokens += words.ids.length;
      return words;
    });
    return { aligned, tokens };
  }

  /**
   * The token state at each aligned word's first piece (the last hidden state, concatenated with the
   * layers below it when the export outputs them): per input a flat (words with a piece) ×
   * tokenStateWidth array, in word order. Only those rows leave the workers.
   */
  async wordStates(aligned: readonly AlignedWords[], call: CallOptions = {}): Promise<{ states: Float32Array[]; times: StageTimes }> {
    const { rows: states, times } = await this.submitTimed(
      aligned.map((words) => ({ ids: words.ids, mode: TOKEN_STATES, positions: words.positions })),
      call,
    );
    return { states, times };
  }

  /** Submits tokenized inputs and times the stages: tokenize from `started` (when given) to now, then queue and inference. */
  private async submitTimed(inputs: SequenceInput[], call: CallOptions, started?: number): Promise<{ rows: Float32Array[]; times: StageTimes }> {
    const submitted = performance.now();
    const batch: { dispatched?: number; done?: number } = {};
    const rows = await this.batcher.submit(inputs, { ...call, times: batch });
    const dispatched = batch.dispatched ?? submitted;
    const times: StageTimes = { queue: [submitted, dispatched], inference: [dispatched, batch.done ?? performance.now()] };
    return { rows, times: started === undefined ? times : { tokenize: [started, submitted], ...times } };
  }

  /**
   * Every token's last hidden state (hiddenSize floats each, special tokens included), for one
   * tokenized input per entry of `inputs`.
   */
  async tokenStates(inputs: readonly string[], truncation: TruncationSide | undefined, call: CallOptions = {}): Promise<{ states: Float32Array[][]; inputTokens: number; times: StageTimes }> {
    this.requireHiddenStates("EmbedAll");
    const started = performance.now();
    const { ids, tokens } = this.tokenizeInputs(inputs, truncation);
    const { rows, times } = await this.submitTimed(
      ids.map((sequence) => ({ ids: sequence, mode: TOKEN_STATES, positions: Int32Array.from(sequence, (_, i) => i) })),
      call,
      started,
    );
    const { hiddenSize, tokenStateWidth } = this.info;
    // A token state is last_hidden_state first, then the layers below it: keep the first.
    const states = rows.map((flat, r) => Array.from({ length: ids[r].length }, (_, t) => flat.slice(t * tokenStateWidth, t * tokenStateWidth + hiddenSize)));
    return { states, inputTokens: tokens, times };
  }

  /** What a client may send and the server batches: the limits the model was opened with. */
  get limits(): { readonly maxClientBatchSize: number; readonly maxInputChars: number; readonly maxBatchTokens: number; readonly maxBatchSize: number; readonly maxQueueRequests: number } {
    const { maxClientBatchSize, maxInputChars, limits } = this.options;
    return { maxClientBatchSize, maxInputChars, maxBatchTokens: limits.maxBatchTokens, maxBatchSize: limits.maxBatchSize, maxQueueRequests: limits.maxQueueRequests };
  }

  /**
   * One batch per length bucket on every worker, so the first calls do not pay for kernel selection and
   * memory arenas. On CUDA also a full batch per bucket (within the token budget): cuBLAS picks its
   * algorithms per shape, and the arena grows to the largest batch once.
   */
  async warmUp(): Promise<void> {
    const max = this.info.maxSequenceLength;
    const buckets = [8, 16, 32, 64, 128, 256, max].filter((n, i, all) => n <= max && all.indexOf(n) === i);
    const onGpu = this.info.provider.startsWith("cuda");
    const { maxBatchTokens, maxBatchSize } = this.options.limits;
    for (const length of buckets) {
      const { unk, cls, sep } = this.tokenizer.specialIds;
      const sequence = new Int32Array(length).fill(unk);
      sequence[0] = cls;
      sequence[length - 1] = sep;
      const rows = onGpu ? [1, Math.max(1, Math.min(maxBatchSize, Math.floor(maxBatchTokens / length)))] : [1];
      for (const count of new Set(rows)) {
        const batch = Array.from({ length: count }, () => sequence);
        const mode = this.info.hasHiddenStates ? this.info.defaultPooling : LOGITS;
        await Promise.all(Array.from({ length: this.pool.size }, () => this.pooled(batch, mode)));
      }
    }
  }

  async close(): Promise<void> {
    this.batcher.close();
    await this.pool.close();
  }
}
