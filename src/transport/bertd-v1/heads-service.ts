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
  type AdaptRequest,
  type AdaptResponse,
  type DeleteHeadRequest,
  type GetHeadRequest,
  type SetActiveVersionRequest,
} from "../../gen/bertd/v1/heads_pb.js";
import type { CallLogger } from "../calls.js";
import { AdaptStream, OpenAdaptStreams } from "./adapt-stream.js";
import { metricsMessage, summaryMessage } from "./heads-messages.js";

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
          versions: head.versions.map((v) => ({
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
