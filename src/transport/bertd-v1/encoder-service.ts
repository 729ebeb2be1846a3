import { create } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { ServiceError } from "../../core/errors.js";
import type { Engine } from "../../engine/engine.js";
import {
  Pooling,
  ClassifyResponseSchema,
  EmbedRequestSchema,
  EmbedStreamResponseSchema,
  GetModelInfoResponseSchema,
  RerankResponseSchema,
  TagResponseSchema,
  TokenizeResponseSchema,
  type ClassifyRequest,
  type EmbedRequest,
  type EmbedStreamRequest,
  type EmbedStreamResponse,
  type GetModelInfoRequest,
  type RerankRequest,
  type TagRequest,
  type TokenizeRequest,
} from "../../gen/bertd/v1/encoder_pb.js";
import { callOptionsOf, type CallContext, type CallLogger } from "../calls.js";
import type { PreEncoded } from "../protobuf-glue.js";
import { encodeEmbedResponse, encodeEmbedStreamResponse, type EmbedResult } from "../embedding-wire.js";
import { PipelinedStream } from "../pipelined-stream.js";
import { toStatus } from "../status.js";
import { bytesEncodingOf, poolingOf, truncationOf, truncationStrategyOf } from "./wire-enums.js";

/** Most requests one EmbedStream may have in flight before the server stops reading it. */
const STREAM_WINDOW = 32;

export interface EncoderServiceDeps {
  readonly engine: Engine;
  readonly calls: CallLogger;
}

/** bertd.v1.Encoder: requests mapped to the engine's terms and its results back to responses. */
export function encoderService({ engine, calls }: EncoderServiceDeps): UntypedServiceImplementation {
  const embed = async (request: EmbedRequest, context: CallContext): Promise<{ result: EmbedResult; fields: Record<string, unknown> }> => {
    const options = { pooling: poolingOf(request.pooling), normalize: request.normalize, truncation: truncationOf(request.truncation), dimensions: request.dimensions };
    const asBytes = bytesEncodingOf(request.encoding);
    const { vectors, inputTokens, model, times } = await engine.embed(request.inputs, options, callOptionsOf(context));
    calls.stages(context, times);
    const result = { vectors, asBytes, inputTokens, model, dimensions: vectors[0]?.length ?? 0 };
    return { result, fields: { inputCount: request.inputs.length, inputTokens } };
  };

  return {
    Embed: calls.unary("/bertd.v1.Encoder/Embed", async (request: EmbedRequest, context) => {
      const { result, fields } = await embed(request, context);
      return { response: encodeEmbedResponse(result), fields };
    }),

    EmbedStream: (call: ServerDuplexStream<EmbedStreamRequest, EmbedStreamResponse | PreEncoded>): void => {
      const stream = new PipelinedStream(call, calls, "/bertd.v1.Encoder/EmbedStream", { pauseAt: STREAM_WINDOW, resumeBelow: STREAM_WINDOW });
      let requests = 0;
      // Cancelled, or ended by grpc-js itself (a frame that is not an EmbedStreamRequest): no "end" will come.
      stream.context.signal.addEventListener("abort", () => {
        stream.fail(new ServiceError("cancelled", "the stream ended before its requests finished"), { requests });
      });
      const respond = (message: EmbedStreamRequest): Promise<EmbedStreamResponse | PreEncoded> => {
        const { id } = message;
        return embed(message.request ?? create(EmbedRequestSchema), stream.context).then(
          ({ result }) => encodeEmbedStreamResponse(id, result),
          (error: unknown) => {
            const { code, details } = toStatus(error);
            return create(EmbedStreamResponseSchema, { id, error: { code, message: details } });
          },
        );
      };
      void (async () => {
        for (let message = await stream.next(); message; message = await stream.next()) {
          requests++;
          void respond(message).then((response) => {
            stream.write(response);
            stream.release();
          });
        }
        await stream.settled();
        stream.succeed({ requests });
      })();
    },

    Tokenize: calls.unary("/bertd.v1.Encoder/Tokenize", async (request: TokenizeRequest) => {
      const texts = engine.tokenize(request.inputs, request.addSpecialTokens, request.textPairs);
      const encodings = texts.map(({ ids, tokens, starts, ends, typeIds, sequenceIds }) => ({ ids, tokens, offsetStarts: starts, offsetEnds: ends, typeIds, sequenceIds }));
      return { response: create(TokenizeResponseSchema, { encodings }), fields: { inputCount: request.inputs.length } };
    }),

    GetModelInfo: calls.unary("/bertd.v1.Encoder/GetModelInfo", async (_request: GetModelInfoRequest) => {
      const { info } = engine.model();
      return {
        response: create(GetModelInfoResponseSchema, {
          modelId: info.id,
          modelPath: info.path,
          hiddenSize: info.hiddenSize,
          maxSequenceLength: info.maxSequenceLength,
          vocabularySize: info.vocabularySize,
          tokenizerType: info.tokenizerType,
          defaultPooling: info.defaultPooling as number as Pooling,
          executionProvider: info.provider,
          onnxruntimeVersion: info.onnxRuntimeVersion,
          modelHash: info.hash,
          hasPooler: info.hasPooler,
          tokenStateWidth: info.tokenStateWidth,
          modelFile: info.modelFile,
          precision: info.weights,
          headIdentity: info.headIdentity.hash,
          classifierOnly: !info.hasHiddenStates,
          poolingModes: info.poolingModes.map((mode) => Pooling[mode as number as Pooling]),
        }),
      };
    }),

    Classify: calls.unary("/bertd.v1.Encoder/Classify", async (request: ClassifyRequest, context) => {
      const { head, inputs, topK, version, minVersion, textPairs } = request;
      const result = await engine.classify(
        { head, inputs, textPairs, topK, version, minVersion, truncation: truncationOf(request.truncation), strategy: truncationStrategyOf(request.truncationStrategy) },
        callOptionsOf(context),
      );
      if (result.times) calls.stages(context, result.times);
      const { inputTokens } = result;
      return {
        response: create(ClassifyResponseSchema, {
          predictions: result.predictions.map((p, i) => ({ labels: p.labels, predictionId: result.predictionIds[i] ?? "" })),
          headVersion: result.headVersion,
          usage: { inputTokens },
        }),
        fields: result.byModel ? { head, inputCount: inputs.length, inputTokens } : { head, version: result.headVersion, inputCount: inputs.length, inputTokens },
      };
    }),

    Rerank: calls.unary("/bertd.v1.Encoder/Rerank", async (request: RerankRequest, context) => {
      const { query, documents, topN, returnDocuments, head, rawScores, label, version, minVersion } = request;
      const result = await engine.rerank(
        { query, documents, topN, returnDocuments, head, rawScores, label, version, minVersion, truncation: truncationOf(request.truncation), strategy: truncationStrategyOf(request.truncationStrategy) },
        callOptionsOf(context),
      );
      calls.stages(context, result.times);
      const { inputTokens } = result;
      return {
        response: create(RerankResponseSchema, { ranks: result.ranks, usage: { inputTokens }, head: result.head, headVersion: result.headVersion }),
        fields: { head: result.head, version: result.headVersion, inputCount: documents.length, inputTokens },
      };
    }),

    Tag: calls.unary("/bertd.v1.Encoder/Tag", async (request: TagRequest, context) => {
      const { head, texts, version, minVersion } = request;
      const result = await engine.tag({ head, texts, words: request.words.map((input) => input.words), version, minVersion }, callOptionsOf(context));
      calls.stages(context, result.times);
      const { inputTokens } = result;
      return {
        response: create(TagResponseSchema, {
          results: result.results.map((r, i) => ({ ...r, predictionId: result.predictionIds[i] ?? "" })),
          headVersion: result.headVersion,
          usage: { inputTokens },
        }),
        fields: { head, version: result.headVersion, inputCount: result.inputCount, inputTokens },
      };
    }),
  };
}
