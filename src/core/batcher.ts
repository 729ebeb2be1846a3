import type { BatchRunner } from "../backends/batch-runner.js";
import type { CancelSignal } from "./cancellation.js";
import { ServiceError, resourceExhausted } from "./errors.js";
import { LOGITS, TOKEN_STATES, type Readout } from "./pooling.js";

export type Priority = "interactive" | "background";

export interface BatcherLimits {
  readonly maxBatchTokens: number;
  /**
   * Padded tokens per background batch (Adapt's feature encoding): an interactive call that arrives
   * while the worker runs background work waits for at most one batch this size.
   */
  readonly maxBackgroundBatchTokens: number;
  readonly maxBatchSize: number;
  readonly maxBatchDelayMs: number;
  /** Padded tokens per real token a batch may reach once it has a few rows. */
  readonly maxPaddingRatio: number;
  readonly maxQueueTokens: number;
  readonly maxQueueRequests: number;
}

export interface SequenceInput {
  readonly ids: Int32Array;
  /** A pair's token type ids (0 for the first text, 1 for the second in BERT), one per id; absent = all 0. */
  readonly typeIds?: Int32Array;
  readonly mode: Readout;
  /** TOKEN_STATES: the token positions whose states to return (positions × hidden, flat). */
  readonly positions?: Int32Array;
}

export interface SubmitOptions {
  readonly priority?: Priority;
  /** Epoch milliseconds after which the request is dropped before it costs compute. */
  readonly deadline?: number;
  readonly signal?: CancelSignal;
  /** Filled in as the request moves: when its first batch started and its last one finished (performance.now()). */
  readonly times?: { dispatched?: number; done?: number };
}

/** What a finished batch reports, for metrics. */
export interface BatchReport {
  readonly priority: Priority;
  readonly size: number;
  readonly tokens: number;
  readonly paddedTokens: number;
  readonly queueWaitMs: readonly number[];
  readonly inferenceMs: number;
  readonly poolingMs: number;
}

export interface BatcherObserver {
  batch?(report: BatchReport): void;
  rejected?(reason: "queue_full" | "deadline" | "cancelled"): void;
}

interface Request {
  readonly inputs: readonly SequenceInput[];
  readonly times?: { dispatched?: number; done?: number };
  readonly results: Float32Array[];
  readonly deadline: number;
  readonly enqueuedAt: number;
  remaining: number;
  queuedTokens: number;
  queuedItems: number;
  done: boolean;
  resolve(results: Float32Array[]): void;
  reject(error: Error): void;
}

interface Item {
  readonly request: Request;
  readonly index: number;
  readonly length: number;
  taken: boolean;
}

/** Time constant of the recent-load peak: long enough to span a batch. */
const PEAK_DECAY_MS = 250;

/** Inputs of requests answered at `at`; `arrivedBefore`: inputs submitted until then. */
interface Answered {
  readonly at: number;
  readonly items: number;
  readonly arrivedBefore: number;
}

/** Below this many rows a batch grows regardless of padding: tiny matrices waste more than padding. */
const EFFICIENT_ROWS = 8;

/** Background work runs at least once every this many batches while interactive work waits. */
const BACKGROUND_SHARE = 4;

/**
 * The queue between gRPC handlers and inference workers. Inputs of all requests queue; when a worker
 * is free, a batch forms around the oldest input from inputs of similar length, within a token
 * budget (batch size × longest input) and a size cap. Inputs of one request may land in different
 * batches; results come back in the request's order.
 */
export class Batcher {
  private readonly queues: Record<Priority, Item[]> = { interactive: [], background: [] };
  private queuedTokens = 0;
  private queuedRequests = 0;
  private queuedItems = 0;
  private runningItems = 0;
  /** Recent peak of inputs in the system (queued + running), decaying with PEAK_DECAY_MS. */
  private peakLoad = 0;
  private peakAt = 0;
  private waitingSince: number | undefined;
  /** Per priority: inputs ever submitted, and the answers that went out within the last maxBatchDelayMs, oldest first. */
  private readonly arrived: Record<Priority, number> = { interactive: 0, background: 0 };
  private readonly recentAnswers: Record<Priority, Answered[]> = { interactive: [], background: [] };
  private batchesSinceBackground = 0;
  private delayTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly runner: BatchRunner,
    private readonly limits: BatcherLimits,
    private readonly observer: BatcherObserver = {},
  ) {
    runner.onIdle(() => this.pump());
  }

  get depth(): { requests: number; tokens: number } {
    return { requests: this.queuedRequests, tokens: this.queuedTokens };
  }

  /** Resolves with one pooled vector (hidden size), logits row, or positions × hidden token states, per input, in order. */
  submit(inputs: readonly SequenceInput[], options: SubmitOptions = {}): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new ServiceError("unavailable", "the server is shutting down"));
    if (inputs.length === 0) return Promise.resolve([]);
    let tokens = 0;
    for (const input of inputs) tokens += input.ids.length;
    if (this.queuedRequests + 1 > this.limits.maxQueueRequests || this.queuedTokens + tokens > this.limits.maxQueueTokens) {
      this.observer.rejected?.("queue_full");
      return Promise.reject(
        resourceExhausted(
          `inference queue is full (${this.queuedRequests} requests, ${this.queuedTokens} tokens waiting; ` +
            `limits ${this.limits.maxQueueRequests} requests, ${this.limits.maxQueueTokens} tokens): retry with backoff`,
        ),
      );
    }
    if (options.signal?.aborted) return Promise.reject(new ServiceError("cancelled", "the call was cancelled"));
    return new Promise<Float32Array[]>((resolve, reject) => {
      const signal = options.signal;
      const cancel = (): void => this.fail(request, new ServiceError("cancelled", "the call was cancelled"), "cancelled");
      // The signal may be a whole Adapt stream's: a listener left on it would keep every settled request (and its batch's buffers) alive.
      const settle = (): void => signal?.removeEventListener("abort", cancel);
      const request: Request = {
        inputs,
        times: options.times,
        results: new Array<Float32Array>(inputs.length),
        deadline: options.deadline ?? Infinity,
        enqueuedAt: performance.now(),
        remaining: inputs.length,
        queuedTokens: tokens,
        queuedItems: inputs.length,
        done: false,
        resolve: (results) => {
          settle();
          resolve(results);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      signal?.addEventListener("abort", cancel, { once: true });
      const priority = options.priority ?? "interactive";
      const queue = this.queues[priority];
      for (let i = 0; i < inputs.length; i++) queue.push({ request, index: i, length: inputs[i].ids.length, taken: false });
      this.queuedTokens += tokens;
      this.queuedRequests++;
      this.queuedItems += inputs.length;
      this.arrived[priority] += inputs.length;
      this.notePeak();
      this.pump();
    });
  }

  private notePeak(): void {
    const now = performance.now();
    const load = this.queuedItems + this.runningItems;
    this.peakLoad = Math.max(load, this.peakLoad * Math.exp(-(now - this.peakAt) / PEAK_DECAY_MS));
    this.peakAt = now;
  }

  /** Rejects new work; queued and running work still finishes. */
  close(): void {
    this.closed = true;
  }

  private pump(): void {
    while (this.runner.idle > 0) {
      const priority = this.nextPriority();
      if (priority === undefined) return;
      const budget = this.tokenBudget(priority);
      const batch = this.formBatch(this.queues[priority], budget);
      if (batch.length === 0) continue;
      if (this.shouldWait(batch, budget, priority)) {
        for (const item of batch) item.taken = false;
        return;
      }
      this.waitingSince = undefined;
      if (this.delayTimer !== undefined) {
        clearTimeout(this.delayTimer);
        this.delayTimer = undefined;
      }
      this.commitTaken(this.queues[priority]);
      this.batchesSinceBackground = priority === "background" ? 0 : this.batchesSinceBackground + 1;
      this.dispatch(batch, priority);
    }
  }

  private tokenBudget(priority: Priority): number {
    const { maxBatchTokens, maxBackgroundBatchTokens } = this.limits;
    return priority === "background" ? Math.min(maxBatchTokens, maxBackgroundBatchTokens) : maxBatchTokens;
  }

  private nextPriority(): Priority | undefined {
    const interactive = this.liveHead(this.queues.interactive);
    const background = this.liveHead(this.queues.background);
    if (background && (!interactive || this.batchesSinceBackground >= BACKGROUND_SHARE)) return "background";
    return interactive ? "interactive" : undefined;
  }

  /** Drops finished, cancelled and expired requests' items from the queue's head; true if one remains. */
  private liveHead(queue: Item[]): boolean {
    const now = Date.now();
    let skip = 0;
    while (skip < queue.length) {
      const { request } = queue[skip];
      if (!request.done && request.deadline < now) {
        this.expire(request);
      }
      if (!request.done) break;
      skip++;
    }
    if (skip > 0) queue.splice(0, skip);
    return queue.length > 0;
  }

  /** Picks inputs around the oldest one, closest in length first, within the budget of padded tokens. */
  private formBatch(queue: Item[], budget: number): Item[] {
    const { maxBatchSize } = this.limits;
    const scan = Math.min(queue.length, Math.max(4 * maxBatchSize, 256));
    const now = Date.now();
    const candidates: Item[] = [];
    for (let i = 0; i < scan; i++) {
      const item = queue[i];
      if (item.request.done) continue;
      if (item.request.deadline < now) {
        this.expire(item.request);
        continue;
      }
      candidates.push(item);
    }
    if (candidates.length === 0) return [];
    const anchor = candidates[0];
    const sorted = candidates.slice().sort((a, b) => a.length - b.length);
    let lo = sorted.indexOf(anchor);
    let hi = lo;
    let longest = anchor.length;
    let count = 1;
    let tokens = anchor.length;
    while (count < maxBatchSize) {
      const below = lo > 0 ? sorted[lo - 1] : undefined;
      const above = hi < sorted.length - 1 ? sorted[hi + 1] : undefined;
      const belowFits = below !== undefined && this.worthPadding(count + 1, longest, tokens + below.length, budget);
      const aboveFits = above !== undefined && this.worthPadding(count + 1, Math.max(longest, above.length), tokens + above.length, budget);
      if (!belowFits && !aboveFits) break;
      const belowWaste = belowFits ? longest - below.length : Infinity;
      const aboveWaste = aboveFits ? (above.length - longest) * count : Infinity;
      if (belowWaste <= aboveWaste) tokens += sorted[--lo].length;
      else {
        hi++;
        tokens += above!.length;
        longest = Math.max(longest, above!.length);
      }
      count++;
    }
    const batch = sorted.slice(lo, hi + 1);
    for (const item of batch) item.taken = true;
    return batch;
  }

  /**
   * Whether a batch of `rows` padded to `longest` stays within the token budget and, past a size
   * where the matrix kernels are already efficient, does not exceed maxPaddingRatio × its real tokens
   * in padded tokens (the rest of the queue makes the next batch instead).
   */
  private worthPadding(rows: number, longest: number, tokens: number, budget: number): boolean {
    const padded = rows * longest;
    if (padded > budget) return false;
    return rows <= EFFICIENT_ROWS || padded <= this.limits.maxPaddingRatio * tokens;
  }

  private shouldWait(batch: Item[], budget: number, priority: Priority): boolean {
    const { maxBatchDelayMs, maxBatchSize } = this.limits;
    if (maxBatchDelayMs <= 0 || batch.length >= maxBatchSize) return false;
    let longest = 0;
    for (const item of batch) longest = Math.max(longest, item.length);
    if ((batch.length + 1) * longest > budget) return false;
    // Wait only when recent load says more inputs are about to arrive (clients whose answers just
    // went out come back): at low load a lone request never waits.
    this.notePeak();
    if (this.queuedItems >= 0.75 * this.peakLoad) return false;
    // And only for inputs that will come: answers still running, or answers that went out within
    // maxBatchDelayMs to clients that have not sent again. After a burst, a lone caller (its own
    // answer came back) does not wait while the peak decays.
    const now = performance.now();
    if (this.runningItems === 0 && this.awaitedReturns(priority, now) === 0) return false;
    // The wait counts from when a worker could have run this batch, not from enqueueing.
    this.waitingSince ??= now;
    const waited = now - this.waitingSince;
    if (waited >= maxBatchDelayMs) return false;
    if (this.delayTimer === undefined) {
      // Until the wait's end or, with nothing running, until the oldest awaited answer grows old.
      const awaitedFor = this.runningItems === 0 ? this.recentAnswers[priority][0].at + maxBatchDelayMs - now : Infinity;
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined;
        this.pump();
      }, Math.max(0, Math.min(maxBatchDelayMs - waited, awaitedFor)));
    }
    return true;
  }

  /** Inputs of this priority answered within the last maxBatchDelayMs whose clients have not sent as many since. */
  private awaitedReturns(priority: Priority, now: number): number {
    const answers = this.recentAnswers[priority];
    while (answers.length > 0 && now - answers[0].at >= this.limits.maxBatchDelayMs) answers.shift();
    if (answers.length === 0) return 0;
    let answered = 0;
    for (const answer of answers) answered += answer.items;
    return Math.max(0, answered - (this.arrived[priority] - answers[0].arrivedBefore));
  }

  private noteAnswered(priority: Priority, items: number): void {
    if (this.limits.maxBatchDelayMs <= 0) return;
    const now = performance.now();
    const answers = this.recentAnswers[priority];
    answers.push({ at: now, items, arrivedBefore: this.arrived[priority] });
    while (answers.length > 0 && now - answers[0].at >= this.limits.maxBatchDelayMs) answers.shift();
  }

  private commitTaken(queue: Item[]): void {
    let write = 0;
    for (let read = 0; read < queue.length; read++) {
      if (!queue[read].taken && !queue[read].request.done) queue[write++] = queue[read];
    }
    queue.length = write;
  }

  private dispatch(batch: Item[], priority: Priority): void {
    let tokens = 0;
    let longest = 0;
    for (const item of batch) {
      tokens += item.length;
      longest = Math.max(longest, item.length);
    }
    const ids = new Int32Array(tokens);
    const lengths = new Int32Array(batch.length);
    const modes = new Uint8Array(batch.length);
    const positionCounts = new Int32Array(batch.length);
    const stateOffsets = new Int32Array(batch.length);
    let positionTotal = 0;
    for (let b = 0; b < batch.length; b++) {
      const input = batch[b].request.inputs[batch[b].index];
      stateOffsets[b] = positionTotal;
      positionCounts[b] = input.mode === TOKEN_STATES ? (input.positions?.length ?? 0) : 0;
      positionTotal += positionCounts[b];
    }
    const positions = new Int32Array(positionTotal);
    const withTypes = batch.some((item) => item.request.inputs[item.index].typeIds !== undefined);
    const typeIds = withTypes ? new Int32Array(tokens) : undefined;
    const queueWaitMs: number[] = [];
    const now = performance.now();
    let offset = 0;
    for (let b = 0; b < batch.length; b++) {
      const { request, index } = batch[b];
      const input = request.inputs[index];
      ids.set(input.ids, offset);
      if (typeIds && input.typeIds) typeIds.set(input.typeIds, offset);
      offset += input.ids.length;
      lengths[b] = input.ids.length;
      modes[b] = input.mode;
      if (positionCounts[b] > 0) positions.set(input.positions!, stateOffsets[b]);
      queueWaitMs.push(now - request.enqueuedAt);
      if (request.times) request.times.dispatched ??= now;
      this.dequeued(request, input.ids.length);
    }
    this.runningItems += batch.length;
    const finished = (): void => {
      this.runningItems -= batch.length;
    };
    // The runner may transfer (detach) what it is given: keep our own counts.
    this.runner.run({ ids, typeIds, lengths, modes, positions, positionCounts: positionCounts.slice() }).then(
      (done) => {
        finished();
        let answered = 0;
        for (let b = 0; b < batch.length; b++) {
          const { request, index } = batch[b];
          if (request.done) continue;
          const rowError = done.rowErrors?.[b];
          if (rowError) {
            this.fail(request, rowError);
            continue;
          }
          const { mode } = request.inputs[index];
          const width = done.hiddenSize;
          const states = done.states ?? new Float32Array(0);
          const stateWidth = positionTotal > 0 ? states.length / positionTotal : 0;
          request.results[index] =
            mode === LOGITS && done.logits
              ? done.logits.subarray(b * done.labelCount, (b + 1) * done.labelCount)
              : mode === TOKEN_STATES
                ? states.subarray(stateOffsets[b] * stateWidth, (stateOffsets[b] + positionCounts[b]) * stateWidth)
                : done.pooled.subarray(b * width, (b + 1) * width);
          if (--request.remaining === 0) {
            request.done = true;
            if (request.times) request.times.done = performance.now();
            answered += request.inputs.length;
            request.resolve(request.results);
          }
        }
        if (answered > 0) this.noteAnswered(priority, answered);
        this.observer.batch?.({
          priority,
          size: batch.length,
          tokens,
          paddedTokens: done.paddedTokens ?? batch.length * longest,
          queueWaitMs,
          inferenceMs: done.inferenceMs,
          poolingMs: done.poolingMs,
        });
      },
      (error: Error) => {
        finished();
        for (const { request } of batch) this.fail(request, error);
      },
    );
  }

  private dequeued(request: Request, tokens: number): void {
    request.queuedTokens -= tokens;
    this.queuedTokens -= tokens;
    this.queuedItems--;
    if (--request.queuedItems === 0) this.queuedRequests--;
  }

  private expire(request: Request): void {
    this.fail(request, new ServiceError("deadline_exceeded", "the deadline passed while the call waited for inference"), "deadline");
  }

  private fail(request: Request, error: Error, reason?: "deadline" | "cancelled"): void {
    if (request.done) return;
    request.done = true;
    if (request.queuedItems > 0) {
      this.queuedTokens -= request.queuedTokens;
      this.queuedItems -= request.queuedItems;
      this.queuedRequests--;
      request.queuedItems = 0;
      request.queuedTokens = 0;
    }
    if (reason) this.observer.rejected?.(reason);
    request.reject(error);
  }
}
