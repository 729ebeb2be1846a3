import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { invalidArgument } from "../../core/errors.js";
import type { TextTokens } from "../../engine/embed.js";
import { DecodeResponseSchema, EncodeResponseSchema, type DecodeRequest, type DecodeResponse, type EncodeRequest, type EncodeResponse, SimpleTokenSchema } from "../../gen/tei/v1/tei_pb.js";
import type { TeiV1Deps } from "./deps.js";
import { serveOrdered } from "./ordered-stream.js";
import { requireText, teiCall, type Answer } from "./wire.js";

/** utf8[i]: UTF-8 bytes before UTF-16 unit i of `text` (TEI's offsets are byte offsets). */
function utf8Offsets(text: string): Uint32Array {
  const out = new Uint32Array(text.length + 1);
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    out[i] = bytes;
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out[++i] = bytes + 2;
      bytes += 4;
    } else bytes += 3;
  }
  out[text.length] = bytes;
  return out;
}

/** TEI's SimpleTokens: special tokens by their vocabulary entry without offsets, others by their text and byte span. */
export function simpleTokens(text: string, tokens: TextTokens): MessageInitShape<typeof SimpleTokenSchema>[] {
  const bytes = utf8Offsets(text);
  return Array.from(tokens.ids, (id, i) => {
    if (tokens.special[i]) return { id, text: tokens.tokens[i], special: true };
    const start = tokens.offsets[2 * i];
    const end = tokens.offsets[2 * i + 1];
    return { id, text: text.slice(start, end), special: false, start: bytes[start], stop: bytes[end] };
  });
}

/** tei.v1.Tokenize: the served model's tokenizer; no inference, so no batching. */
export function tokenizeService({ engine, calls }: TeiV1Deps): UntypedServiceImplementation {
  const tokenize = (request: EncodeRequest): Promise<Answer<EncodeResponse>> =>
    teiCall(async () => {
      requireText(request.inputs);
      const text = request.promptName === undefined ? request.inputs : engine.prompt(request.promptName) + request.inputs;
      const tokens = engine.textTokens(text, request.addSpecialTokens);
      return { response: create(EncodeResponseSchema, { tokens: simpleTokens(text, tokens) }), fields: { tokens: tokens.ids.length } };
    });

  const decode = (request: DecodeRequest): Promise<Answer<DecodeResponse>> =>
    teiCall(async () => {
      if (request.ids.length === 0) throw invalidArgument("Input validation error: `input_ids` cannot be empty");
      return { response: create(DecodeResponseSchema, { text: engine.decode(request.ids, request.skipSpecialTokens) }), fields: { ids: request.ids.length } };
    });

  return {
    Tokenize: calls.unary("/tei.v1.Tokenize/Tokenize", tokenize),
    TokenizeStream: (call: ServerDuplexStream<EncodeRequest, EncodeResponse>) =>
      serveOrdered(call, calls, "/tei.v1.Tokenize/TokenizeStream", async (request) => (await tokenize(request)).response),
    Decode: calls.unary("/tei.v1.Tokenize/Decode", decode),
    DecodeStream: (call: ServerDuplexStream<DecodeRequest, DecodeResponse>) =>
      serveOrdered(call, calls, "/tei.v1.Tokenize/DecodeStream", async (request) => (await decode(request)).response),
  };
}
