import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  credentials as grpcCredentials,
  makeGenericClientConstructor,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { grpcServiceDefinition } from "../transport/protobuf-glue.js";

export interface ClientOptions {
  readonly credentials?: ChannelCredentials;
  /** Sent as `authorization: Bearer …` on every call. */
  readonly apiKey?: string;
  readonly channelOptions?: Record<string, string | number>;
}

export interface UnaryOptions {
  readonly deadline?: Date | number;
  readonly metadata?: Metadata;
  readonly signal?: AbortSignal;
}

type UnaryMethod<M extends DescMethod> = (
  request: MessageInitShape<M["input"]>,
  options?: UnaryOptions,
) => Promise<MessageShape<M["output"]>>;

/**
 * A promise-based client for one protobuf-es service over grpc-js. Unary methods take message
 * inits; `stream(name)` opens a bidirectional or client stream and returns the raw grpc-js call.
 */
export class ServiceClient<S extends DescService> {
  readonly raw: Client;

  constructor(
    readonly service: S,
    address: string,
    private readonly options: ClientOptions = {},
  ) {
    const Constructor = makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName);
    this.raw = new Constructor(address, options.credentials ?? grpcCredentials.createInsecure(), options.channelOptions);
  }

  unary<K extends keyof S["method"] & string>(name: K): UnaryMethod<S["method"][K]> {
    const method = this.service.method[name];
    return (request, options = {}) =>
      new Promise((resolve, reject) => {
        const call = (this.raw as unknown as Record<string, (...args: unknown[]) => { cancel(): void }>)[method.name].call(
          this.raw,
          create(method.input, request as MessageInitShape<DescMessage>),
          this.metadata(options.metadata),
          { deadline: options.deadline } satisfies CallOptions,
          (error: ServiceError | null, response: MessageShape<S["method"][K]["output"]>) => (error ? reject(error) : resolve(response)),
        );
        options.signal?.addEventListener("abort", () => call.cancel(), { once: true });
      });
  }

  stream<K extends keyof S["method"] & string>(
    name: K,
    options: UnaryOptions = {},
  ): ClientDuplexStream<MessageShape<S["method"][K]["input"]>, MessageShape<S["method"][K]["output"]>> {
    const method = this.service.method[name];
    const open = (this.raw as unknown as Record<string, (...args: unknown[]) => unknown>)[method.name];
    return open.call(this.raw, this.metadata(options.metadata), { deadline: options.deadline }) as ClientDuplexStream<
      MessageShape<S["method"][K]["input"]>,
      MessageShape<S["method"][K]["output"]>
    >;
  }

  close(): void {
    this.raw.close();
  }

  private metadata(extra?: Metadata): Metadata {
    const metadata = extra?.clone() ?? new Metadata();
    if (this.options.apiKey) metadata.set("authorization", `Bearer ${this.options.apiKey}`);
    return metadata;
  }
}
