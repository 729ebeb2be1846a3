import { create } from "@bufbuild/protobuf";
import type { ServerReadableStream, sendUnaryData, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { CallOptions, TruncationSide } from "../../core/encoder.js";
import { ServiceError, failedPrecondition, invalidArgument } from "../../core/errors.js";
import type { Engine } from "../../engine/engine.js";
import type { PairScorer, TextPair } from "../../engine/pairs.js";
import { RerankResponseSchema, type RerankRequest, type RerankResponse, type RerankStreamRequest } from "../../gen/tei/v1/tei_pb.js";
import { callOptionsOf, type CallContext } from "../calls.js";
import { toStatus } from "../status.js";
import type { TeiV1Deps } from "./deps.js";
import { teiModelScores } from "./scores.js";
import { charCount, computeTypeOf, headersOf, metadataOf, teiCall, truncationOf, type Answer, type Cost } from "./wire.js";

/** Rerank needs a cross-encoder: a model whose classifier has one label (TEI's RERANKER). */
function requireReranker(engine: Engine): void {
  const classifier = engine.model().info.classifier;
  if (!classifier) throw failedPrecondition("model is not a classifier model: Rerank needs a cross-encoder (a classifier with one label)");
  if (classifier.labels.length !== 1) throw failedPrecondition(`model is not a re-ranker model: its classifier has ${classifier.labels.length} labels, a re-ranker has one`);
}

interface RerankInput {
  readonly pairs: readonly TextPair[];
  /** Per pair: its own truncation (RerankStream messages carry one each). */
  readonly truncations: readonly TruncationSide[];
  readonly rawScores: boolean;
  readonly returnText: boolean;
  /** Most pairs per engine call (--max-client-batch-size): a long RerankStream goes in several. */
  readonly chunk: number;
}

/** Scores every (query, text) pair, one group per truncation, and ranks them highest first. */
async function rerank(engine: Engine, scorer: PairScorer, input: RerankInput, call: CallOptions, started: number): Promise<{ response: RerankResponse; cost: Cost }> {
  const scores = new Array<number>(input.pairs.length);
  let tokens = 0;
  let times = {};
  const groups = new Map<TruncationSide, number[]>();
  input.truncations.forEach((side, i) => groups.set(side, [...(groups.get(side) ?? []), i]));
  const parts: [TruncationSide, number[]][] = [];
  for (const [side, indices] of groups) for (let i = 0; i < indices.length; i += input.chunk) parts.push([side, indices.slice(i, i + input.chunk)]);
  await Promise.all(
    parts.map(async ([side, indices]) => {
      const result = await scorer(indices.map((i) => input.pairs[i]), side, call);
      indices.forEach((index, k) => (scores[index] = teiModelScores(result.logits[k], input.rawScores)[0]));
      tokens += result.inputTokens;
      times = result.times;
    }),
  );
  if (scores.some(Number.isNaN)) throw failedPrecondition("score is NaN");
  const ranks = scores
    .map((score, index) => ({ index, score, text: input.returnText ? input.pairs[index].textPair : undefined }))
    .sort((a, b) => b.score - a.score);
  const chars = input.pairs.reduce((sum, pair) => sum + charCount(pair.text) + charCount(pair.textPair), 0);
  const cost: Cost = { chars, tokens, started, times };
  return { response: create(RerankResponseSchema, { ranks, metadata: metadataOf(cost) }), cost };
}

/** tei.v1.Rerank: a query against texts through the model's cross-encoder (engine.pairScorer). */
export function rerankService({ engine, calls }: TeiV1Deps): UntypedServiceImplementation {
  const unary = (request: RerankRequest, context: CallContext): Promise<Answer<RerankResponse>> =>
    teiCall(async () => {
      const started = performance.now();
      if (request.texts.length === 0) throw invalidArgument("`texts` cannot be empty");
      requireReranker(engine);
      const max = engine.model().limits.maxClientBatchSize;
      if (request.texts.length > max) throw invalidArgument(`batch size ${request.texts.length} > maximum allowed batch size ${max}`);
      const scorer = engine.pairScorer();
      const truncation = truncationOf(request.truncate, request.truncationDirection);
      const input: RerankInput = {
        pairs: request.texts.map((text) => ({ text: request.query, textPair: text })),
        truncations: request.texts.map(() => truncation),
        rawScores: request.rawScores,
        returnText: request.returnText,
        chunk: max,
      };
      const { response, cost } = await rerank(engine, scorer, input, callOptionsOf(context), started);
      calls.stages(context, cost.times);
      return { response, fields: { texts: request.texts.length, inputTokens: cost.tokens }, headers: headersOf(cost, computeTypeOf(engine.model().info.provider)) };
    });

  /** Client streaming: every message is one (query, text); raw_scores and return_text come from the first. */
  const stream = (call: ServerReadableStream<RerankStreamRequest, RerankResponse>, callback: sendUnaryData<RerankResponse>): void => {
    const started = calls.started();
    const context = calls.context("/tei.v1.Rerank/RerankStream", call);
    const messages: RerankStreamRequest[] = [];
    let settled = false;
    const finish = (error: unknown, answer?: Answer<RerankResponse>): void => {
      if (settled) return;
      settled = true;
      calls.finished(context, started, error, answer?.fields ?? { texts: messages.length });
      if (error !== undefined) {
        const { code, details } = toStatus(error);
        callback({ code, details });
        return;
      }
      if (answer!.headers) call.sendMetadata(answer!.headers);
      callback(null, answer!.response);
    };
    try {
      requireReranker(engine);
    } catch (error) {
      finish(error);
      return;
    }
    call.on("data", (message: RerankStreamRequest) => messages.push(message));
    call.on("error", () => {});
    context.signal.addEventListener("abort", () => finish(new ServiceError("cancelled", "the stream was cancelled")));
    call.on("end", () => {
      teiCall(async () => {
        if (messages.length === 0) throw invalidArgument("`texts` cannot be empty: the stream sent no message");
        const scorer = engine.pairScorer();
        const input: RerankInput = {
          pairs: messages.map((m) => ({ text: m.query, textPair: m.text })),
          truncations: messages.map((m) => truncationOf(m.truncate, m.truncationDirection)),
          rawScores: messages[0].rawScores,
          returnText: messages[0].returnText,
          chunk: engine.model().limits.maxClientBatchSize,
        };
        const { response, cost } = await rerank(engine, scorer, input, callOptionsOf(context), performance.now());
        calls.stages(context, cost.times);
        return { response, fields: { texts: messages.length, inputTokens: cost.tokens }, headers: headersOf(cost, computeTypeOf(engine.model().info.provider)) };
      }).then(
        (answer) => finish(undefined, answer),
        (error: unknown) => finish(error),
      );
    });
  };

  return {
    Rerank: calls.unary("/tei.v1.Rerank/Rerank", unary),
    RerankStream: stream,
  };
}
