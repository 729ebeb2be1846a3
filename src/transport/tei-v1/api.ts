import { Embed, Info, Predict, Rerank, Tokenize, file_tei_v1_tei } from "../../gen/tei/v1/tei_pb.js";
import type { WireApi } from "../server.js";
import type { TeiV1Deps } from "./deps.js";
import { embedService } from "./embed-service.js";
import { infoService, modelTypeOf } from "./info-service.js";
import { predictService } from "./predict-service.js";
import { rerankService } from "./rerank-service.js";
import { tokenizeService } from "./tokenize-service.js";
import { ModelType } from "../../gen/tei/v1/tei_pb.js";

export type { TeiV1Deps } from "./deps.js";

/**
 * tei.v1, Hugging Face text-embeddings-inference's gRPC API, over the same engine as bertd.v1.
 * Health reports Info and Tokenize SERVING; Embed when the model outputs hidden states; Predict when
 * it has a classifier or --tei-predict-head names a head; Rerank when it is a cross-encoder (one label).
 */
export function teiV1Api(deps: TeiV1Deps): WireApi {
  const { engine } = deps;
  return {
    services: [
      { service: Info, implementation: infoService(deps) },
      { service: Embed, implementation: embedService(deps), serving: () => engine.model().info.hasHiddenStates },
      { service: Predict, implementation: predictService(deps), serving: () => modelTypeOf(engine) !== ModelType.EMBEDDING || Boolean(deps.predictHead) },
      { service: Rerank, implementation: rerankService(deps), serving: () => modelTypeOf(engine) === ModelType.RERANKER },
      { service: Tokenize, implementation: tokenizeService(deps) },
    ],
    files: [file_tei_v1_tei],
  };
}
