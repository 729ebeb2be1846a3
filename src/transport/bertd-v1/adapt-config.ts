import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { AdaptSettings } from "../../adaptation/adapt-run.js";
import type { EncoderModel } from "../../core/encoder.js";
import { failedPrecondition, invalidArgument } from "../../core/errors.js";
import type { HeadPolicy, HeadStore } from "../../store/head-store.js";
import { PoolingMode } from "../../core/pooling.js";
import type { TrainConfig } from "../../heads/index.js";
import { Pooling } from "../../gen/bertd/v1/encoder_pb.js";
import { AdaptConfigSchema, Architecture, ClassWeighting, HeadType, Optimizer, Promotion, Schedule, StartFrom, type AdaptConfig } from "../../gen/bertd/v1/heads_pb.js";
import { poolingOf } from "./wire-enums.js";

/** The AdaptConfig in bertd's own terms; every enum and range checked, naming the field. */
export function settingsOf(config: AdaptConfig, encoder: EncoderModel): AdaptSettings {
  encoder.requireHiddenStates("Adapt");
  const type = pick("config.type", config.type, { [HeadType.UNSPECIFIED]: "multiclass", [HeadType.MULTICLASS]: "multiclass", [HeadType.MULTILABEL]: "multilabel", [HeadType.TOKEN]: "token" } as const);
  const startFrom = pick("config.start_from", config.startFrom, { [StartFrom.UNSPECIFIED]: "auto", [StartFrom.SCRATCH]: "scratch", [StartFrom.ACTIVE]: "active" } as const);
  const architecture = pick("config.architecture", config.architecture, { [Architecture.UNSPECIFIED]: "linear", [Architecture.LINEAR]: "linear", [Architecture.MLP]: "mlp" } as const);
  const promotion = pick("config.promotion", config.promotion, {
    [Promotion.UNSPECIFIED]: "if_better",
    [Promotion.ALWAYS]: "always",
    [Promotion.IF_BETTER]: "if_better",
    [Promotion.NEVER]: "never",
  } as const);
  const requested = poolingOf(config.pooling) ?? encoder.info.defaultPooling;
  if (!encoder.info.poolingModes.includes(requested)) throw invalidArgument("config.pooling POOLER is not available: the model has no pooler_output");
  const h = config.hyperparameters;
  const train: { -readonly [K in keyof TrainConfig]?: TrainConfig[K] } = {};
  if (h) {
    const optimizer = pick("config.hyperparameters.optimizer", h.optimizer, { [Optimizer.UNSPECIFIED]: undefined, [Optimizer.ADAMW]: "adamw", [Optimizer.SGD]: "sgd" } as const);
    const schedule = pick("config.hyperparameters.schedule", h.schedule, {
      [Schedule.UNSPECIFIED]: undefined,
      [Schedule.CONSTANT]: "constant",
      [Schedule.LINEAR]: "linear",
      [Schedule.COSINE]: "cosine",
    } as const);
    const weighting = pick("config.hyperparameters.class_weighting", h.classWeighting, {
      [ClassWeighting.UNSPECIFIED]: undefined,
      [ClassWeighting.NONE]: "none",
      [ClassWeighting.BALANCED]: "balanced",
      [ClassWeighting.SQRT_BALANCED]: "sqrt_balanced",
    } as const);
    if (optimizer) train.optimizer = optimizer;
    if (schedule) train.schedule = schedule;
    if (weighting) train.classWeighting = weighting;
    const numbers = ["learningRate", "batchSize", "warmupSteps", "decaySteps", "minLearningRateRatio", "weightDecay", "maxGradNorm", "momentum", "beta1", "beta2", "epsilon", "replayPasses", "holdoutFraction", "hiddenSize"] as const;
    for (const key of numbers) {
      const value = h[key];
      if (value !== undefined) (train as Record<string, number>)[key] = value;
    }
    if (h.seed !== undefined) {
      if (h.seed > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument("config.hyperparameters.seed must be below 2^53");
      train.seed = Number(h.seed);
    }
  }
  return {
    head: config.head,
    type,
    labels: config.labels,
    allowNewLabels: config.allowNewLabels,
    startFrom,
    architecture,
    pooling: requested,
    train,
    promotion,
    waitForLease: config.waitForLease,
    pair: config.pair,
    configBytes: toBinary(AdaptConfigSchema, create(AdaptConfigSchema, { ...config, pooling: requested as number as Pooling })),
  };
}

/**
 * What a continuous head trains with: the config of the version it continues from (the active one,
 * else the newest), starting from that version, promoting by the policy, never waiting for the lease.
 */
export function continuousSettings(store: HeadStore, encoder: EncoderModel): (head: string, policy: HeadPolicy) => Promise<AdaptSettings> {
  return async (head, policy) => {
    const record = await store.getHead(head);
    if (!record?.latestVersion) throw failedPrecondition(`head "${head}" has no version to continue from`);
    const version = await store.loadVersion(head, record.activeVersion || record.latestVersion);
    const settings = settingsOf(fromBinary(AdaptConfigSchema, version!.config), encoder);
    return { ...settings, head, startFrom: record.activeVersion ? "active" : "auto", promotion: policy.promotion, waitForLease: false };
  };
}

/** The pooling a stored version was trained with (from its stored AdaptConfig). */
export function poolingOfStoredConfig(defaultPooling: PoolingMode): (bytes: Uint8Array) => PoolingMode {
  return (bytes) => {
    const config = fromBinary(AdaptConfigSchema, bytes);
    return config.pooling === Pooling.UNSPECIFIED ? defaultPooling : (poolingOf(config.pooling) ?? PoolingMode.mean);
  };
}

function pick<V>(field: string, value: number, table: Record<number, V>): V {
  if (!(value in table)) throw invalidArgument(`${field}: unknown value ${value}`);
  return table[value];
}
