import { create } from "@bufbuild/protobuf";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Engine } from "../../engine/engine.js";
import { InfoResponseSchema, ModelType, type InfoRequest } from "../../gen/tei/v1/tei_pb.js";
import type { TeiV1Deps } from "./deps.js";

/** TEI's model types: a classifier with one label is a reranker (cross-encoder), with more a classifier. */
export function modelTypeOf(engine: Engine): ModelType {
  const classifier = engine.model().info.classifier;
  if (!classifier) return ModelType.EMBEDDING;
  return classifier.labels.length === 1 ? ModelType.RERANKER : ModelType.CLASSIFIER;
}

/** TEI's name for the served weights. */
const DTYPES = { fp32: "float32", fp16: "float16", int8: "int8" } as const;

/** tei.v1.Info: the served model and the limits, in TEI's fields. */
export function infoService({ engine, calls, version }: TeiV1Deps): UntypedServiceImplementation {
  return {
    Info: calls.unary("/tei.v1.Info/Info", async (_request: InfoRequest) => {
      const model = engine.model();
      const { info, limits } = model;
      const response = create(InfoResponseSchema, {
        version,
        modelId: info.id,
        modelSha: info.hash,
        modelDtype: DTYPES[info.weights],
        modelType: modelTypeOf(engine),
        maxConcurrentRequests: limits.maxQueueRequests,
        maxInputLength: info.maxSequenceLength,
        maxBatchTokens: limits.maxBatchTokens,
        maxBatchRequests: limits.maxBatchSize,
        maxClientBatchSize: limits.maxClientBatchSize,
        // bertd tokenizes on the server's main thread.
        tokenizationWorkers: 1,
      });
      return { response };
    }),
  };
}
