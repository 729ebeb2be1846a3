import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { AdaptRun, type AdaptDeps, type AdaptSettings, type IncomingExample, type Progress } from "../adaptation/adapt-run.js";
import type { HeadRegistry } from "../adaptation/head-registry.js";
import type { Encoder } from "../core/encoder.js";
import { failedPrecondition, invalidArgument, notFound, unavailable } from "../core/errors.js";
import { LOGITS, PoolingMode } from "../core/pooling.js";
import type { EvalMetrics, TrainConfig } from "../heads/index.js";
import { ClassifyResponseSchema, Pooling, type ClassifyRequest } from "../gen/bertd/v1/encoder_pb.js";
import {
  AdaptConfigSchema,
  AdaptResponseSchema,
  Architecture,
  ClassWeighting,
  DeleteHeadResponseSchema,
  EvalMetricsSchema,
  GetHeadResponseSchema,
  HeadType,
  ListHeadsResponseSchema,
  Optimizer,
  Promotion,
  Schedule,
  SetActiveVersionResponseSchema,
  StartFrom,
  type AdaptConfig,
  type AdaptRequest,
  type AdaptResponse,
  type DeleteHeadRequest,
  type GetHeadRequest,
  type HeadSummary,
  type SetActiveVersionRequest,
} from "../gen/bertd/v1/heads_pb.js";
import type { HeadRecord } from "../store/head-store.js";
import { fromBinary } from "@bufbuild/protobuf";
import type { CallContext, CallLogger } from "./calls.js";
import { poolingOf, truncationOf } from "./encoder-service.js";
import { toStatus } from "./status.js";

export interface HeadsServiceDeps {
  readonly adapt: () => AdaptDeps | undefined;
  readonly calls: CallLogger;
  readonly onActiveChanged?: (head: string, version: number) => void;
}

/** Examples processed per chunk: logged in one transaction, embedded in one submission. */
const CHUNK = 64;

export function headsService(deps: HeadsServiceDeps): UntypedServiceImplementation {
  const ready = (): AdaptDeps => {
    const adapt = deps.adapt();
    if (!adapt) throw unavailable("the model is still loading: retry shortly");
    return adapt;
  };

  return {
    Adapt: (call: ServerDuplexStream<AdaptRequest, AdaptResponse>): void => {
      const started = deps.calls.started();
      const context = deps.calls.context("Adapt", call);
      const inbox: AdaptRequest[] = [];
      let ended = false;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        wake?.();
        wake = undefined;
      };
      call.on("data", (message: AdaptRequest) => {
        inbox.push(message);
        if (inbox.length >= 4 * CHUNK) call.pause();
        notify();
      });
      call.on("end", () => {
        ended = true;
        notify();
      });
      call.on("error", () => {});
      context.signal.addEventListener("abort", notify);
      const next = async (): Promise<AdaptRequest | undefined> => {
        while (inbox.length === 0 && !ended && !context.signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
        if (context.signal.aborted) return undefined;
        if (inbox.length < CHUNK) call.resume();
        return inbox.shift();
      };

      let run: AdaptRun | undefined;
      const loop = async (): Promise<Record<string, unknown>> => {
        const first = await next();
        if (!first) throw invalidArgument("the stream ended before its first message, which must be a config");
        if (first.request.case !== "config") throw invalidArgument(`the first message must be a config; got ${first.request.case ?? "an empty message"}`);
        const adapt = ready();
        run = await AdaptRun.open(adapt, settingsOf(first.request.value, adapt.encoder));
        const progressEvery = first.request.value.progressEvery || 100;
        let sinceProgress = 0;
        let commits = 0;
        const pending: IncomingExample[] = [];
        const flush = async (): Promise<void> => {
          if (pending.length === 0) return;
          const chunk = pending.splice(0, pending.length);
          await run!.add(chunk, context.signal);
          sinceProgress += chunk.length;
          if (sinceProgress >= progressEvery) {
            sinceProgress = 0;
            call.write(progressMessage(run!.progress()));
          }
        };
        for (;;) {
          const message = await next();
          if (context.signal.aborted) return { head: run.settings.head, cancelled: true };
          if (!message) break;
          switch (message.request.case) {
            case "example": {
              const { id, text, labels, weight } = message.request.value;
              pending.push({ id, text, labels, weight });
              if (pending.length >= CHUNK || inbox.length === 0) await flush();
              break;
            }
            case "commit":
              await flush();
              await commit(run);
              commits++;
              break;
            case "config":
              throw invalidArgument("config may only be the first message of an Adapt stream");
            default:
              throw invalidArgument("an AdaptRequest must set config, example or commit");
          }
        }
        await flush();
        // A client's cancel can reach us as end-of-stream first and as cancellation just after:
        // let it arrive before treating the end as a commit.
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (context.signal.aborted) return { head: run.settings.head, cancelled: true };
        if (run.hasUncommitted || commits === 0) await commit(run);
        return { head: run.settings.head };
      };
      const commit = async (current: AdaptRun): Promise<void> => {
        call.write(progressMessage(current.progress()));
        const committed = await current.commit(context.signal);
        call.write(
          create(AdaptResponseSchema, {
            response: {
              case: "committed",
              value: { version: committed.version, holdout: metricsMessage(committed.holdout), promoted: committed.promoted, promotionReason: committed.reason },
            },
          }),
        );
      };
      loop().then(
        (fields) => {
          run?.release();
          deps.calls.finished(context, started, undefined, fields);
          if (!context.signal.aborted) call.end();
        },
        (error: unknown) => {
          run?.release();
          deps.calls.finished(context, started, error, { head: run?.settings.head });
          if (!context.signal.aborted) {
            const { code, details } = toStatus(error);
            // grpc-js turns an "error" event on a server stream into the call's final status.
            call.emit("error", Object.assign(new Error(details), { code, details }));
          }
        },
      );
    },

    ListHeads: deps.calls.unary("ListHeads", async () => {
      const { store } = ready();
      const heads = await store.listHeads();
      const summaries = await Promise.all(heads.map((head) => summary(ready(), head)));
      const classifier = ready().encoder.info.classifier;
      if (classifier) {
        summaries.unshift({
          $typeName: "bertd.v1.HeadSummary",
          name: MODEL_HEAD,
          type: classifier.multilabel ? HeadType.MULTILABEL : HeadType.MULTICLASS,
          labels: [...classifier.labels],
          activeVersion: 1,
          latestVersion: 1,
          readOnly: true,
        });
      }
      return { response: create(ListHeadsResponseSchema, { heads: summaries }) };
    }),

    GetHead: deps.calls.unary("GetHead", async (request: GetHeadRequest) => {
      const adapt = ready();
      const head = await adapt.store.getHead(request.head);
      if (!head) throw notFound(`head "${request.head}" does not exist`);
      const versions = await adapt.store.listVersions(head.name);
      return {
        response: create(GetHeadResponseSchema, {
          head: await summary(adapt, head),
          modelHash: head.modelHash,
          versions: versions.map((v) => ({
            version: v.version,
            holdout: metricsMessage(v.metrics),
            config: fromBinary(AdaptConfigSchema, v.config),
            createdAtMs: BigInt(v.createdAtMs),
            trainedExamples: BigInt(v.trainedExamples),
            steps: BigInt(v.steps),
            labels: [...v.labels],
          })),
        }),
      };
    }),

    DeleteHead: deps.calls.unary("DeleteHead", async (request: DeleteHeadRequest) => {
      const adapt = ready();
      if (adapt.busy.has(request.head)) throw invalidArgument(`head "${request.head}" is being adapted: end its Adapt stream first`);
      if (!(await adapt.store.deleteHead(request.head))) throw notFound(`head "${request.head}" does not exist`);
      adapt.registry.forget(request.head);
      return { response: create(DeleteHeadResponseSchema, {}), fields: { head: request.head } };
    }),

    SetActiveVersion: deps.calls.unary("SetActiveVersion", async (request: SetActiveVersionRequest) => {
      const adapt = ready();
      if (request.version === 0) throw invalidArgument("version must be ≥ 1");
      const previous = await adapt.store.setActiveVersion(request.head, request.version);
      await adapt.registry.refresh(request.head);
      deps.onActiveChanged?.(request.head, request.version);
      return {
        response: create(SetActiveVersionResponseSchema, { previousVersion: previous, activeVersion: request.version }),
        fields: { head: request.head, version: request.version, previous },
      };
    }),
  };
}

/** Encoder.Classify: the head's features through its immutable snapshot. */
export function classifyHandler(deps: { encoder: () => Encoder | undefined; registry: () => HeadRegistry | undefined; calls: CallLogger }) {
  return deps.calls.unary("Classify", async (request: ClassifyRequest, context) => {
    const encoder = deps.encoder();
    const registry = deps.registry();
    if (!encoder || !registry) throw unavailable("the model is still loading: retry shortly");
    if (!request.head) throw invalidArgument("head is empty: name the head to classify with");
    if (request.head === MODEL_HEAD) return classifyWithModel(encoder, request, context);
    const head = await registry.get(request.head, request.version);
    if (request.minVersion > 0 && head.version < request.minVersion) {
      throw failedPrecondition(`head "${request.head}" serves version ${head.version}, older than min_version ${request.minVersion}`);
    }
    const { pooled, inputTokens: tokens, times } = await encoder.encode(request.inputs, head.pooling, truncationOf(request.truncation), {
      deadline: context.deadline,
      signal: context.signal,
    });
    const inferred = performance.now();
    const predictions = pooled.map((features) => ranked(head.snapshot.labels, head.snapshot.predict(features), request.topK));
    deps.calls.stages(context, { ...times, head: [inferred, performance.now()] });
    return {
      response: create(ClassifyResponseSchema, { predictions, headVersion: head.version, usage: { inputTokens: tokens } }),
      fields: { head: request.head, version: head.version, inputCount: request.inputs.length, inputTokens: tokens },
    };
  });
}

function metricsMessage(m: EvalMetrics): MessageInitShape<typeof EvalMetricsSchema> {
  return { examples: BigInt(m.examples), accuracy: m.accuracy, macroF1: m.macroF1, logLoss: m.logLoss };
}

function progressMessage(p: Progress): AdaptResponse {
  return create(AdaptResponseSchema, {
    response: {
      case: "progress",
      value: {
        accepted: BigInt(p.accepted),
        duplicate: BigInt(p.duplicate),
        rejected: BigInt(p.rejected),
        rejections: p.rejections,
        steps: BigInt(p.steps),
        learningRate: p.learningRate,
        runningLoss: p.runningLoss,
        prequentialAccuracy: p.prequentialAccuracy,
        holdout: metricsMessage(p.holdout),
        examplesPerSecond: p.examplesPerSecond,
        durableExamples: BigInt(p.durableExamples),
        lastDurableId: p.lastDurableId,
        skippedUpdates: BigInt(p.skippedUpdates),
      },
    },
  });
}

/** The read-only head of a model that ends in a classifier (config.json id2label, a `logits` output). */
export const MODEL_HEAD = "model";

async function classifyWithModel(encoder: Encoder, request: ClassifyRequest, context: CallContext) {
  const classifier = encoder.info.classifier;
  if (!classifier) throw notFound(`head "model" does not exist: the served model has no classifier (no logits output with id2label)`);
  if (request.version > 1) throw notFound(`head "model" has only version 1 (the model itself)`);
  const { pooled: logits, inputTokens: tokens } = await encoder.encode(request.inputs, LOGITS, truncationOf(request.truncation), {
    deadline: context.deadline,
    signal: context.signal,
  });
  const predictions = logits.map((row) => ranked(classifier.labels, classifier.multilabel ? sigmoid(row) : softmax(row), request.topK));
  return {
    response: create(ClassifyResponseSchema, { predictions, headVersion: 1, usage: { inputTokens: tokens } }),
    fields: { head: MODEL_HEAD, inputCount: request.inputs.length, inputTokens: tokens },
  };
}

function ranked(labels: readonly string[], scores: ArrayLike<number>, topK: number): { labels: { label: string; score: number }[] } {
  const k = topK > 0 ? Math.min(topK, labels.length) : labels.length;
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  return { labels: order.slice(0, k).map((i) => ({ label: labels[i], score: scores[i] })) };
}

function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

function sigmoid(row: ArrayLike<number>): Float64Array {
  return Float64Array.from(row, (x) => 1 / (1 + Math.exp(-x)));
}

async function summary(adapt: AdaptDeps, head: HeadRecord): Promise<HeadSummary> {
  const latest = head.latestVersion > 0 ? await adapt.store.loadVersion(head.name, head.latestVersion) : undefined;
  return {
    $typeName: "bertd.v1.HeadSummary",
    name: head.name,
    type: head.type === "multilabel" ? HeadType.MULTILABEL : HeadType.MULTICLASS,
    labels: latest ? [...latest.labels] : [],
    activeVersion: head.activeVersion,
    latestVersion: head.latestVersion,
    readOnly: false,
  };
}

/** The AdaptConfig in bertd's own terms; every enum and range checked, naming the field. */
export function settingsOf(config: AdaptConfig, encoder: Encoder): AdaptSettings {
  const type = pick("config.type", config.type, { [HeadType.UNSPECIFIED]: "multiclass", [HeadType.MULTICLASS]: "multiclass", [HeadType.MULTILABEL]: "multilabel" } as const);
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
    configBytes: toBinary(AdaptConfigSchema, create(AdaptConfigSchema, { ...config, pooling: requested as number as Pooling })),
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
