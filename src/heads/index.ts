/**
 * Task heads on frozen BERT embeddings: pure math, no I/O.
 *
 *   const t = HeadTrainer.create({ type: "multiclass", architecture: "linear", inputDim: 384, labels, allowNewLabels: true },
 *                                resolveTrainConfig({ learningRate: 0.02 }));   // or a Partial<TrainConfig>
 *   t.learn({ features, labels: ["games"], weight: 1 })  → { predicted, correct, loss } | { rejected: reason }
 *       test-then-train: the prediction uses parameters and normalizer from BEFORE the example; the example then
 *       joins the batch (config.batchSize), updates the feature normalizer and label counts; a full batch steps.
 *   t.flush()                       step on a partial batch
 *   t.replay(trainingExamples, n)   n shuffled passes (seeded PRNG in the state), same optimizer/schedule, then flush
 *   t.evaluate(holdoutExamples)     → { examples, accuracy, macroF1, logLoss } (definitions on HeadTrainer.evaluate)
 *   t.predict(features)             → Float64Array of probabilities in t.labels order
 *   t.freeze()                      → HeadSnapshot: immutable, predict-only, owns copies of everything
 *   t.serialize() / HeadTrainer.restore(bytes, { config?, restartSchedule?, resetProgress? })
 *                                   full state, float64-exact: A, serialize, restore, B ≡ A then B, bit for bit
 *   t.isFinite()                    never store or serve a head for which this is false
 *   t.stats                         steps, learningRate, runningLoss, prequentialAccuracy, recentAccuracy, skippedUpdates, …
 *   isHoldout(id, fraction, seed)   deterministic holdout split by MurmurHash3 of the id (holdout.ts); never train on these
 *
 * Types: multiclass (softmax + cross-entropy, exactly one label) and multilabel (a sigmoid + BCE per label, any
 * number of labels including none; predicted set = {p > 0.5}). Architectures: linear, or an MLP with one GELU
 * (tanh approximation) hidden layer of config.hiddenSize units. Parameters and optimizer state are float64.
 * Features are standardized with running (Welford) statistics updated only by learn().
 * Optimizers: AdamW (torch semantics, bias correction per output row from its creation) or SGD with heavy-ball
 * momentum; weight decay is DECOUPLED for both (θ ← θ·(1 − lr·wd)) and never touches biases. Global-norm
 * gradient clipping (maxGradNorm, 0 = off). Schedules: learningRateAt in schedules.ts.
 * Per-example weight multiplies its loss; the batch objective is the mean over the batch's examples of
 * weight × classWeight × loss. classWeighting 'balanced': classWeight in trainer.ts.
 * A batch whose objective or gradient norm is non-finite is dropped and counted in stats.skippedUpdates.
 */
export { ConfigError, DEFAULT_TRAIN_CONFIG, resolveTrainConfig } from "./config.js";
export type { ClassWeighting, OptimizerName, ScheduleName, TrainConfig } from "./config.js";
export { holdoutPosition, isHoldout, murmur3_32 } from "./holdout.js";
export { learningRateAt } from "./schedules.js";
export { HeadSnapshot, MULTILABEL_THRESHOLD } from "./snapshot.js";
export { StateFormatError } from "./state.js";
export { OUTSIDE, SpanCounts, isTag, spansOf } from "./tagging.js";
export type { WordSpan } from "./tagging.js";
export { classWeight, HeadTrainer } from "./trainer.js";
export type { ReplayResult, RestoreOptions, TrainerStats } from "./trainer.js";
export type { Architecture, EvalMetrics, HeadSpec, HeadType, LabelledExample, LearnOutcome, Rejected } from "./types.js";
