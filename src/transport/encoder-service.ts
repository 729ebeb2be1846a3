import { create } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { endianness } from "node:os";
import { ServiceError, invalidArgument, unavailable } from "../core/errors.js";
import type { EncoderModel, TruncationSide } from "../core/encoder.js";
import { PoolingMode } from "../core/pooling.js";
import {
  Encoding,
  Pooling,
  Truncation,
  EmbedRequestSchema,
  EmbedResponseSchema,
  EmbedStreamResponseSchema,
  GetModelInfoResponseSchema,
  TokenizeResponseSchema,
  type EmbedRequest,
  type EmbedResponse,
  type EmbedStreamRequest,
  type EmbedStreamResponse,
  type GetModelInfoRequest,
  type TokenizeRequest,
} from "../gen/bertd/v1/encoder_pb.js";
import type { CallContext, CallLogger } from "./calls.js";
import { toStatus } from "./status.js";

/** Classify and Tag live in other modules; the encoder service only routes to them. */
export type ClassifyHandler = UntypedServiceImplementation[string];

const LITTLE_ENDIAN = endianness() === "LE";
/** Most requests one EmbedStream may have in flight before the server stops reading it. */
const STREAM_WINDOW = 32;

export interface EncoderServiceDeps {
  encoder(): EncoderModel | undefined;
  readonly calls: CallLogger;
  readonly classify: ClassifyHandler;
  readonly tag: ClassifyHandler;
}

export function encoderService(deps: EncoderServiceDeps): UntypedServiceImplementation {
  const ready = (): EncoderModel => {
    const encoder = deps.encoder();
    if (!encoder) throw unavailable("the model is still loading: retry shortly (health reports SERVING when ready)");
    return encoder;
  };

  const embed = async (request: EmbedRequest, context: CallContext): Promise<{ response: EmbedResponse; fields: Record<string, unknown> }> => {
    const encoder = ready();
    const result = await encoder.embed(
      request.inputs,
      {
        pooling: poolingOf(request.pooling),
        normalize: request.normalize,
        truncation: truncationOf(request.truncation),
        dimensions: request.dimensions,
      },
      { deadline: context.deadline, signal: context.signal },
    );
    deps.calls.stages(context, result.times);
    const bytes = encodingOf(request.encoding);
    const response = create(EmbedResponseSchema, {
      embeddings: result.vectors.map((vector) => (bytes ? { bytes: float32Bytes(vector) } : { values: Array.from(vector) })),
      usage: { inputTokens: result.inputTokens },
      model: encoder.info.id,
      dimensions: result.vectors[0]?.length ?? 0,
    });
    return { response, fields: { inputCount: request.inputs.length, inputTokens: result.inputTokens } };
  };

  return {
    Embed: deps.calls.unary("Embed", embed),

    EmbedStream: (call: ServerDuplexStream<EmbedStreamRequest, EmbedStreamResponse>): void => {
      const started = deps.calls.started();
      const context = deps.calls.context("EmbedStream", call);
      let inFlight = 0;
      let ended = false;
      let requests = 0;
      let finished = false;
      const finish = (): void => {
        if (ended && inFlight === 0 && !finished) {
          finished = true;
          deps.calls.finished(context, started, undefined, { requests });
          call.end();
        }
      };
      // Cancelled, or ended by grpc-js itself (a frame that is not an EmbedStreamRequest): no "end" will come.
      context.signal.addEventListener("abort", () => {
        if (finished) return;
        finished = true;
        deps.calls.finished(context, started, new ServiceError("cancelled", "the stream ended before its requests finished"), { requests });
      });
      call.on("data", (message: EmbedStreamRequest) => {
        requests++;
        inFlight++;
        if (inFlight >= STREAM_WINDOW) call.pause();
        const id = message.id;
        const settle = (response: EmbedStreamResponse): void => {
          if (!context.signal.aborted) call.write(response);
          inFlight--;
          if (inFlight < STREAM_WINDOW) call.resume();
          finish();
        };
        embed(message.request ?? create(EmbedRequestSchema), context).then(
          ({ response }) => settle(create(EmbedStreamResponseSchema, { id, response })),
          (error: unknown) => {
            const { code, details } = toStatus(error);
            settle(create(EmbedStreamResponseSchema, { id, error: { code, message: details } }));
          },
        );
      });
      call.on("end", () => {
        ended = true;
        finish();
      });
      call.on("error", () => {});
    },

    Tokenize: deps.calls.unary("Tokenize", async (request: TokenizeRequest) => {
      const encoder = ready();
      encoder.checkInputs(request.inputs);
      const { tokenizer } = encoder;
      const encodings = request.inputs.map((text) => {
        const encoded = tokenizer.encode(text, { addSpecialTokens: request.addSpecialTokens, offsets: true });
        const ids = Array.from(encoded.ids);
        const starts: number[] = [];
        const ends: number[] = [];
        const offsets = encoded.offsets!;
        for (let i = 0; i < ids.length; i++) {
          starts.push(offsets[2 * i]);
          ends.push(offsets[2 * i + 1]);
        }
        return { ids, tokens: ids.map((id) => tokenizer.idToToken(id)), offsetStarts: starts, offsetEnds: ends };
      });
      return { response: create(TokenizeResponseSchema, { encodings }), fields: { inputCount: request.inputs.length } };
    }),

    GetModelInfo: deps.calls.unary("GetModelInfo", async (_request: GetModelInfoRequest) => {
      const { info } = ready();
      return {
        response: create(GetModelInfoResponseSchema, {
          modelId: info.id,
          modelPath: info.path,
          hiddenSize: info.hiddenSize,
          maxSequenceLength: info.maxSequenceLength,
          vocabularySize: info.vocabularySize,
          defaultPooling: info.defaultPooling as number as Pooling,
          executionProvider: info.provider,
          onnxruntimeVersion: info.onnxRuntimeVersion,
          modelHash: info.hash,
          hasPooler: info.hasPooler,
          tokenStateWidth: info.tokenStateWidth,
          poolingModes: info.poolingModes.map((mode) => Pooling[mode as number as Pooling]),
        }),
      };
    }),

    Classify: deps.classify,
    Tag: deps.tag,
  };
}

export function poolingOf(value: Pooling): PoolingMode | undefined {
  switch (value) {
    case Pooling.UNSPECIFIED:
      return undefined;
    case Pooling.CLS:
      return PoolingMode.cls;
    case Pooling.MEAN:
      return PoolingMode.mean;
    case Pooling.MAX:
      return PoolingMode.max;
    case Pooling.POOLER:
      return PoolingMode.pooler;
    default:
      throw invalidArgument(`pooling: unknown value ${value as number}`);
  }
}

export function truncationOf(value: Truncation): TruncationSide | undefined {
  switch (value) {
    case Truncation.UNSPECIFIED:
      return undefined;
    case Truncation.NONE:
      return "none";
    case Truncation.RIGHT:
      return "right";
    case Truncation.LEFT:
      return "left";
    default:
      throw invalidArgument(`truncation: unknown value ${value as number}`);
  }
}

function encodingOf(value: Encoding): boolean {
  switch (value) {
    case Encoding.UNSPECIFIED:
    case Encoding.FLOAT:
      return false;
    case Encoding.BYTES:
      return true;
    default:
      throw invalidArgument(`encoding: unknown value ${value as number}`);
  }
}

function float32Bytes(vector: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  const out = new DataView(new ArrayBuffer(vector.byteLength));
  for (let i = 0; i < vector.length; i++) out.setFloat32(4 * i, vector[i], true);
  return new Uint8Array(out.buffer);
}
