import { create, toBinary } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { failedPrecondition, invalidArgument } from "../../core/errors.js";
import {
  EmbedAllResponseSchema,
  EmbedResponseSchema,
  type EmbedAllRequest,
  type EmbedAllResponse,
  type EmbedRequest,
  type EmbedSparseRequest,
  type EmbedSparseResponse,
} from "../../gen/tei/v1/tei_pb.js";
import { callOptionsOf, type CallContext } from "../calls.js";
import { floatsThen } from "../embedding-wire.js";
import type { PreEncoded } from "../protobuf-glue.js";
import type { TeiV1Deps } from "./deps.js";
import { serveOrdered } from "./ordered-stream.js";
import { charCount, computeTypeOf, headersOf, metadataOf, requireText, teiCall, truncationOf, type Answer, type Cost } from "./wire.js";

/** bertd has no SPLADE pooling (it needs a masked-LM head's logits): sparse embeddings are never available. */
export const NO_SPARSE = "Backend error: Model is not an embedding model with SPLADE pooling (bertd serves dense embeddings only: use Embed)";

/** tei.v1.Embed: one input per message, through the same engine and batcher as bertd.v1.Encoder/Embed. */
export function embedService({ engine, calls }: TeiV1Deps): UntypedServiceImplementation {
  const prompted = (text: string, promptName: string | undefined): string => {
    requireText(text);
    return promptName === undefined ? text : engine.prompt(promptName) + text;
  };

  const embed = (request: EmbedRequest, context: CallContext): Promise<Answer<PreEncoded>> =>
    teiCall(async () => {
      const started = performance.now();
      const text = prompted(request.inputs, request.promptName);
      const truncation = truncationOf(request.truncate, request.truncationDirection);
      const model = engine.model();
      if (request.dimensions === 0) throw invalidArgument("Input validation error: `dimensions` should be positive");
      if (request.dimensions !== undefined && request.dimensions > model.info.hiddenSize) {
        throw invalidArgument(`Input validation error: \`dimensions\` should be smaller than the maximum embedding dimension (${model.info.hiddenSize}).`);
      }
      const normalize = request.normalize ?? true;
      const result = await engine.embed([text], { normalize, truncation, dimensions: request.dimensions ?? 0 }, callOptionsOf(context));
      calls.stages(context, result.times);
      const cost: Cost = { chars: charCount(text), tokens: result.inputTokens, started, times: result.times };
      // embeddings (field 1) written from the vector; metadata (field 2) by protobuf-es.
      const response = floatsThen(1, result.vectors[0], toBinary(EmbedResponseSchema, create(EmbedResponseSchema, { metadata: metadataOf(cost) })));
      return { response, fields: { inputTokens: result.inputTokens }, headers: headersOf(cost, computeTypeOf(model.info.provider)) };
    });

  const embedAll = (request: EmbedAllRequest, context: CallContext): Promise<Answer<EmbedAllResponse>> =>
    teiCall(async () => {
      const started = performance.now();
      const text = prompted(request.inputs, request.promptName);
      const truncation = truncationOf(request.truncate, request.truncationDirection);
      const model = engine.model();
      const result = await engine.tokenEmbeddings(text, truncation, callOptionsOf(context));
      calls.stages(context, result.times);
      const cost: Cost = { chars: charCount(text), tokens: result.inputTokens, started, times: result.times };
      const response = create(EmbedAllResponseSchema, {
        tokenEmbeddings: result.states.map((state) => ({ embeddings: Array.from(state) })),
        metadata: metadataOf(cost),
      });
      return { response, fields: { inputTokens: result.inputTokens }, headers: headersOf(cost, computeTypeOf(model.info.provider)) };
    });

  const embedSparse = (request: EmbedSparseRequest): Promise<Answer<EmbedSparseResponse>> =>
    teiCall(async () => {
      engine.model();
      void request;
      throw failedPrecondition(NO_SPARSE);
    });

  return {
    Embed: calls.unary("/tei.v1.Embed/Embed", embed),
    EmbedStream: (call: ServerDuplexStream<EmbedRequest, PreEncoded>) =>
      serveOrdered(call, calls, "/tei.v1.Embed/EmbedStream", async (request, context) => (await embed(request, context)).response),
    EmbedAll: calls.unary("/tei.v1.Embed/EmbedAll", embedAll),
    EmbedAllStream: (call: ServerDuplexStream<EmbedAllRequest, EmbedAllResponse>) =>
      serveOrdered(call, calls, "/tei.v1.Embed/EmbedAllStream", async (request, context) => (await embedAll(request, context)).response),
    EmbedSparse: calls.unary("/tei.v1.Embed/EmbedSparse", embedSparse),
    EmbedSparseStream: (call: ServerDuplexStream<EmbedSparseRequest, EmbedSparseResponse>) =>
      serveOrdered(call, calls, "/tei.v1.Embed/EmbedSparseStream", async (request) => (await embedSparse(request)).response),
  };
}
