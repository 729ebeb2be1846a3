import { ConfigError, resolveTrainConfig, type TrainConfig } from "./config.js";
import { LinearModel } from "./linear.js";
import { bceWithLogits, sigmoidBinaryCrossEntropy, sigmoidInto, softmaxCrossEntropy, softmaxInto } from "./losses.js";
import { LabelConfusion, MAX_LOSS_TERM, PrequentialStats, RECENT_WINDOW } from "./metrics.js";
import { MlpModel, type HeadModel } from "./mlp.js";
import { RunningNormalizer, standardizeInto } from "./normalizer.js";
import { adamwStep, clipFactor, gradSquaredNorm, sgdStep } from "./optimizers.js";
import { Prng } from "./prng.js";
import { learningRateAt } from "./schedules.js";
import { checkFeatures, HeadSnapshot, predictedIndices } from "./snapshot.js";
import { decodeState, encodeState, StateFormatError, type StateArray } from "./state.js";
import type { Architecture, EvalMetrics, HeadSpec, HeadType, LabelledExample, LearnOutcome, Rejected } from "./types.js";

/** Weight of the newest batch in the running loss (an exponential moving average over steps). */
const RUNNING_LOSS_ALPHA = 0.1;
const STATE_VERSION = 1;
const MAX_INPUT_DIM = 65536;

export interface TrainerStats {
  /** Optimizer steps taken (skipped ones excluded). */
  readonly steps: number;
  /** The learning rate the next step will use. */
  readonly learningRate: number;
  /** EMA (α = 0.1) of the mean unweighted loss of each stepped batch; NaN before the first step. */
  readonly runningLoss: number;
  /** Fraction of learned examples predicted correctly before learning them (multilabel: exact set). */
  readonly prequentialAccuracy: number;
  /** The same over the last 256 learned examples. */
  readonly recentAccuracy: number;
  /** Mean prequential loss (same units as EvalMetrics.logLoss). */
  readonly prequentialLoss: number;
  /** Steps skipped because the batch loss or gradient was not finite. */
  readonly skippedUpdates: number;
  /** Training examples accepted by learn() (replay not counted). */
  readonly examplesSeen: number;
  /** Examples given to learn() and rejected. */
  readonly rejectedExamples: number;
  /** Examples waiting in the current partial batch. */
  readonly pendingExamples: number;
  /** Global gradient norm of the last step, before clipping (0 before the first). */
  readonly lastGradNorm: number;
}

export interface ReplayResult {
  /** Examples used per pass. */
  readonly examples: number;
  /** Examples left out (wrong dimension, non-finite, bad weight, a label the head does not have). */
  readonly skipped: number;
  readonly passes: number;
  /** Optimizer steps taken during the replay (including the final partial batch). */
  readonly steps: number;
}

export interface RestoreOptions {
  /**
   * Hyperparameters to change (validated; hiddenSize cannot change). Changing the optimizer resets its moments;
   * a new seed does not reseed the PRNG, which continues from its stored state.
   */
  readonly config?: Partial<TrainConfig>;
  /** Start the warmup/decay schedule again from the current step (a new training session on a trained head). */
  readonly restartSchedule?: boolean;
  /** Zero the prequential counters, running loss, skipped and rejected counts (not the steps or the model). */
  readonly resetProgress?: boolean;
}

interface TrainerInit {
  readonly type: HeadType;
  readonly architecture: Architecture;
  readonly inputDim: number;
  readonly hiddenSize: number;
  readonly allowNewLabels: boolean;
  readonly config: TrainConfig;
  readonly labels: readonly string[];
}

/**
 * Trains one head online. See index.ts for the contract; everything here is synchronous and deterministic
 * (same spec, config, seed and examples → bit-identical parameters), including across serialize/restore.
 */
export class HeadTrainer {
  readonly type: HeadType;
  readonly architecture: Architecture;
  readonly inputDim: number;
  readonly allowNewLabels: boolean;
  private configValue: TrainConfig;

  private readonly labelList: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  private labelsView: readonly string[] = Object.freeze([]);
  /** Step count when each label's output row was created (AdamW bias correction per row). */
  private readonly labelBirth: number[] = [];
  /** Training examples (learn) carrying each label. */
  private readonly labelCounts: number[] = [];
  private labelsWithCount = 0;

  private readonly model: HeadModel;
  private readonly normalizer: RunningNormalizer;
  private prng: Prng;

  private stepCount = 0;
  private scheduleOrigin = 0;
  private skipped = 0;
  private rejectedCount = 0;
  private trained = 0;
  private preq = new PrequentialStats();
  private runningLossValue = NaN;
  private lastGradNormValue = 0;

  private batchCount = 0;
  private batchObjective = 0;
  private batchLoss = 0;

  // Scratch (sized to the label count; reallocated when labels are added).
  private readonly xn: Float64Array;
  private logits = new Float64Array(0);
  private probs = new Float64Array(0);
  private dlogits = new Float64Array(0);
  private targets = new Uint8Array(0);
  private posWeight = new Float64Array(0);
  private negWeight = new Float64Array(0);
  private readonly result = new Float64Array(2);
  private readonly targetIdx: number[] = [];
  private readonly newLabels: string[] = [];
  private readonly predIdx: number[] = [];

  private constructor(init: TrainerInit, prng: Prng, model?: HeadModel, normalizer?: RunningNormalizer) {
    this.type = init.type;
    this.architecture = init.architecture;
    this.inputDim = init.inputDim;
    this.allowNewLabels = init.allowNewLabels;
    this.configValue = init.config;
    this.prng = prng;
    this.xn = new Float64Array(init.inputDim);
    if (model) {
      this.model = model;
    } else if (init.architecture === "linear") {
      this.model = new LinearModel(init.inputDim, 0);
    } else {
      const mlp = new MlpModel(init.inputDim, init.hiddenSize, 0);
      mlp.initialize(prng);
      this.model = mlp;
    }
    this.normalizer = normalizer ?? new RunningNormalizer(init.inputDim);
    for (const label of init.labels) this.registerLabel(label, 0, 0);
    if (!model) this.model.addOutputs(init.labels.length);
    this.resizeScratch();
  }

  /** A fresh head. Throws ConfigError (field named) for a bad spec or hyperparameter. */
  static create(spec: HeadSpec, config: Partial<TrainConfig> = {}): HeadTrainer {
    const resolved = resolveTrainConfig(config);
    validateSpec(spec);
    const init: TrainerInit = {
      type: spec.type,
      architecture: spec.architecture,
      inputDim: spec.inputDim,
      hiddenSize: resolved.hiddenSize,
      allowNewLabels: spec.allowNewLabels,
      config: resolved,
      labels: spec.labels,
    };
    return new HeadTrainer(init, Prng.fromSeed(resolved.seed));
  }

  get config(): TrainConfig {
    return this.configValue;
  }

  /** Labels in output order (append-only). */
  get labels(): readonly string[] {
    return this.labelsView;
  }

  get stats(): TrainerStats {
    return {
      steps: this.stepCount,
      learningRate: learningRateAt(this.stepCount - this.scheduleOrigin + 1, this.configValue),
      runningLoss: this.runningLossValue,
      prequentialAccuracy: this.preq.accuracy,
      recentAccuracy: this.preq.recentAccuracy,
      prequentialLoss: this.preq.meanLoss,
      skippedUpdates: this.skipped,
      examplesSeen: this.trained,
      rejectedExamples: this.rejectedCount,
      pendingExamples: this.batchCount,
      lastGradNorm: this.lastGradNormValue,
    };
  }

  /** Positive training examples seen per label (a copy, in `labels` order). */
  labelCountsSnapshot(): number[] {
    return this.labelCounts.slice();
  }

  /**
   * Test-then-train: predicts the example with the current head (parameters AND normalizer untouched by it),
   * records the prequential outcome, then adds the example to the current batch (and updates the normalizer
   * and label counts); a full batch takes an optimizer step. Rejected examples change nothing but the
   * rejected count.
   */
  learn(example: LabelledExample): LearnOutcome | Rejected {
    const reason = this.parseExample(example, this.allowNewLabels);
    if (reason !== null) {
      this.rejectedCount++;
      return { rejected: reason };
    }
    const features = example.features;
    const weight = example.weight ?? 1;

    // 1. Predict with the state as it was before this example.
    standardizeInto(features, this.normalizer.mean, this.normalizer.scale(), this.xn);
    const k0 = this.labelList.length;
    if (k0 > 0) {
      this.model.forward(this.xn, this.logits);
      if (this.type === "multiclass") softmaxInto(this.logits, k0, this.probs);
      else sigmoidInto(this.logits, k0, this.probs);
    }
    predictedIndices(this.type, this.probs, k0, this.predIdx);
    const predicted = this.predIdx.map((i) => this.labelList[i]);
    const correct = this.newLabels.length === 0 && sameSet(this.predIdx, this.targetIdx);

    // 2. New labels get zero output rows (then the logits must be recomputed).
    if (this.newLabels.length > 0) {
      const added = this.newLabels.length;
      for (const label of this.newLabels) {
        const index = this.registerLabel(label, this.stepCount, 0);
        this.targetIdx.push(index);
      }
      this.model.addOutputs(added);
      this.resizeScratch();
      this.model.forward(this.xn, this.logits);
    }

    // 3. Count labels (class weights use counts including this example), then loss and gradient.
    this.trained++;
    for (const j of this.targetIdx) {
      if (this.labelCounts[j]++ === 0) this.labelsWithCount++;
    }
    this.lossAndGradient(weight);
    const loss = this.result[0];
    this.preq.record(correct, loss);
    this.accumulate();

    // 4. Only now does the example reach the normalizer.
    this.normalizer.update(features);
    if (this.batchCount >= this.configValue.batchSize) this.step();
    return { predicted, correct, loss };
  }

  /** Steps on the partial batch, if any. Returns whether a step was attempted. */
  flush(): boolean {
    if (this.batchCount === 0) return false;
    this.step();
    return true;
  }

  /**
   * `passes` passes (default config.replayPasses) over `examples`, each in a fresh order from the trainer's
   * PRNG, continuing the same optimizer, schedule and batch; ends with flush(). Replay trains only: no
   * prequential records, no normalizer or label-count updates, and no new labels (an example with a label the
   * head lacks is skipped), so replaying examples already streamed through learn() counts nothing twice.
   */
  replay(examples: readonly LabelledExample[], passes: number = this.configValue.replayPasses): ReplayResult {
    const slices = this.replayInSlices(examples, passes);
    for (;;) {
      const next = slices.next();
      if (next.done) return next.value;
    }
  }

  /**
   * replay() in slices: the same computation, pausing after every `sliceSize` examples so that a caller on
   * the event loop can let other work run in between. The trainer must not be used until it is finished.
   */
  *replayInSlices(examples: readonly LabelledExample[], passes: number = this.configValue.replayPasses, sliceSize = 256): Generator<void, ReplayResult, void> {
    if (!Number.isInteger(passes) || passes < 0) throw new RangeError(`passes must be a non-negative integer, got ${passes}`);
    const usable: number[] = [];
    for (let i = 0; i < examples.length; i++) {
      if (this.parseExample(examples[i], false) === null) usable.push(i);
    }
    const before = this.stepCount + this.skipped;
    const order = Int32Array.from(usable);
    for (let p = 0; p < passes && order.length > 0; p++) {
      this.prng.shuffle(order);
      for (let n = 0; n < order.length; n++) {
        const example = examples[order[n]];
        this.parseExample(example, false);
        standardizeInto(example.features, this.normalizer.mean, this.normalizer.scale(), this.xn);
        this.model.forward(this.xn, this.logits);
        this.lossAndGradient(example.weight ?? 1);
        this.accumulate();
        if (this.batchCount >= this.configValue.batchSize) this.step();
        if ((n + 1) % sliceSize === 0) yield;
      }
    }
    this.flush();
    return { examples: usable.length, skipped: examples.length - usable.length, passes, steps: this.stepCount + this.skipped - before };
  }

  /**
   * Scores examples without changing anything. Examples with a bad feature vector (or, multiclass, not exactly
   * one label) are left out of every metric. Over the label universe U = the head's labels ∪ labels found in
   * the examples (a label the head lacks has probability 0):
   *   accuracy  multiclass: argmax = label; multilabel: exact match of the predicted set {p > 0.5}
   *   macroF1   mean F1 over labels of U present in the truth or the predictions (multiclass: one-vs-rest)
   *   logLoss   multiclass: mean −ln p(label); multilabel: mean BCE over examples × |U|;
   *             each term capped at −ln(1e-15)
   * All zero for no examples.
   */
  evaluate(examples: readonly LabelledExample[]): EvalMetrics {
    const k = this.labelList.length;
    const extra = new Map<string, number>();
    const confusion = new LabelConfusion();
    const truth: number[] = [];
    let n = 0;
    let exact = 0;
    let lossSum = 0;
    let unknownPositives = 0;
    const scale = this.normalizer.scale();
    for (const example of examples) {
      if (!isUsableFeatures(example.features, this.inputDim)) continue;
      if (this.type === "multiclass" && example.labels.length !== 1) continue;
      truth.length = 0;
      let unknownHere = 0;
      for (const label of example.labels) {
        let j = this.labelIndex.get(label) ?? extra.get(label);
        if (j === undefined) {
          j = k + extra.size;
          extra.set(label, j);
        }
        if (!truth.includes(j)) {
          truth.push(j);
          if (j >= k) unknownHere++;
        }
      }
      n++;
      standardizeInto(example.features, this.normalizer.mean, scale, this.xn);
      if (k > 0) {
        this.model.forward(this.xn, this.logits);
        if (this.type === "multiclass") softmaxInto(this.logits, k, this.probs);
        else sigmoidInto(this.logits, k, this.probs);
      }
      predictedIndices(this.type, this.probs, k, this.predIdx);
      if (sameSet(this.predIdx, truth)) exact++;
      for (const j of this.predIdx) confusion.add(j, truth.includes(j), true);
      for (const j of truth) if (!this.predIdx.includes(j)) confusion.add(j, true, false);
      if (this.type === "multiclass") {
        const y = truth[0];
        if (y >= k) {
          lossSum += MAX_LOSS_TERM;
        } else {
          let max = -Infinity;
          for (let j = 0; j < k; j++) if (this.logits[j] > max) max = this.logits[j];
          let sum = 0;
          for (let j = 0; j < k; j++) sum += Math.exp(this.logits[j] - max);
          lossSum += Math.min(MAX_LOSS_TERM, max + Math.log(sum) - this.logits[y]);
        }
      } else {
        for (let j = 0; j < k; j++) lossSum += Math.min(MAX_LOSS_TERM, bceWithLogits(this.logits[j], truth.includes(j) ? 1 : 0));
        unknownPositives += unknownHere;
      }
    }
    if (n === 0) return { examples: 0, accuracy: 0, macroF1: 0, logLoss: 0 };
    let logLoss: number;
    if (this.type === "multiclass") {
      logLoss = lossSum / n;
    } else {
      const universe = k + extra.size;
      logLoss = universe === 0 ? 0 : (lossSum + unknownPositives * MAX_LOSS_TERM) / (n * universe);
    }
    return { examples: n, accuracy: exact / n, macroF1: confusion.macroF1(1), logLoss };
  }

  /** Probabilities per label (`labels` order) with the current head. Throws RangeError on bad features. */
  predict(features: ArrayLike<number>): Float64Array {
    checkFeatures(features, this.inputDim);
    const k = this.labelList.length;
    const out = new Float64Array(k);
    standardizeInto(features, this.normalizer.mean, this.normalizer.scale(), this.xn);
    if (k === 0) return out;
    this.model.forward(this.xn, this.logits);
    if (this.type === "multiclass") softmaxInto(this.logits, k, out);
    else sigmoidInto(this.logits, k, out);
    return out;
  }

  /** An immutable inference snapshot sharing no mutable array with the trainer. */
  freeze(): HeadSnapshot {
    return new HeadSnapshot({
      type: this.type,
      architecture: this.architecture,
      inputDim: this.inputDim,
      labels: this.labelList,
      mean: this.normalizer.mean.slice(),
      scale: this.normalizer.scale().slice(),
      forward: this.model.frozen(),
      steps: this.stepCount,
      trainedExamples: this.trained,
    });
  }

  /** Whether every parameter, optimizer moment, pending gradient and normalizer statistic is finite. */
  isFinite(): boolean {
    for (const t of this.model.tensors) {
      if (!allFinite(t.value) || !allFinite(t.moment1) || !allFinite(t.moment2) || !allFinite(t.grad)) return false;
    }
    return allFinite(this.normalizer.mean) && allFinite(this.normalizer.m2);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Serialization

  /** The full trainer state (see state.ts for the container); restore() continues bit-identically. */
  serialize(): Uint8Array {
    const arrays = new Map<string, StateArray>();
    arrays.set("scalars", Float64Array.of(this.preq.lossSum, this.runningLossValue, this.batchObjective, this.batchLoss, this.lastGradNormValue));
    arrays.set("normalizer.mean", this.normalizer.mean);
    arrays.set("normalizer.m2", this.normalizer.m2);
    arrays.set("prequential.window", this.preq.window);
    for (const t of this.model.tensors) {
      arrays.set(`${t.name}.value`, t.value.subarray(0, t.size));
      arrays.set(`${t.name}.grad`, t.grad.subarray(0, t.size));
      arrays.set(`${t.name}.moment1`, t.moment1.subarray(0, t.size));
      arrays.set(`${t.name}.moment2`, t.moment2.subarray(0, t.size));
    }
    const header = {
      format: "bertd-head",
      type: this.type,
      architecture: this.architecture,
      inputDim: this.inputDim,
      allowNewLabels: this.allowNewLabels,
      config: this.configValue,
      labels: this.labelList,
      labelBirth: this.labelBirth,
      labelCounts: this.labelCounts,
      steps: this.stepCount,
      scheduleOrigin: this.scheduleOrigin,
      skipped: this.skipped,
      rejected: this.rejectedCount,
      trained: this.trained,
      prng: this.prng.state(),
      normalizerCount: this.normalizer.count,
      batchCount: this.batchCount,
      prequential: {
        seen: this.preq.seen,
        correct: this.preq.correct,
        windowPos: this.preq.windowPos,
        windowFilled: this.preq.windowFilled,
        windowCorrect: this.preq.windowCorrect,
      },
    };
    return encodeState(STATE_VERSION, header, arrays);
  }

  /** Rebuilds a trainer from serialize() output. Throws StateFormatError (or ConfigError for bad overrides). */
  static restore(bytes: Uint8Array, options: RestoreOptions = {}): HeadTrainer {
    const { version, header: h, arrays } = decodeState(bytes);
    if (version !== STATE_VERSION) throw new StateFormatError(`unsupported head state version ${version}`);
    if (h.format !== "bertd-head") throw new StateFormatError("not a bertd head state");
    const type = h.type;
    const architecture = h.architecture;
    if (type !== "multiclass" && type !== "multilabel") throw new StateFormatError("bad type");
    if (architecture !== "linear" && architecture !== "mlp") throw new StateFormatError("bad architecture");
    const inputDim = int(h.inputDim, "inputDim", 1, MAX_INPUT_DIM);
    const labels = stringArray(h.labels, "labels");
    const k = labels.length;
    let stored: TrainConfig;
    try {
      stored = resolveTrainConfig(h.config as Partial<TrainConfig>);
    } catch (err) {
      throw new StateFormatError(`bad stored config: ${(err as Error).message}`);
    }
    const config = options.config ? resolveTrainConfig({ ...stored, ...options.config }) : stored;
    if (architecture === "mlp" && config.hiddenSize !== stored.hiddenSize) {
      throw new ConfigError("hiddenSize", "cannot change the hidden size of a trained MLP head");
    }
    const f64 = (name: string, length: number): Float64Array => {
      const a = arrays.get(name);
      if (!(a instanceof Float64Array) || a.length !== length) throw new StateFormatError(`missing or bad array ${name}`);
      return a;
    };

    const model: HeadModel = architecture === "linear" ? new LinearModel(inputDim, k) : new MlpModel(inputDim, stored.hiddenSize, k);
    const resetMoments = config.optimizer !== stored.optimizer;
    for (const t of model.tensors) {
      t.value.set(f64(`${t.name}.value`, t.size));
      t.grad.set(f64(`${t.name}.grad`, t.size));
      if (!resetMoments) {
        t.moment1.set(f64(`${t.name}.moment1`, t.size));
        t.moment2.set(f64(`${t.name}.moment2`, t.size));
      }
    }
    const normalizer = new RunningNormalizer(
      inputDim,
      int(h.normalizerCount, "normalizerCount", 0, Number.MAX_SAFE_INTEGER),
      f64("normalizer.mean", inputDim).slice(),
      f64("normalizer.m2", inputDim).slice(),
    );
    const prngState = h.prng;
    if (!Array.isArray(prngState)) throw new StateFormatError("bad prng state");
    const init: TrainerInit = {
      type,
      architecture,
      inputDim,
      hiddenSize: stored.hiddenSize,
      allowNewLabels: h.allowNewLabels === true,
      config,
      labels,
    };
    const trainer = new HeadTrainer(init, Prng.fromState(prngState as number[]), model, normalizer);

    const births = intArray(h.labelBirth, "labelBirth", k);
    const counts = intArray(h.labelCounts, "labelCounts", k);
    for (let j = 0; j < k; j++) {
      trainer.labelBirth[j] = births[j];
      trainer.labelCounts[j] = counts[j];
    }
    trainer.labelsWithCount = counts.filter((c) => c > 0).length;
    trainer.stepCount = int(h.steps, "steps", 0, Number.MAX_SAFE_INTEGER);
    trainer.scheduleOrigin = options.restartSchedule ? trainer.stepCount : int(h.scheduleOrigin, "scheduleOrigin", 0, trainer.stepCount);
    trainer.trained = int(h.trained, "trained", 0, Number.MAX_SAFE_INTEGER);
    trainer.batchCount = int(h.batchCount, "batchCount", 0, Number.MAX_SAFE_INTEGER);
    const scalars = f64("scalars", 5);
    trainer.batchObjective = scalars[2];
    trainer.batchLoss = scalars[3];
    if (!options.resetProgress) {
      trainer.skipped = int(h.skipped, "skipped", 0, Number.MAX_SAFE_INTEGER);
      trainer.rejectedCount = int(h.rejected, "rejected", 0, Number.MAX_SAFE_INTEGER);
      trainer.runningLossValue = scalars[1];
      trainer.lastGradNormValue = scalars[4];
      const p = h.prequential as Record<string, unknown> | undefined;
      if (typeof p !== "object" || p === null) throw new StateFormatError("bad prequential state");
      const window = arrays.get("prequential.window");
      if (!(window instanceof Uint8Array) || window.length !== RECENT_WINDOW) throw new StateFormatError("bad prequential window");
      const preq = trainer.preq;
      preq.seen = int(p.seen, "prequential.seen", 0, Number.MAX_SAFE_INTEGER);
      preq.correct = int(p.correct, "prequential.correct", 0, preq.seen);
      preq.lossSum = scalars[0];
      preq.window.set(window);
      preq.windowPos = int(p.windowPos, "prequential.windowPos", 0, RECENT_WINDOW - 1);
      preq.windowFilled = int(p.windowFilled, "prequential.windowFilled", 0, RECENT_WINDOW);
      preq.windowCorrect = int(p.windowCorrect, "prequential.windowCorrect", 0, RECENT_WINDOW);
    }
    return trainer;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Internals

  /**
   * Validates an example without side effects beyond scratch: fills targetIdx (known labels, deduplicated)
   * and newLabels (unknown ones, only when allowed). Returns a rejection reason or null.
   */
  private parseExample(example: LabelledExample, allowNew: boolean): string | null {
    const features = example.features;
    if (features === null || typeof features !== "object" || typeof features.length !== "number") return "features missing";
    if (features.length !== this.inputDim) return `features have dimension ${features.length}, expected ${this.inputDim}`;
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i])) return `feature ${i} is not finite (${features[i]})`;
    }
    const weight = example.weight ?? 1;
    if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) return `weight must be finite and > 0, got ${String(weight)}`;
    const labels = example.labels;
    if (!Array.isArray(labels)) return "labels missing";
    if (this.type === "multiclass" && labels.length !== 1) return `a multiclass example needs exactly one label, got ${labels.length}`;
    this.targetIdx.length = 0;
    this.newLabels.length = 0;
    for (const label of labels as readonly unknown[]) {
      if (typeof label !== "string" || label.length === 0) return "labels must be non-empty strings";
      const j = this.labelIndex.get(label);
      if (j !== undefined) {
        if (!this.targetIdx.includes(j)) this.targetIdx.push(j);
      } else if (!allowNew) {
        return `unknown label "${label}"`;
      } else if (!this.newLabels.includes(label)) {
        this.newLabels.push(label);
      }
    }
    return null;
  }

  /** Loss and weighted dlogits of the example in xn/logits for targetIdx into result/dlogits. */
  private lossAndGradient(weight: number): void {
    const k = this.labelList.length;
    const weighting = this.configValue.classWeighting;
    const balanced = weighting !== "none";
    const soften = weighting === "sqrt_balanced" ? Math.sqrt : (w: number): number => w;
    if (this.type === "multiclass") {
      const y = this.targetIdx[0];
      const c = balanced ? soften(classWeight(this.trained, this.labelsWithCount, this.labelCounts[y])) : 1;
      softmaxCrossEntropy(this.logits, k, y, weight * c, this.probs, this.dlogits, this.result);
    } else {
      const t = this.targets;
      t.fill(0);
      for (const j of this.targetIdx) t[j] = 1;
      if (balanced) {
        const n = this.trained;
        for (let j = 0; j < k; j++) {
          const pos = this.labelCounts[j];
          this.posWeight[j] = soften(n / (2 * Math.max(1, pos)));
          this.negWeight[j] = soften(n / (2 * Math.max(1, n - pos)));
        }
      }
      sigmoidBinaryCrossEntropy(this.logits, k, t, weight, balanced ? this.posWeight : null, balanced ? this.negWeight : null, this.probs, this.dlogits, this.result);
    }
  }

  private accumulate(): void {
    this.model.backward(this.xn, this.dlogits);
    this.batchObjective += this.result[1];
    this.batchLoss += this.result[0];
    this.batchCount++;
  }

  /** One optimizer step on the mean of the pending batch, or a counted skip if anything is non-finite. */
  private step(): void {
    const n = this.batchCount;
    const inv = 1 / n;
    const tensors = this.model.tensors;
    const objective = this.batchObjective * inv;
    const squared = gradSquaredNorm(tensors, inv);
    if (Number.isFinite(objective) && Number.isFinite(squared)) {
      const norm = Math.sqrt(squared);
      const cfg = this.configValue;
      const t = this.stepCount + 1;
      const lr = learningRateAt(t - this.scheduleOrigin, cfg);
      const gradScale = inv * clipFactor(norm, cfg.maxGradNorm);
      if (cfg.optimizer === "adamw") {
        adamwStep(tensors, t, this.labelBirth, gradScale, { lr, beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.epsilon, weightDecay: cfg.weightDecay });
      } else {
        sgdStep(tensors, gradScale, { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
      }
      this.stepCount = t;
      this.lastGradNormValue = norm;
      const batchLoss = this.batchLoss * inv;
      this.runningLossValue = Number.isNaN(this.runningLossValue) ? batchLoss : (1 - RUNNING_LOSS_ALPHA) * this.runningLossValue + RUNNING_LOSS_ALPHA * batchLoss;
    } else {
      this.skipped++;
    }
    for (const tensor of tensors) tensor.grad.fill(0);
    this.batchCount = 0;
    this.batchObjective = 0;
    this.batchLoss = 0;
  }

  private registerLabel(label: string, birth: number, count: number): number {
    const index = this.labelList.length;
    this.labelList.push(label);
    this.labelIndex.set(label, index);
    this.labelBirth.push(birth);
    this.labelCounts.push(count);
    this.labelsView = Object.freeze(this.labelList.slice());
    return index;
  }

  private resizeScratch(): void {
    const k = this.labelList.length;
    if (this.logits.length === k) return;
    this.logits = new Float64Array(k);
    this.probs = new Float64Array(k);
    this.dlogits = new Float64Array(k);
    this.targets = new Uint8Array(k);
    this.posWeight = new Float64Array(k);
    this.negWeight = new Float64Array(k);
  }
}

/**
 * 'balanced' weight of a multiclass example whose label has `count` training examples (this one included):
 * n / (K · count), n = training examples so far, K = labels seen at least once (scikit-learn's "balanced"
 * computed on the prefix of the stream). Averages to 1 over the examples seen.
 * Multilabel uses the same rule per label as a binary problem: a positive term weighs n / (2 · pos_j), a
 * negative one n / (2 · (n − pos_j)) (counts floored at 1).
 */
export function classWeight(n: number, labelsSeen: number, count: number): number {
  return n / (Math.max(1, labelsSeen) * Math.max(1, count));
}

function validateSpec(spec: HeadSpec): void {
  if (spec.type !== "multiclass" && spec.type !== "multilabel") throw new ConfigError("type", `must be multiclass or multilabel, got ${String(spec.type)}`);
  if (spec.architecture !== "linear" && spec.architecture !== "mlp") {
    throw new ConfigError("architecture", `must be linear or mlp, got ${String(spec.architecture)}`);
  }
  if (!Number.isInteger(spec.inputDim) || spec.inputDim < 1 || spec.inputDim > MAX_INPUT_DIM) {
    throw new ConfigError("inputDim", `must be an integer in [1, ${MAX_INPUT_DIM}], got ${spec.inputDim}`);
  }
  if (!Array.isArray(spec.labels)) throw new ConfigError("labels", "must be an array of strings");
  const seen = new Set<string>();
  for (const label of spec.labels as readonly unknown[]) {
    if (typeof label !== "string" || label.length === 0) throw new ConfigError("labels", "labels must be non-empty strings");
    if (seen.has(label)) throw new ConfigError("labels", `duplicate label "${label}"`);
    seen.add(label);
  }
  if (seen.size === 0 && !spec.allowNewLabels) throw new ConfigError("labels", "a head without labels must allow new labels");
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (const x of a) if (!b.includes(x)) return false;
  return true;
}

function allFinite(a: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function isUsableFeatures(features: ArrayLike<number>, dim: number): boolean {
  if (features === null || typeof features !== "object" || features.length !== dim) return false;
  for (let i = 0; i < dim; i++) if (!Number.isFinite(features[i])) return false;
  return true;
}

function int(value: unknown, name: string, lo: number, hi: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < lo || value > hi) throw new StateFormatError(`bad ${name}`);
  return value;
}

function intArray(value: unknown, name: string, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length) throw new StateFormatError(`bad ${name}`);
  return value.map((v) => int(v, name, 0, Number.MAX_SAFE_INTEGER));
}

function stringArray(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw new StateFormatError(`bad ${name}`);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of value as unknown[]) {
    if (typeof v !== "string" || v.length === 0 || seen.has(v)) throw new StateFormatError(`bad ${name}`);
    seen.add(v);
    out.push(v);
  }
  return out;
}
