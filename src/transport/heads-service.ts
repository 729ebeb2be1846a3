import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { setImmediate as nextTurn } from "node:timers/promises";
import { AdaptRun, type AdaptDeps, type IncomingExample, type Progress } from "../adaptation/adapt-run.js";
import type { RateLimiter } from "../adaptation/limits.js";
import { invalidArgument, notFound, resourceExhausted, unavailable } from "../core/errors.js";
import type { EvalMetrics } from "../heads/index.js";
import {
  AdaptConfigSchema,
  AdaptResponseSchema,
  DeleteHeadResponseSchema,
  EvalMetricsSchema,
  GetHeadResponseSchema,
  HeadType,
  ListHeadsResponseSchema,
  SetActiveVersionResponseSchema,
  type AdaptRequest,
  type AdaptResponse,
  type DeleteHeadRequest,
  type GetHeadRequest,
  type HeadSummary,
  type SetActiveVersionRequest,
} from "../gen/bertd/v1/heads_pb.js";
import type { HeadRecord } from "../store/head-store.js";
import { settingsOf } from "./adapt-config.js";
import type { CallLogger } from "./calls.js";
import { MODEL_HEAD } from "./classify-handler.js";
import { toStatus } from "./status.js";

export interface HeadsServiceDeps {
  readonly adapt: () => AdaptDeps | undefined;
  readonly calls: CallLogger;
  readonly onActiveChanged?: (head: string, version: number) => void;
  /** Aborted when the server starts draining: open Adapt streams stop reading, report and end. */
  readonly draining?: AbortSignal;
  /** Adapt streams open at once, server-wide (--max-adapt-streams). */
  readonly maxAdaptStreams?: number;
  /** Adapt examples per second per API key (--adapt-examples-per-second). */
  readonly exampleRate?: RateLimiter;
}

/** Whose budget an Adapt example spends: its key's, or everyone's with --auth none. */
const ANONYMOUS = "anonymous";

/** Examples processed per chunk: logged in one transaction, embedded in one submission. */
const CHUNK = 64;

export function headsService(deps: HeadsServiceDeps): UntypedServiceImplementation {
  const ready = (): AdaptDeps => {
    const adapt = deps.adapt();
    if (!adapt) throw unavailable("the model is still loading: retry shortly");
    return adapt;
  };
  let openStreams = 0;

  return {
    Adapt: (call: ServerDuplexStream<AdaptRequest, AdaptResponse>): void => {
      const started = deps.calls.started();
      const context = deps.calls.context("/bertd.v1.Heads/Adapt", call);
      openStreams++;
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
      deps.draining?.addEventListener("abort", notify);
      const draining = (): boolean => deps.draining?.aborted === true;
      const next = async (): Promise<AdaptRequest | undefined> => {
        while (inbox.length === 0 && !ended && !context.signal.aborted && !draining() && !run?.lease.lost.aborted) await new Promise<void>((resolve) => (wake = resolve));
        if (context.signal.aborted || draining()) return undefined;
        if (inbox.length < CHUNK) call.resume();
        return inbox.shift();
      };

      let run: AdaptRun | undefined;
      const rateKey = context.keyName ?? ANONYMOUS;
      const loop = async (): Promise<Record<string, unknown>> => {
        const maxStreams = deps.maxAdaptStreams;
        if (maxStreams !== undefined && openStreams > maxStreams) {
          throw resourceExhausted(`${maxStreams} Adapt streams are open, the most this server takes at once (--max-adapt-streams): retry when one ends`);
        }
        const first = await next();
        if (!first) throw invalidArgument("the stream ended before its first message, which must be a config");
        if (first.request.case !== "config") throw invalidArgument(`the first message must be a config; got ${first.request.case ?? "an empty message"}`);
        const adapt = ready();
        run = await AdaptRun.open(adapt, settingsOf(first.request.value, adapt.encoder), context.signal);
        const lost = run.lease.lost;
        lost.addEventListener("abort", notify);
        const log = await run.logState();
        call.write(
          create(AdaptResponseSchema, {
            response: { case: "started", value: { loggedExamples: BigInt(log.loggedExamples), lastLoggedId: log.lastLoggedId, activeVersion: log.activeVersion } },
          }),
        );
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
          lost.throwIfAborted();
          if (!message) break;
          switch (message.request.case) {
            case "example": {
              const { id, text, labels, weight, words, tags } = message.request.value;
              if (deps.exampleRate && !deps.exampleRate.take(rateKey)) {
                run.reject(id, rateLimited(rateKey, deps.exampleRate.perSecond));
                break;
              }
              pending.push({ id, text, labels, weight, words, tags });
              // Examples already received arrive over the next turns of the event loop: let them join
              // this chunk, so a stream costs one durable transaction (fsync) per chunk, not per example.
              if (pending.length < CHUNK && inbox.length === 0) await nextTurn();
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
        if (draining()) throw shuttingDown(run);
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
      // The draining signal is the server's: a listener left on it would keep this stream (its run, trainer and features) alive.
      const detach = (): void => deps.draining?.removeEventListener("abort", notify);
      loop().then(
        async (fields) => {
          openStreams--;
          detach();
          await run?.release();
          deps.calls.finished(context, started, undefined, fields);
          if (!context.signal.aborted) call.end();
        },
        async (error: unknown) => {
          openStreams--;
          detach();
          await run?.release();
          deps.calls.finished(context, started, error, { head: run?.settings.head });
          if (!context.signal.aborted) {
            // The last word on what is durable, whatever ended the stream.
            if (run) call.write(progressMessage(run.progress()));
            const { code, details } = toStatus(error);
            // grpc-js turns an "error" event on a server stream into the call's final status.
            call.emit("error", Object.assign(new Error(details), { code, details }));
          }
        },
      );
    },

    ListHeads: deps.calls.unary("/bertd.v1.Heads/ListHeads", async () => {
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

    GetHead: deps.calls.unary("/bertd.v1.Heads/GetHead", async (request: GetHeadRequest) => {
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

    DeleteHead: deps.calls.unary("/bertd.v1.Heads/DeleteHead", async (request: DeleteHeadRequest) => {
      const adapt = ready();
      if (!(await adapt.store.deleteHead(request.head))) throw notFound(`head "${request.head}" does not exist`);
      adapt.registry.forget(request.head);
      return { response: create(DeleteHeadResponseSchema, {}), fields: { head: request.head } };
    }),

    SetActiveVersion: deps.calls.unary("/bertd.v1.Heads/SetActiveVersion", async (request: SetActiveVersionRequest) => {
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

function shuttingDown(run: AdaptRun): Error {
  const { durableExamples, lastDurableId } = run.durability;
  return unavailable(
    `the server is shutting down: ${durableExamples} examples of this stream are durable (last "${lastDurableId}") and uncommitted training was not committed; ` +
      "reopen the stream (the log is kept) and commit",
  );
}

function rateLimited(key: string, perSecond: number): string {
  const whose = key === ANONYMOUS ? "all clients together (--auth none)" : `API key "${key}"`;
  return `rate limited: ${whose} may send ${perSecond} Adapt examples per second (--adapt-examples-per-second); not logged, send it again later`;
}

function metricsMessage(m: EvalMetrics): MessageInitShape<typeof EvalMetricsSchema> {
  return {
    examples: BigInt(m.examples),
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    logLoss: m.logLoss,
    spanPrecision: m.spanPrecision ?? 0,
    spanRecall: m.spanRecall ?? 0,
    spanF1: m.spanF1 ?? 0,
  };
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
        prequentialSpanF1: p.prequentialSpanF1,
        holdout: metricsMessage(p.holdout),
        examplesPerSecond: p.examplesPerSecond,
        durableExamples: BigInt(p.durableExamples),
        lastDurableId: p.lastDurableId,
        skippedUpdates: BigInt(p.skippedUpdates),
      },
    },
  });
}

async function summary(adapt: AdaptDeps, head: HeadRecord): Promise<HeadSummary> {
  const latest = head.latestVersion > 0 ? await adapt.store.loadVersion(head.name, head.latestVersion) : undefined;
  return {
    $typeName: "bertd.v1.HeadSummary",
    name: head.name,
    type: { multiclass: HeadType.MULTICLASS, multilabel: HeadType.MULTILABEL, token: HeadType.TOKEN }[head.type],
    labels: latest ? [...latest.labels] : [],
    activeVersion: head.activeVersion,
    latestVersion: head.latestVersion,
    readOnly: false,
  };
}
