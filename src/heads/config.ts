/** Training hyperparameters of a task head: defaults, and validation that names the offending field. */

export type OptimizerName = "adamw" | "sgd";
export type ScheduleName = "constant" | "linear" | "cosine";
export type ClassWeighting = "none" | "balanced" | "sqrt_balanced";

export interface TrainConfig {
  /** AdamW (decoupled weight decay) or SGD with heavy-ball momentum (also decoupled weight decay). */
  readonly optimizer: OptimizerName;
  /** Peak learning rate, reached after warmup. (0, 10]. */
  readonly learningRate: number;
  /** Examples per optimizer step. 1..4096. */
  readonly batchSize: number;
  /** Steps of linear warmup: step t (1-based) ≤ warmupSteps uses learningRate × t / warmupSteps. */
  readonly warmupSteps: number;
  /** After warmup: constant, or linear/cosine decay over decaySteps down to minLearningRateRatio × learningRate. */
  readonly schedule: ScheduleName;
  /** Length of the decay in steps (≥ 1 unless schedule is constant); after it the rate stays at the floor. */
  readonly decaySteps: number;
  /** Floor of the decay as a fraction of learningRate. [0, 1]. */
  readonly minLearningRateRatio: number;
  /** Decoupled weight decay: each step multiplies weights (never biases) by 1 − lr·weightDecay. [0, 1]. */
  readonly weightDecay: number;
  /** Global-norm gradient clipping threshold; 0 = off. */
  readonly maxGradNorm: number;
  /** SGD momentum. [0, 1). */
  readonly momentum: number;
  /** AdamW first-moment decay. [0, 1). */
  readonly beta1: number;
  /** AdamW second-moment decay. [0, 1). */
  readonly beta2: number;
  /** AdamW denominator epsilon. (0, 1]. */
  readonly epsilon: number;
  /** Shuffled passes over the accepted training examples at commit (used by the caller: HeadTrainer.replay). 0..100. */
  readonly replayPasses: number;
  /** Fraction of examples held out for evaluation, by hash of the id (see isHoldout). [0, 0.9]. */
  readonly holdoutFraction: number;
  /** Seed of the initialisation, the replay shuffles and the holdout hash. Integer in [0, 2^53). */
  readonly seed: number;
  /**
   * 'balanced' weights each example's loss inversely to its label's frequency so far (see classWeight);
   * 'sqrt_balanced' by the square root of that weight, milder for long-tailed labels such as BIO tags.
   */
  readonly classWeighting: ClassWeighting;
  /** Hidden units of the MLP architecture (ignored by the linear one). 1..4096. */
  readonly hiddenSize: number;
}

/**
 * Defaults for the common case: a linear head on standardized frozen BERT embeddings (D 384..1024, a few to
 * a few dozen labels), examples streamed once (a few hundred to a few tens of thousands), then replayed at
 * commit. Measured on synthetic embedding-like data (18 classes, D 128..1024, low-rank class structure,
 * anisotropic and outlier dimensions, label noise) against an offline L-BFGS logistic regression with a tuned
 * L2 (bench/lib/logistic-regression.ts):
 *
 * - AdamW, lr 0.002. Adam moves every weight by up to ≈ lr per step whatever the gradient's scale, and
 *   embedding dimensions are strongly correlated, so a logit can move by ≈ lr·‖x̂‖₁ ≈ lr·0.8·D per step
 *   (≈ 0.6 at D = 384 and lr 0.002, ≈ 6 at lr 0.02). 0.001–0.003 came within ~1 point of the offline optimum
 *   after stream + replay at every size tried; 0.01–0.02 was 3–8 points worse (noisy, overfits on replay).
 *   Early accuracy does not suffer: from a zero start the argmax after a few steps is the same at any lr.
 * - batch 32: ~30 updates per 1,000 streamed examples with little step noise; 16 and 64 measured the same.
 * - warmup 10 steps (320 examples): a short ramp while Adam's second-moment estimate is young; its effect was
 *   within noise (0–50 steps), so it is kept short so as not to waste a short stream.
 * - linear decay over 500 steps to 0.1 × lr: a one-pass stream of ~10k examples is ~300 steps at batch 32,
 *   so the decay spans that pass and the start of the replay, and the replay ends near the floor, which
 *   averages out step noise (a constant lr was 2–3 points worse; horizons 300–1,000 were within ~0.5 point,
 *   3,000 clearly worse). Longer streams spend their tail at 0.0002, which still learns, slowly.
 * - weight decay 0.01 (decoupled, scaled by the scheduled lr: in effect very light) and clipping at norm 1.0:
 *   protection against absurd weights or a single absurd example rather than tuning knobs; 0–1 measured the same.
 * - replay 3 passes: +1–3 points over the stream alone on ≥ 5k examples; 5 passes add ≤ 0.5 point. On small
 *   training sets (≲ 2k at D = 384) replay can overfit — the holdout evaluation is the judge.
 * - holdout 10%: ~1k holdout examples for a 10k stream (±1.5 points of accuracy at 1σ).
 */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = Object.freeze({
  optimizer: "adamw",
  learningRate: 0.002,
  batchSize: 32,
  warmupSteps: 10,
  schedule: "linear",
  decaySteps: 500,
  minLearningRateRatio: 0.1,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  replayPasses: 3,
  holdoutFraction: 0.1,
  seed: 0,
  classWeighting: "none",
  hiddenSize: 256,
});

/** A hyperparameter out of range; `field` is the TrainConfig key (or a HeadSpec key). */
export class ConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "ConfigError";
    this.field = field;
  }
}

const MAX_STEPS = 100_000_000;

type Check = (value: unknown, field: string) => void;

function finiteNumber(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new ConfigError(field, `must be a finite number, got ${String(value)}`);
  return value;
}

function range(lo: number, hi: number, opts: { loOpen?: boolean; hiOpen?: boolean; integer?: boolean } = {}): Check {
  return (value, field) => {
    const v = finiteNumber(value, field);
    if (opts.integer && !Number.isInteger(v)) throw new ConfigError(field, `must be an integer, got ${v}`);
    const okLo = opts.loOpen ? v > lo : v >= lo;
    const okHi = opts.hiOpen ? v < hi : v <= hi;
    if (!okLo || !okHi) {
      throw new ConfigError(field, `must be in ${opts.loOpen ? "(" : "["}${lo}, ${hi}${opts.hiOpen ? ")" : "]"}, got ${v}`);
    }
  };
}

function oneOf(choices: readonly string[]): Check {
  return (value, field) => {
    if (typeof value !== "string" || !choices.includes(value)) {
      throw new ConfigError(field, `must be one of ${choices.join(", ")}, got ${String(value)}`);
    }
  };
}

const CHECKS: { readonly [K in keyof TrainConfig]: Check } = {
  optimizer: oneOf(["adamw", "sgd"]),
  learningRate: range(0, 10, { loOpen: true }),
  batchSize: range(1, 4096, { integer: true }),
  warmupSteps: range(0, MAX_STEPS, { integer: true }),
  schedule: oneOf(["constant", "linear", "cosine"]),
  decaySteps: range(0, MAX_STEPS, { integer: true }),
  minLearningRateRatio: range(0, 1),
  weightDecay: range(0, 1),
  maxGradNorm: range(0, 1e9),
  momentum: range(0, 1, { hiOpen: true }),
  beta1: range(0, 1, { hiOpen: true }),
  beta2: range(0, 1, { hiOpen: true }),
  epsilon: range(0, 1, { loOpen: true }),
  replayPasses: range(0, 100, { integer: true }),
  holdoutFraction: range(0, 0.9),
  seed: range(0, Number.MAX_SAFE_INTEGER, { integer: true }),
  classWeighting: oneOf(["none", "balanced", "sqrt_balanced"]),
  hiddenSize: range(1, 4096, { integer: true }),
};

/**
 * Fills unset (missing or undefined) fields from DEFAULT_TRAIN_CONFIG and validates every field, throwing
 * ConfigError naming the first bad one. Unknown keys with a defined value are errors too (they are typos).
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> = {}): TrainConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_TRAIN_CONFIG };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(CHECKS, key)) throw new ConfigError(key, "unknown hyperparameter");
    merged[key] = value;
  }
  for (const key of Object.keys(CHECKS) as (keyof TrainConfig)[]) CHECKS[key](merged[key], key);
  const config = merged as unknown as TrainConfig;
  if (config.schedule !== "constant" && config.decaySteps < 1) {
    throw new ConfigError("decaySteps", `must be ≥ 1 for the ${config.schedule} schedule (use schedule 'constant' for no decay)`);
  }
  if (config.learningRate * config.weightDecay >= 1) {
    throw new ConfigError("weightDecay", `learningRate × weightDecay must be < 1, got ${config.learningRate * config.weightDecay}`);
  }
  return Object.freeze(config);
}
