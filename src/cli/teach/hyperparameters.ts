import type { MessageInitShape } from "@bufbuild/protobuf";
import { Pooling } from "../../gen/bertd/v1/encoder_pb.js";
import { Architecture, ClassWeighting, HeadType, Optimizer, Promotion, Schedule, StartFrom, type AdaptConfigSchema, type HyperparametersSchema } from "../../gen/bertd/v1/heads_pb.js";
import { type OptionSpec, type Values, UsageError, choiceOption, numberOption } from "../command.js";

type Hyperparameters = MessageInitShape<typeof HyperparametersSchema>;
type NumericField = "learningRate" | "batchSize" | "warmupSteps" | "decaySteps" | "minLearningRateRatio" | "weightDecay" | "maxGradNorm" | "momentum" | "beta1" | "beta2" | "epsilon" | "replayPasses" | "holdoutFraction" | "hiddenSize";

/** Each numeric flag and the Hyperparameters field it sets (the server checks ranges and names the field). */
const NUMERIC: readonly { flag: string; field: NumericField; integer: boolean; help: string; alias?: string }[] = [
  { flag: "learning-rate", field: "learningRate", integer: false, help: "peak learning rate (default 0.002)" },
  { flag: "batch-size", field: "batchSize", integer: true, help: "examples per optimizer step (default 32)" },
  { flag: "warmup-steps", field: "warmupSteps", integer: true, help: "linear warmup steps (default 10)" },
  { flag: "decay-steps", field: "decaySteps", integer: true, help: "length of the decay after warmup (default 500)" },
  { flag: "min-learning-rate-ratio", field: "minLearningRateRatio", integer: false, help: "floor of the decay, × learning rate (default 0.1)" },
  { flag: "weight-decay", field: "weightDecay", integer: false, help: "decoupled weight decay (default 0.01)" },
  { flag: "max-grad-norm", field: "maxGradNorm", integer: false, help: "global gradient-norm clipping, 0 = off (default 1.0); alias --clip-norm", alias: "clip-norm" },
  { flag: "momentum", field: "momentum", integer: false, help: "SGD momentum (default 0.9)" },
  { flag: "beta1", field: "beta1", integer: false, help: "AdamW beta1 (default 0.9)" },
  { flag: "beta2", field: "beta2", integer: false, help: "AdamW beta2 (default 0.999)" },
  { flag: "epsilon", field: "epsilon", integer: false, help: "AdamW epsilon (default 1e-8)" },
  { flag: "replay-passes", field: "replayPasses", integer: true, help: "shuffled passes over every logged example at commit, like epochs (default 3); alias --passes", alias: "passes" },
  { flag: "holdout-fraction", field: "holdoutFraction", integer: false, help: "share of examples held out for evaluation (default 0.1)" },
  { flag: "hidden-size", field: "hiddenSize", integer: true, help: "MLP hidden units (default 256)" },
];

const OPTIMIZERS = { adamw: Optimizer.ADAMW, sgd: Optimizer.SGD } as const;
const SCHEDULES = { constant: Schedule.CONSTANT, linear: Schedule.LINEAR, cosine: Schedule.COSINE } as const;
const WEIGHTINGS = { none: ClassWeighting.NONE, balanced: ClassWeighting.BALANCED, "sqrt-balanced": ClassWeighting.SQRT_BALANCED } as const;
const HEAD_TYPES = { multiclass: HeadType.MULTICLASS, multilabel: HeadType.MULTILABEL, token: HeadType.TOKEN } as const;
const ARCHITECTURES = { linear: Architecture.LINEAR, mlp: Architecture.MLP } as const;
// if_better too, as bertd heads policy and the JSON outputs spell it.
const PROMOTIONS = { always: Promotion.ALWAYS, "if-better": Promotion.IF_BETTER, if_better: Promotion.IF_BETTER, never: Promotion.NEVER } as const;
const STARTS = { scratch: StartFrom.SCRATCH, active: StartFrom.ACTIVE } as const;
const POOLINGS = { cls: Pooling.CLS, mean: Pooling.MEAN, max: Pooling.MAX, pooler: Pooling.POOLER } as const;

const keys = <T extends object>(table: T): (keyof T & string)[] => Object.keys(table) as (keyof T & string)[];

export const HEAD_OPTIONS: Record<string, OptionSpec> = {
  type: { type: "string", value: "T", help: "multiclass (one label per example, default), multilabel, or token (words and one BIO tag per word)" },
  architecture: { type: "string", value: "A", help: "linear (default) or mlp" },
  pooling: { type: "string", value: "MODE", help: "cls, mean, max or pooler (default: the model's)" },
  promotion: { type: "string", value: "P", help: "always, if-better (default: when holdout accuracy is not worse) or never" },
  "start-from": { type: "string", value: "S", help: "scratch or active (default: the active version when there is one)" },
  "allow-new-labels": { type: "boolean", help: "let the head learn labels it has not seen" },
  optimizer: { type: "string", value: "O", help: "adamw (default) or sgd" },
  schedule: { type: "string", value: "S", help: "constant, linear (default) or cosine" },
  "class-weighting": { type: "string", value: "W", help: "none (default), balanced or sqrt-balanced (milder; for BIO tags)" },
  seed: { type: "string", value: "N", help: "initialisation, shuffling and holdout seed (default 0)" },
  ...Object.fromEntries(
    NUMERIC.flatMap((n) => [[n.flag, { type: "string", value: n.integer ? "N" : "X", help: n.help }] as const, ...(n.alias ? [[n.alias, { type: "string", value: n.integer ? "N" : "X", help: `same as --${n.flag}` }] as const] : [])]),
  ),
};

/** The AdaptConfig fields the flags set, besides head, labels and progress_every. */
export function adaptConfigFromFlags(values: Values): MessageInitShape<typeof AdaptConfigSchema> {
  const hyperparameters: Hyperparameters = {};
  for (const n of NUMERIC) {
    const main = numberOption(values, n.flag, { integer: n.integer, min: 0 });
    const alias = n.alias ? numberOption(values, n.alias, { integer: n.integer, min: 0 }) : undefined;
    if (main !== undefined && alias !== undefined) throw new UsageError(`--${n.flag} and --${n.alias} are the same option: give one`);
    const value = main ?? alias;
    if (value !== undefined) hyperparameters[n.field] = value;
  }
  const seed = numberOption(values, "seed", { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  if (seed !== undefined) hyperparameters.seed = BigInt(seed);
  const optimizer = choiceOption(values, "optimizer", keys(OPTIMIZERS));
  if (optimizer) hyperparameters.optimizer = OPTIMIZERS[optimizer];
  const schedule = choiceOption(values, "schedule", keys(SCHEDULES));
  if (schedule) hyperparameters.schedule = SCHEDULES[schedule];
  const weighting = choiceOption(values, "class-weighting", keys(WEIGHTINGS));
  if (weighting) hyperparameters.classWeighting = WEIGHTINGS[weighting];
  const type = choiceOption(values, "type", keys(HEAD_TYPES));
  const architecture = choiceOption(values, "architecture", keys(ARCHITECTURES));
  const promotion = choiceOption(values, "promotion", keys(PROMOTIONS));
  const startFrom = choiceOption(values, "start-from", keys(STARTS));
  const pooling = choiceOption(values, "pooling", keys(POOLINGS));
  return {
    type: type ? HEAD_TYPES[type] : HeadType.UNSPECIFIED,
    architecture: architecture ? ARCHITECTURES[architecture] : Architecture.UNSPECIFIED,
    promotion: promotion ? PROMOTIONS[promotion] : Promotion.UNSPECIFIED,
    startFrom: startFrom ? STARTS[startFrom] : StartFrom.UNSPECIFIED,
    pooling: pooling ? POOLINGS[pooling] : Pooling.UNSPECIFIED,
    allowNewLabels: values["allow-new-labels"] === true,
    hyperparameters,
  };
}
