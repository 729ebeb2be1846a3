import { Encoder, file_bertd_v1_encoder } from "../../gen/bertd/v1/encoder_pb.js";
import { Heads, file_bertd_v1_heads } from "../../gen/bertd/v1/heads_pb.js";
import type { WireApi } from "../server.js";
import { encoderService, type EncoderServiceDeps } from "./encoder-service.js";
import { headsService, type HeadsServiceDeps } from "./heads-service.js";

export type BertdV1Deps = EncoderServiceDeps & HeadsServiceDeps;

/** bertd.v1, bertd's own API: the Encoder and Heads services over one engine. */
export function bertdV1Api(deps: BertdV1Deps): WireApi {
  return {
    services: [
      { service: Encoder, implementation: encoderService(deps) },
      { service: Heads, implementation: headsService(deps) },
    ],
    files: [file_bertd_v1_encoder, file_bertd_v1_heads],
  };
}
