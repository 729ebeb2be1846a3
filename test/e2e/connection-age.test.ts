import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { connectivityState, type Client } from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { EmbedStreamRequestSchema, type EmbedStreamResponse } from "../../src/gen/bertd/v1/encoder_pb.js";
import { grpcServerOptions } from "../../src/transport/server.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";

/** Resolves with the first state other than `from`, or `from` itself when nothing changed by the deadline. */
function nextState(channel: ReturnType<Client["getChannel"]>, from: connectivityState, withinMs: number): Promise<connectivityState> {
  return new Promise((resolve) => {
    channel.watchConnectivityState(from, Date.now() + withinMs, (error) => resolve(error ? from : channel.getConnectivityState(false)));
  });
}

describe("--max-connection-age-ms", () => {
  let aged: ServerProcess;
  let plain: ServerProcess;

  before(async () => {
    [aged, plain] = await Promise.all([startServer(["--max-connection-age-ms", "500", "--no-warmup"]), startServer(["--no-warmup"])]);
  });
  after(async () => {
    await Promise.all([aged, plain].map(async (server) => server && assert.equal(await server.stop(), 0)));
  });

  it("maps to grpc-js's max connection age options only when set", () => {
    const base = { maxReceiveMessageBytes: 1024 };
    assert.equal(grpcServerOptions(base)["grpc.max_connection_age_ms"], undefined);
    assert.equal(grpcServerOptions({ ...base, maxConnectionAgeMs: 60_000, maxConnectionAgeGraceMs: 5_000 })["grpc.max_connection_age_ms"], 60_000);
    assert.equal(grpcServerOptions({ ...base, maxConnectionAgeMs: 60_000, maxConnectionAgeGraceMs: 5_000 })["grpc.max_connection_age_grace_ms"], 5_000);
    assert.equal(grpcServerOptions({ ...base, maxConnectionAgeMs: 60_000 })["grpc.max_connection_age_grace_ms"], undefined);
  });

  it("sends GOAWAY to an aged connection: the client reconnects for new calls, an open stream finishes", async () => {
    const client = aged.encoder();
    const channel = client.raw.getChannel();
    const stream = client.stream("embedStream");
    const responses: EmbedStreamResponse[] = [];
    stream.on("data", (r: EmbedStreamResponse) => responses.push(r));
    const ended = once(stream, "end");
    const send = async (id: string): Promise<void> => {
      const before = responses.length;
      stream.write(create(EmbedStreamRequestSchema, { id, request: { inputs: ["a chess game"] } }));
      while (responses.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await send("before");
    assert.equal(channel.getConnectivityState(false), connectivityState.READY);

    // 500 ms ± 10% jitter, then GOAWAY: the channel leaves READY.
    assert.notEqual(await nextState(channel, connectivityState.READY, 5_000), connectivityState.READY, "the server never rotated the connection");
    await send("after GOAWAY, same stream");
    stream.end();
    await ended;
    assert.deepEqual(
      responses.map((r) => [r.id, r.error?.code ?? 0, r.response?.embeddings.length]),
      [["before", 0, 1], ["after GOAWAY, same stream", 0, 1]],
    );

    const fresh = await client.unary("embed")({ inputs: ["a new connection"] });
    assert.equal(fresh.embeddings.length, 1);
  });

  it("keeps connections open without it", async () => {
    const client = plain.encoder();
    await client.unary("embed")({ inputs: ["connect"] });
    const channel = client.raw.getChannel();
    assert.equal(await nextState(channel, connectivityState.READY, 1_500), connectivityState.READY);
  });
});
