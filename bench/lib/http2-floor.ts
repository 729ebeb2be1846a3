/**
 * The floor under grpc-js: Node's HTTP/2 alone, answering bertd.v1.Encoder/Embed with gRPC's framing
 * written by hand (the 5-byte message prefix, headers, grpc-status trailer) and the same fixed vector
 * per text as transport-floor.ts, one event-loop turn later. No grpc-js on the server: set beside the
 * grpc-js floor, it shows what grpc-js itself adds per call. argv: dimensions. stdout: the port, once bound.
 */
import { createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { fromBinary } from "@bufbuild/protobuf";
import { EmbedRequestSchema } from "../../src/gen/bertd/v1/encoder_pb.js";
import { encodeEmbedResponse } from "../../src/transport/embedding-wire.js";

const dimensions = Number(process.argv[2]);
const vector = Float32Array.from({ length: dimensions }, (_, i) => Math.sin(i));
const server = createServer();
server.on("stream", (stream) => {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("end", () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const request = fromBinary(EmbedRequestSchema, body.subarray(5));
    const vectors = request.inputs.map(() => vector);
    setImmediate(() => {
      const { bytes } = encodeEmbedResponse({ vectors, asBytes: false, inputTokens: 20 * vectors.length, model: "floor", dimensions });
      const frame = Buffer.allocUnsafe(5 + bytes.length);
      frame[0] = 0;
      frame.writeUInt32BE(bytes.length, 1);
      frame.set(bytes, 5);
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame);
    });
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
