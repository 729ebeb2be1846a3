import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type ChannelCredentials, status, type ServiceError } from "@grpc/grpc-js";
import { ServiceClient } from "../../src/client/grpc-client.js";
import { ClassifyRequestSchema, EmbedRequestSchema, Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";
import { AdaptRequestSchema, Heads, type AdaptResponse } from "../../src/gen/bertd/v1/heads_pb.js";
import { Embed as TeiEmbed, EmbedRequestSchema as TeiEmbedRequestSchema, type EmbedResponse as TeiEmbedResponse } from "../../src/gen/tei/v1/tei_pb.js";
import { adaptHead, adaptMessages, classifyRequest, embedRequest, teiEmbedRequest, teiEmbedStreamRequests, type Definitions, type Workload } from "../lib/scenarios.js";
import type { Call } from "./executors.js";

const UNARY_DEADLINE_MS = 60_000;
const STREAM_DEADLINE_MS = 600_000;

export interface Target {
  readonly address: string;
  readonly apiKey?: string;
  readonly credentials?: ChannelCredentials;
  /** Separate HTTP/2 connections per workload (clients are spread over them). */
  readonly connections: number;
}

function codeName(error: unknown): string {
  const code = (error as ServiceError).code;
  return typeof code === "number" ? (status[code] ?? String(code)) : "CLIENT_ERROR";
}

/** A pool of clients with their own connections (grpc-js would otherwise share one per address). */
function pool<S extends typeof Encoder | typeof Heads | typeof TeiEmbed>(service: S, target: Target): ServiceClient<S>[] {
  return Array.from(
    { length: target.connections },
    () => new ServiceClient(service, target.address, { apiKey: target.apiKey, credentials: target.credentials, channelOptions: { "grpc.use_local_subchannel_pool": 1 } }),
  );
}

/** One Adapt stream (config, examples, commit); "OK" only when the server reports the commit. */
function adaptStream(client: ServiceClient<typeof Heads>, messages: JsonValue[]): Promise<string> {
  return new Promise((resolve) => {
    const call = client.stream("adapt", { deadline: Date.now() + STREAM_DEADLINE_MS });
    let committed = false;
    call.on("data", (response: AdaptResponse) => {
      if (response.response.case === "committed") committed = true;
    });
    call.on("error", (error) => resolve(codeName(error)));
    call.on("end", () => resolve(committed ? "OK" : "NOT_COMMITTED"));
    for (const message of messages) call.write(fromJson(AdaptRequestSchema, message));
    call.end();
  });
}

/** One tei.v1 EmbedStream; "OK" only when every message was answered. */
function teiEmbedStream(client: ServiceClient<typeof TeiEmbed>, requests: JsonValue[]): Promise<string> {
  return new Promise((resolve) => {
    const call = client.stream("embedStream", { deadline: Date.now() + STREAM_DEADLINE_MS });
    let answered = 0;
    call.on("data", (_response: TeiEmbedResponse) => answered++);
    call.on("error", (error) => resolve(codeName(error)));
    call.on("end", () => resolve(answered === requests.length ? "OK" : "MISSING_ANSWERS"));
    for (const request of requests) call.write(fromJson(TeiEmbedRequestSchema, request));
    call.end();
  });
}

export class Calls {
  private readonly closers: { close(): void }[] = [];

  constructor(
    private readonly definitions: Definitions,
    private readonly target: Target,
  ) {}

  /** The call a workload makes, bound to its own connections. */
  forWorkload(workload: Workload): Call {
    const deadline = (): number => Date.now() + UNARY_DEADLINE_MS;
    if (workload.call === "adapt") {
      const clients = this.track(pool(Heads, this.target));
      return (vu, iteration) =>
        adaptStream(clients[vu % clients.length], adaptMessages(this.definitions, adaptHead(workload, vu), workload.examplesPerStream ?? 32, vu, iteration) as JsonValue[]);
    }
    if (workload.call === "teiEmbed" || workload.call === "teiEmbedStream") {
      const tei = this.track(pool(TeiEmbed, this.target));
      if (workload.call === "teiEmbedStream") {
        return (vu, iteration) => teiEmbedStream(tei[vu % tei.length], teiEmbedStreamRequests(this.definitions, workload, iteration));
      }
      const embeds = tei.map((client) => client.unary("embed"));
      return (vu, iteration) =>
        embeds[vu % embeds.length](fromJson(TeiEmbedRequestSchema, teiEmbedRequest(this.definitions, workload, iteration)), { deadline: deadline() }).then(
          () => "OK",
          codeName,
        );
    }
    const clients = this.track(pool(Encoder, this.target));
    if (workload.call === "classify") {
      const methods = clients.map((client) => client.unary("classify"));
      return (vu, iteration) =>
        methods[vu % methods.length](fromJson(ClassifyRequestSchema, classifyRequest(this.definitions, workload, iteration)), { deadline: deadline() }).then(
          () => "OK",
          codeName,
        );
    }
    const methods = clients.map((client) => client.unary("embed"));
    return (vu, iteration) =>
      methods[vu % methods.length](fromJson(EmbedRequestSchema, embedRequest(this.definitions, workload, iteration)), { deadline: deadline() }).then(
        () => "OK",
        codeName,
      );
  }

  /** Teaches `head` with one Adapt stream; throws unless it commits. */
  async trainHead(head: string, count: number): Promise<void> {
    const [client] = this.track(pool(Heads, { ...this.target, connections: 1 }));
    const messages = adaptMessages(this.definitions, head, count, 0, Date.now()) as JsonValue[];
    const code = await adaptStream(client, messages);
    if (code !== "OK") throw new Error(`setup: the Adapt stream teaching head "${head}" ended with ${code}`);
  }

  close(): void {
    for (const client of this.closers) client.close();
  }

  private track<T extends { close(): void }>(clients: T[]): T[] {
    this.closers.push(...clients);
    return clients;
  }
}
