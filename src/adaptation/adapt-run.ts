import type { Logger } from "pino";
import type { EncoderModel } from "../core/encoder.js";
import { ServiceError, failedPrecondition, invalidArgument, resourceExhausted } from "../core/errors.js";
import type { PoolingMode } from "../core/pooling.js";
import { TimeSlicer } from "../core/time-slicer.js";
import {
  ConfigError,
  HeadTrainer,
  isHoldout,
  isTag,
  OUTSIDE,
  resolveTrainConfig,
  SpanCounts,
  type EvalMetrics,
  type HeadSnapshot,
  type LabelledExample,
  type TrainConfig,
} from "../heads/index.js";
import type { HeadLease, HeadStore, StoredExample, StoredHeadType } from "../store/head-store.js";
import type { EmbeddingCache } from "./embedding-cache.js";
import { PAIR_FEATURE_BLOCKS } from "../core/pair-features.js";
import { featuresFor, pairFeaturesFor, pairOfStored } from "./features.js";
import type { HeadRegistry } from "./head-registry.js";
import { evaluateSentences, predictTags, sentencesFor, tokenExampleProblem, wordRows, wordsOfStored, type TaggedSentence } from "./token-examples.js";
import type { AdaptLimits } from "./limits.js";
import type { PredictionStore } from "../feedback/prediction-store.js";
import type { LiveMetrics } from "../feedback/live-metrics.js";

export interface AdaptSettings {
  readonly head: string;
  readonly type: StoredHeadType;
  readonly labels: readonly string[];
  readonly allowNewLabels: boolean;
  readonly startFrom: "scratch" | "active" | "auto";
  readonly architecture: "linear" | "mlp";
  readonly pooling: PoolingMode;
  readonly train: Partial<TrainConfig>;
  readonly promotion: "always" | "if_better" | "never";
  /** The request's config, protobuf-encoded, stored with each version. */
  readonly configBytes: Uint8Array;
  /** Wait for another stream's lease on the head instead of failing with ABORTED. */
  readonly waitForLease: boolean;
  /** A pair head (examples are sentence pairs); fixed when the head is created. Default false. */
  readonly pair?: boolean;
}

export interface IncomingExample {
  readonly id: string;
  readonly text: string;
  readonly labels: readonly string[];
  readonly weight?: number;
  /** TOKEN heads: the words and one tag per word (instead of text and labels). */
  readonly words?: readonly string[];
  readonly tags?: readonly string[];
  /** Pair heads: the second text of the pair. */
  readonly textPair?: string;
}

export interface Progress {
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
  readonly rejections: { id: string; reason: string }[];
  readonly steps: number;
  readonly learningRate: number;
  readonly runningLoss: number;
  readonly prequentialAccuracy: number;
  /** TOKEN heads: entity-level F1 of training sentences predicted before they were learned (0 otherwise). */
  readonly prequentialSpanF1: number;
  readonly holdout: EvalMetrics;
  readonly examplesPerSecond: number;
  readonly durableExamples: number;
  readonly lastDurableId: string;
  readonly skippedUpdates: number;
}

export interface Committed {
  readonly version: number;
  readonly holdout: EvalMetrics;
  readonly promoted: boolean;
  readonly reason: string;
}

/** What an Adapt stream reports as it goes, for metrics. */
export interface AdaptObserver {
  examples(head: string, outcome: "accepted" | "duplicate" | "rejected", count: number): void;
  trained(head: string, stats: { steps: number; runningLoss: number; prequentialAccuracy: number }): void;
  committed(head: string, version: number, promoted: boolean, holdout: EvalMetrics): void;
  /** TOKEN heads: prequential entity-level F1 of the stream so far. */
  prequentialSpanF1?(head: string, f1: number): void;
}

export interface AdaptDeps {
  readonly observer?: AdaptObserver;
  readonly encoder: EncoderModel;
  readonly store: HeadStore;
  readonly registry: HeadRegistry;
  readonly cache: EmbeddingCache;
  readonly log: Logger;
  /** Heads with an Adapt stream open in this process (counted against --max-heads while being created). */
  readonly adapting?: Set<string>;
  readonly limits?: AdaptLimits;
  /** Recent predictions that Feedback may answer (none: Classify and Tag issue no prediction ids). */
  readonly predictions?: PredictionStore;
  /** Live metrics of a head were computed (GetHead): metrics keep the gauge. */
  readonly onLive?: (head: string, live: LiveMetrics) => void;
}

const HEAD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const EMPTY_METRICS: EvalMetrics = { examples: 0, accuracy: 0, macroF1: 0, logLoss: 0 };

/** One Adapt stream: validates, logs durably, learns prequentially, commits versions. */
export class AdaptRun {
  private accepted = 0;
  private duplicate = 0;
  private rejected = 0;
  private rejections: { id: string; reason: string }[] = [];
  private durable = 0;
  private lastDurableId = "";
  private acceptedSinceCommit = 0;
  private readonly holdout: LabelledExample[] = [];
  private readonly holdoutSentences: TaggedSentence[] = [];
  private readonly prequentialSpans = new SpanCounts();
  private readonly started = performance.now();
  private released = false;

  private constructor(
    private readonly deps: AdaptDeps,
    readonly settings: AdaptSettings,
    private readonly trainer: HeadTrainer,
    private readonly trainConfig: TrainConfig,
    /** This stream's right to write the head; every log write and commit is fenced by it. */
    readonly lease: HeadLease,
  ) {}

  static async open(deps: AdaptDeps, settings: AdaptSettings, signal?: AbortSignal): Promise<AdaptRun> {
    if (!HEAD_NAME.test(settings.head)) {
      throw invalidArgument(`config.head "${settings.head}" must be 1–64 characters of letters, digits, '_', '.', '-', starting with a letter or digit`);
    }
    if (settings.head === "model") throw invalidArgument(`config.head "model" is reserved for the model's own classifier`);
    deps.encoder.requireHiddenStates("Adapt");
    const token = settings.type === "token";
    if (token && settings.pair) throw invalidArgument("config.pair: a TOKEN head tags the words of one text; pair heads are MULTICLASS or MULTILABEL");
    // A TOKEN head always has the O tag, first.
    const labels = new Set<string>(token ? [OUTSIDE] : []);
    for (const label of settings.labels) {
      if (!label) throw invalidArgument("config.labels has an empty label");
      if (token && !isTag(label)) throw invalidArgument(`config.labels: "${label}" is not a tag (O, B-TYPE or I-TYPE) of a TOKEN head`);
      if (labels.has(label) && !(token && label === OUTSIDE)) throw invalidArgument(`config.labels has "${label}" twice`);
      labels.add(label);
    }
    const maxLabels = deps.limits?.maxLabelsPerHead;
    if (maxLabels !== undefined && labels.size > maxLabels) {
      throw invalidArgument(`config.labels has ${labels.size} labels, over the limit of ${maxLabels} per head (--max-labels-per-head)`);
    }
    const onWait = (holder: string, epoch: number): void => deps.log.info({ head: settings.head, holder, epoch }, "waiting for the head's lease");
    const lease = await deps.store.acquireLease(settings.head, { wait: settings.waitForLease, signal, onWait });
    deps.adapting?.add(settings.head);
    try {
      const existing = await deps.store.getHead(settings.head);
      const maxHeads = deps.limits?.maxHeads;
      if (!existing && maxHeads !== undefined) {
        const stored = new Set((await deps.store.listHeads()).map((head) => head.name));
        // Heads that other streams are creating right now count too.
        const creating = [...(deps.adapting ?? [])].filter((name) => name !== settings.head && !stored.has(name)).length;
        const count = stored.size + creating;
        if (count >= maxHeads) throw resourceExhausted(`the store holds ${count} heads${creating > 0 ? ` (${creating} being created)` : ""}, the most allowed (--max-heads ${maxHeads}): delete a head with DeleteHead or raise the limit`);
      }
      if (existing && existing.type !== settings.type) {
        throw failedPrecondition(`head "${settings.head}" is ${existing.type}, not ${settings.type}`);
      }
      if (existing && (existing.input === "pair") !== Boolean(settings.pair)) {
        throw failedPrecondition(
          existing.input === "pair"
            ? `head "${settings.head}" is a pair head (fixed at creation): set config.pair and send examples with text_pair`
            : `head "${settings.head}" is a single-text head (fixed at creation): leave config.pair unset and send examples without text_pair`,
        );
      }
      if (existing && existing.modelHash !== deps.encoder.info.headIdentity.hash) {
        throw failedPrecondition(`head "${settings.head}" was trained on another encoder (model hash ${existing.modelHash.slice(0, 12)}…)`);
      }
      const fromActive = settings.startFrom === "active" || (settings.startFrom === "auto" && (existing?.activeVersion ?? 0) > 0);
      if (fromActive && !existing?.activeVersion) throw failedPrecondition(`config.start_from is ACTIVE but head "${settings.head}" has no active version`);
      let trainer: HeadTrainer;
      let trainConfig: TrainConfig;
      try {
        if (fromActive) {
          const stored = (await deps.store.loadVersion(settings.head, existing!.activeVersion))!;
          trainer = HeadTrainer.restore(stored.state, { config: settings.train });
          trainConfig = trainer.config;
        } else {
          trainConfig = resolveTrainConfig(settings.train);
          if (labels.size === 0 && !settings.allowNewLabels) throw invalidArgument("config.labels is empty and config.allow_new_labels is false: the head could learn nothing");
          trainer = HeadTrainer.create(
            { type: token ? "multiclass" : settings.type, architecture: settings.architecture, inputDim: token ? deps.encoder.info.tokenStateWidth : settings.pair ? PAIR_FEATURE_BLOCKS * deps.encoder.info.hiddenSize : deps.encoder.info.hiddenSize, labels: [...labels], allowNewLabels: settings.allowNewLabels },
            trainConfig,
          );
        }
      } catch (error) {
        if (error instanceof ConfigError) throw invalidArgument(`config.hyperparameters.${snake(error.field)}: ${error.message}`);
        throw error;
      }
      await deps.store.ensureHead(settings.head, settings.type, deps.encoder.info.headIdentity.hash, settings.pair ? "pair" : "text");
      return new AdaptRun(deps, settings, trainer, trainConfig, lease);
    } catch (error) {
      deps.adapting?.delete(settings.head);
      await lease.release();
      throw error;
    }
  }

  /** Validates, logs (durably) and learns a chunk of examples, in order. */
  async add(examples: readonly IncomingExample[], signal?: AbortSignal): Promise<void> {
    this.lease.lost.throwIfAborted();
    this.checkShapes(examples);
    const valid: StoredExample[] = [];
    const seen = new Set<string>();
    const newLabels = new Set<string>();
    let repeated = 0;
    for (const example of examples) {
      const reason = this.problem(example, newLabels);
      if (reason) {
        this.reject(example.id, reason);
        continue;
      }
      if (seen.has(example.id)) {
        repeated++;
        continue;
      }
      seen.add(example.id);
      const token = this.settings.type === "token";
      valid.push({
        id: example.id,
        text: token ? JSON.stringify(example.words) : this.settings.pair ? JSON.stringify([example.text, example.textPair]) : example.text,
        labels: token ? example.tags! : example.labels,
        weight: example.weight ?? 1,
        holdout: isHoldout(example.id, this.trainConfig.holdoutFraction, this.trainConfig.seed),
      });
    }
    const observer = this.deps.observer;
    // An id repeated within this chunk and one the log already holds are both duplicates.
    const inserted = valid.length > 0 ? await this.deps.store.appendExamples(this.lease, valid) : new Set<string>();
    const fresh = valid.filter((example) => inserted.has(example.id));
    this.duplicate += repeated + valid.length - fresh.length;
    observer?.examples(this.settings.head, "duplicate", repeated + valid.length - fresh.length);
    if (fresh.length === 0) return;
    this.durable += fresh.length;
    this.lastDurableId = fresh[fresh.length - 1].id;
    const acceptedBefore = this.accepted;
    if (this.settings.type === "token") await this.learnSentences(fresh, signal);
    else await this.learnTexts(fresh, signal);
    observer?.examples(this.settings.head, "accepted", this.accepted - acceptedBefore);
    const stats = this.trainer.stats;
    observer?.trained(this.settings.head, stats);
    if (this.settings.type === "token") observer?.prequentialSpanF1?.(this.settings.head, this.prequentialSpans.f1);
  }

  /**
   * Learns examples already in the head's log (logged by Feedback): predicted, then learned, like a
   * stream's; holdout examples are kept for evaluation. Nothing is written.
   */
  async learnLogged(examples: readonly StoredExample[], signal?: AbortSignal): Promise<void> {
    this.lease.lost.throwIfAborted();
    if (examples.length === 0) return;
    const acceptedBefore = this.accepted;
    if (this.settings.type === "token") await this.learnSentences(examples, signal);
    else await this.learnTexts(examples, signal);
    this.deps.observer?.trained(this.settings.head, this.trainer.stats);
    this.deps.observer?.examples(this.settings.head, "accepted", this.accepted - acceptedBefore);
  }

  /** A frozen copy of the head as trained so far (for shadow scoring). */
  snapshot(): HeadSnapshot {
    return this.trainer.freeze();
  }

  private async learnTexts(fresh: readonly StoredExample[], signal?: AbortSignal): Promise<void> {
    const features = await this.features(fresh, signal);
    fresh.forEach((example, i) => {
      const labelled: LabelledExample = { features: features[i], labels: example.labels, weight: example.weight };
      if (example.holdout) {
        this.holdout.push(labelled);
        this.accepted++;
        return;
      }
      const outcome = this.trainer.learn(labelled);
      if ("rejected" in outcome) this.reject(example.id, outcome.rejected);
      else {
        this.accepted++;
        this.acceptedSinceCommit++;
      }
    });
  }

  /** Each training sentence is tagged before it is learned (prequential spans), then its words are learned one row each. */
  private async learnSentences(fresh: readonly StoredExample[], signal?: AbortSignal): Promise<void> {
    const sentences = await sentencesFor(this.deps.encoder, this.deps.cache, fresh.map(tokenInput), signal);
    fresh.forEach((example, i) => {
      const sentence = sentences[i];
      this.accepted++;
      if (example.holdout) {
        this.holdoutSentences.push(sentence);
        return;
      }
      this.prequentialSpans.add(sentence.tags, predictTags(this.trainer, sentence.rows).tags);
      for (const row of wordRows(sentence)) {
        const outcome = this.trainer.learn(row);
        if ("rejected" in outcome) throw new ServiceError("internal", `example "${example.id}": ${outcome.rejected}`);
      }
      this.acceptedSinceCommit++;
    });
  }

  /** What the head's example log holds as this stream starts (it holds the head: nothing else writes). */
  async logState(): Promise<{ loggedExamples: number; lastLoggedId: string; activeVersion: number }> {
    const { store } = this.deps;
    const head = this.settings.head;
    const lastLoggedId = await store.lastExampleId(head);
    const record = await store.getHead(head);
    return { loggedExamples: await store.countExamples(head), lastLoggedId: lastLoggedId ?? "", activeVersion: record?.activeVersion ?? 0 };
  }

  /** How many of this stream's examples are durably logged, and the last one's id. */
  get durability(): { readonly durableExamples: number; readonly lastDurableId: string } {
    return { durableExamples: this.durable, lastDurableId: this.lastDurableId };
  }

  get hasUncommitted(): boolean {
    return this.acceptedSinceCommit > 0;
  }

  progress(): Progress {
    const stats = this.trainer.stats;
    const seconds = (performance.now() - this.started) / 1000;
    const rejections = this.rejections;
    this.rejections = [];
    return {
      accepted: this.accepted,
      duplicate: this.duplicate,
      rejected: this.rejected,
      rejections,
      steps: stats.steps,
      learningRate: stats.learningRate,
      runningLoss: Number.isFinite(stats.runningLoss) ? stats.runningLoss : 0,
      prequentialAccuracy: stats.prequentialAccuracy,
      prequentialSpanF1: this.prequentialSpans.f1,
      holdout: this.evaluateHoldout(),
      examplesPerSecond: seconds > 0 ? this.accepted / seconds : 0,
      durableExamples: this.durable,
      lastDurableId: this.lastDurableId,
      skippedUpdates: stats.skippedUpdates,
    };
  }

  /** Replays the head's logged training examples, evaluates on its logged holdout, stores a version. */
  async commit(signal?: AbortSignal, options: { holdBack?: boolean } = {}): Promise<Committed & { passed: boolean }> {
    const { head } = this.settings;
    this.lease.lost.throwIfAborted();
    this.trainer.flush();
    const logged = await this.deps.store.examples(head);
    let training: LabelledExample[];
    let evaluate: (trainer: HeadTrainer) => EvalMetrics;
    let holdoutSize: number;
    let trainedExamples: number;
    if (this.settings.type === "token") {
      const sentences = await sentencesFor(this.deps.encoder, this.deps.cache, logged.map(tokenInput), signal);
      const holdout = sentences.filter((_, i) => logged[i].holdout);
      const trainingSentences = sentences.filter((_, i) => !logged[i].holdout);
      training = trainingSentences.flatMap(wordRows);
      trainedExamples = trainingSentences.length;
      holdoutSize = holdout.length;
      evaluate = (trainer) => evaluateSentences(trainer, holdout);
    } else {
      const features = await this.features(logged, signal);
      training = [];
      const holdout: LabelledExample[] = [];
      logged.forEach((example, i) => {
        const labelled = { features: features[i], labels: example.labels, weight: example.weight };
        (example.holdout ? holdout : training).push(labelled);
      });
      trainedExamples = training.length;
      holdoutSize = holdout.length;
      evaluate = (trainer) => trainer.evaluate(holdout);
    }
    if (this.trainConfig.replayPasses > 0 && training.length > 0) {
      // The log grows with every stream: replay it in slices so inference calls keep flowing meanwhile.
      const slicer = new TimeSlicer();
      const slices = this.trainer.replayInSlices(training, this.trainConfig.replayPasses, 64);
      while (!slices.next().done) await slicer.pause();
    }
    if (!this.trainer.isFinite()) throw new ServiceError("internal", `head "${head}" has non-finite weights after training: not stored`);
    const metrics = holdoutSize > 0 ? evaluate(this.trainer) : EMPTY_METRICS;
    const decision = await this.decidePromotion(metrics, holdoutSize, evaluate);
    // Held back (shadow scoring): stored unpromoted whatever the holdout says; the caller decides later.
    const promote = decision.promote && !options.holdBack;
    const reason = decision.promote && options.holdBack ? `${decision.reason}: held back for shadow scoring` : decision.reason;
    const stats = this.trainer.stats;
    const version = await this.deps.store.commitVersion(
      this.lease,
      {
        labels: this.trainer.labels,
        config: this.settings.configBytes,
        metrics,
        state: this.trainer.serialize(),
        trainedExamples,
        steps: stats.steps,
      },
      promote,
    );
    if (promote) await this.deps.registry.refresh(head);
    this.deps.observer?.committed(head, version, promote, metrics);
    this.acceptedSinceCommit = 0;
    this.deps.log.info({ head, version, promoted: promote, accuracy: metrics.accuracy, holdout: metrics.examples }, "head version committed");
    return { version, holdout: metrics, promoted: promote, reason, passed: decision.promote };
  }

  /** Features of logged examples: one text's pooled encoding, or a pair's (stored as [text, text_pair]). */
  private features(examples: readonly StoredExample[], signal?: AbortSignal): Promise<Float32Array[]> {
    const { encoder, cache } = this.deps;
    const { pooling } = this.settings;
    if (!this.settings.pair) return featuresFor(encoder, cache, examples.map((e) => e.text), pooling, "background", signal);
    return pairFeaturesFor(encoder, cache, examples.map(pairOfStored), pooling, "background", signal);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.deps.adapting?.delete(this.settings.head);
    await this.lease.release();
  }

  private evaluateHoldout(): EvalMetrics {
    if (this.settings.type === "token") return this.holdoutSentences.length > 0 ? evaluateSentences(this.trainer, this.holdoutSentences) : EMPTY_METRICS;
    return this.holdout.length > 0 ? this.trainer.evaluate(this.holdout) : EMPTY_METRICS;
  }

  /** Fails the stream (INVALID_ARGUMENT naming the example) on TOKEN fields where they do not belong, or malformed ones. */
  private checkShapes(examples: readonly IncomingExample[]): void {
    const token = this.settings.type === "token";
    for (const example of examples) {
      const words = example.words ?? [];
      const tags = example.tags ?? [];
      if (!token) {
        if (words.length > 0 || tags.length > 0) {
          throw invalidArgument(`example "${example.id}" sets words or tags, which only TOKEN heads take; head "${this.settings.head}" is ${this.settings.type.toUpperCase()}`);
        }
        if (this.settings.pair && !example.textPair) {
          throw invalidArgument(`example "${example.id}" has no text_pair, and head "${this.settings.head}" is a pair head: send both texts of the pair`);
        }
        if (!this.settings.pair && example.textPair) {
          throw invalidArgument(`example "${example.id}" sets text_pair, and head "${this.settings.head}" is a single-text head: create a pair head (config.pair) for sentence pairs`);
        }
        continue;
      }
      if (example.textPair) throw invalidArgument(`example "${example.id}" sets text_pair, which TOKEN heads do not take`);
      const problem = tokenExampleProblem(
        { id: example.id, text: example.text, labels: example.labels, words, tags },
        this.trainer.allowNewLabels ? undefined : this.trainer.labels,
      );
      if (problem) throw invalidArgument(problem);
    }
  }

  /** IF_BETTER compares accuracy, or span F1 for TOKEN heads, with the active version's on the same holdout. */
  private async decidePromotion(metrics: EvalMetrics, holdoutSize: number, evaluate: (trainer: HeadTrainer) => EvalMetrics): Promise<{ promote: boolean; reason: string }> {
    const { promotion, head } = this.settings;
    if (promotion === "always") return { promote: true, reason: "promotion ALWAYS" };
    if (promotion === "never") return { promote: false, reason: "promotion NEVER: promote with SetActiveVersion" };
    const record = await this.deps.store.getHead(head);
    if (!record?.activeVersion) return { promote: true, reason: "the head had no active version" };
    if (holdoutSize === 0) return { promote: true, reason: "no holdout examples to compare on" };
    const active = await this.deps.store.loadVersion(head, record.activeVersion);
    const previous = evaluate(HeadTrainer.restore(active!.state));
    const [name, ours, theirs] = this.settings.type === "token" ? ["span F1", metrics.spanF1 ?? 0, previous.spanF1 ?? 0] : ["accuracy", metrics.accuracy, previous.accuracy];
    const better = ours >= theirs;
    const comparison = `holdout ${name} ${ours.toFixed(4)} vs active v${record.activeVersion} ${theirs.toFixed(4)} on the same ${holdoutSize} examples`;
    return { promote: better, reason: better ? comparison : `${comparison}: kept the active version` };
  }

  /** Why an example cannot be taken, if it cannot; labels it would add join `newLabels`. */
  private problem(example: IncomingExample, newLabels: Set<string>): string | undefined {
    if (!example.id) return "example.id is empty";
    const maxChars = this.deps.limits?.maxInputChars ?? 100_000;
    const weight = example.weight ?? 1;
    if (!Number.isFinite(weight) || weight <= 0) return `example.weight ${weight} must be finite and > 0`;
    if (this.settings.type === "token") {
      const characters = (example.words ?? []).reduce((sum, word) => sum + word.length + 1, 0);
      return characters > maxChars ? `example.words have ${characters} characters, over the limit of ${maxChars} (--max-input-chars)` : undefined;
    }
    if (!example.text) return "example.text is empty";
    if (example.text.length > maxChars) return `example.text has ${example.text.length} characters, over the limit of ${maxChars} (--max-input-chars)`;
    if (example.textPair && example.textPair.length > maxChars) return `example.text_pair has ${example.textPair.length} characters, over the limit of ${maxChars} (--max-input-chars)`;
    if (this.settings.type === "multiclass" && example.labels.length !== 1) {
      return `a MULTICLASS example needs exactly one label; got ${example.labels.length}`;
    }
    if (!this.trainer.allowNewLabels) {
      const known = this.trainer.labels;
      const unknown = example.labels.find((label) => !known.includes(label));
      if (unknown !== undefined) return `label "${unknown}" is not one of the head's labels (and allow_new_labels is false)`;
      return undefined;
    }
    const known = this.trainer.labels;
    const added = example.labels.filter((label) => !known.includes(label) && !newLabels.has(label));
    const max = this.deps.limits?.maxLabelsPerHead;
    if (added.length > 0 && max !== undefined && known.length + newLabels.size + added.length > max) {
      return `label "${added[0]}" would give the head more than ${max} labels (--max-labels-per-head)`;
    }
    for (const label of added) newLabels.add(label);
    return undefined;
  }

  /** Counts an example as rejected; the reason goes out in the next progress message. */
  reject(id: string, reason: string): void {
    this.rejected++;
    this.deps.observer?.examples(this.settings.head, "rejected", 1);
    if (this.rejections.length < 100) this.rejections.push({ id, reason });
  }
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function tokenInput(example: StoredExample): { words: string[]; tags: readonly string[]; weight: number } {
  return { words: wordsOfStored(example), tags: example.labels, weight: example.weight };
}

