import { create, fromBinary } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { RateLimiter } from "../../adaptation/limits.js";
import type { Engine } from "../../engine/engine.js";
import {
  AdaptConfigSchema,
  DeleteHeadResponseSchema,
  GetHeadResponseSchema,
  ListHeadsResponseSchema,
  SetActiveVersionResponseSchema,
  FeedbackResponseSchema,
  FeedbackStreamResponseSchema,
  SetHeadPolicyResponseSchema,
  type FeedbackRequest,
  type FeedbackStreamRequest,
  type FeedbackStreamResponse,
  type SetHeadPolicyRequest,
  type AdaptRequest,
  type AdaptResponse,
  type DeleteHeadRequest,
  type GetHeadRequest,
  type SetActiveVersionRequest,
} from "../../gen/bertd/v1/heads_pb.js";
import type { CallLogger } from "../calls.js";
import { AdaptStream, OpenAdaptStreams } from "./adapt-stream.js";
import { metricsMessage, summaryMessage } from "./heads-messages.js";
import { feedbackItemOf, feedbackResultMessage, liveMessage, policyMessage, policyOf } from "./feedback-messages.js";
import { PipelinedStream } from "../pipelined-stream.js";
import { toStatus } from "../status.js";
import { ServiceError } from "../../core/errors.js";

export interface HeadsServiceDeps {
  readonly engine: Engine;
  readonly calls: CallLogger;
  readonly onActiveChanged?: (head: string, version: number) => void;
  /** Aborted when the server starts draining: open Adapt streams stop reading, report and end. */
  readonly draining?: AbortSignal;
  /** Adapt streams open at once, server-wide (--max-adapt-streams). */
  readonly maxAdaptStreams?: number;
  /** Adapt examples per second per API key (--adapt-examples-per-second): streams are paced to it. */
  readonly exampleRate?: RateLimiter;
  readonly onAdaptPaced?: (examples: number, seconds: number) => void;
}

/** bertd.v1.Heads: Adapt streams, and head administration mapped to the engine. */
export function headsService(deps: HeadsServiceDeps): UntypedServiceImplementation {
  const { engine, calls } = deps;
  const adaptStreams = { engine, calls, draining: deps.draining, exampleRate: deps.exampleRate, onPaced: deps.onAdaptPaced, openStreams: new OpenAdaptStreams(deps.maxAdaptStreams) };

  return {
    Adapt: (call: ServerDuplexStream<AdaptRequest, AdaptResponse>): void => AdaptStream.serve(call, adaptStreams),

    ListHeads: calls.unary("/bertd.v1.Heads/ListHeads", async () => {
      const heads = await engine.listHeads();
      return { response: create(ListHeadsResponseSchema, { heads: heads.map(summaryMessage) }) };
    }),

    GetHead: calls.unary("/bertd.v1.Heads/GetHead", async (request: GetHeadRequest) => {
      const head = await engine.getHead(request.head);
      return {
        response: create(GetHeadResponseSchema, {
          head: summaryMessage(head.summary),
          modelHash: head.modelHash,
          live: liveMessage(head.live.all),
          policy: head.policy ? policyMessage(head.policy.policy) : undefined,
          versions: head.versions.map((v) => ({
            live: head.live.versions.has(v.version) ? liveMessage(head.live.versions.get(v.version)!) : undefined,
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

    DeleteHead: calls.unary("/bertd.v1.Heads/DeleteHead", async (request: DeleteHeadRequest) => {
      await engine.deleteHead(request.head);
      return { response: create(DeleteHeadResponseSchema, {}), fields: { head: request.head } };
    }),

    Feedback: calls.unary("/bertd.v1.Heads/Feedback", async (request: FeedbackRequest) => {
      const results = await engine.feedback(request.items.map(feedbackItemOf));
      const accepted = results.filter((r) => r.outcome === "accepted").length;
      return {
        response: create(FeedbackResponseSchema, { results: results.map(feedbackResultMessage), accepted: BigInt(accepted) }),
        fields: { items: results.length, accepted },
      };
    }),

    // Requests are answered one at a time, in order: each response means its accepted items are durable.
    FeedbackStream: (call: ServerDuplexStream<FeedbackStreamRequest, FeedbackStreamResponse>): void => {
      const stream = new PipelinedStream(call, calls, "/bertd.v1.Heads/FeedbackStream", { pauseAt: 16, resumeBelow: 4 });
      let requests = 0;
      let accepted = 0;
      stream.context.signal.addEventListener("abort", () => stream.fail(new ServiceError("cancelled", "the stream ended before its requests finished"), { requests, accepted }));
      void (async () => {
        for (let message = await stream.next(); message; message = await stream.next()) {
          requests++;
          const { id } = message;
          try {
            const results = await engine.feedback(message.items.map(feedbackItemOf));
            const ok = results.filter((r) => r.outcome === "accepted").length;
            accepted += ok;
            stream.write(create(FeedbackStreamResponseSchema, { id, results: results.map(feedbackResultMessage), accepted: BigInt(ok) }));
          } catch (error) {
            // A request that fails as a whole (e.g. the store is unreachable) ends the stream with its status.
            const { details } = toStatus(error);
            stream.fail(error, { requests, accepted, failedRequest: id, details });
            return;
          }
          stream.release();
        }
        await stream.settled();
        stream.succeed({ requests, accepted });
      })();
    },

    SetHeadPolicy: calls.unary("/bertd.v1.Heads/SetHeadPolicy", async (request: SetHeadPolicyRequest) => {
      const stored = await engine.setHeadPolicy(request.head, policyOf(request.policy));
      return { response: create(SetHeadPolicyResponseSchema, { policy: policyMessage(stored.policy) }), fields: { head: request.head, continuous: stored.policy.continuous } };
    }),

    SetActiveVersion: calls.unary("/bertd.v1.Heads/SetActiveVersion", async (request: SetActiveVersionRequest) => {
      const previous = await engine.setActiveVersion(request.head, request.version);
      deps.onActiveChanged?.(request.head, request.version);
      return {
        response: create(SetActiveVersionResponseSchema, { previousVersion: previous, activeVersion: request.version }),
        fields: { head: request.head, version: request.version, previous },
      };
    }),
  };
}
