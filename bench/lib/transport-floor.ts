/**
 * The transport's floor: a bare grpc-js server with bertd.v1.Encoder's definition whose Embed answers
 * every text with a fixed vector, encoded as bertd encodes one, one event-loop turn later (as an answer
 * from a worker comes). No model, tokenizer, batching, auth, metrics or logs: what any server built on
 * grpc-js and Node's HTTP/2 pays per call. argv: dimensions. stdout: the port, once bound.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { Encoder, type EmbedRequest } from "../../src/gen/bertd/v1/encoder_pb.js";
import { encodeEmbedResponse } from "../../src/transport/embedding-wire.js";
import { grpcServiceDefinition, type PreEncoded } from "../../src/transport/protobuf-glue.js";

const dimensions = Number(process.argv[2]);
const vector = Float32Array.from({ length: dimensions }, (_, i) => Math.sin(i));
const server = new Server();
server.addService(grpcServiceDefinition(Encoder), {
  Embed: (call: ServerUnaryCall<EmbedRequest, PreEncoded>, callback: sendUnaryData<PreEncoded>) => {
    const vectors = call.request.inputs.map(() => vector);
    setImmediate(() => callback(null, encodeEmbedResponse({ vectors, asBytes: false, inputTokens: 20 * vectors.length, model: "floor", dimensions })));
  },
});
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${port}\n`);
});
