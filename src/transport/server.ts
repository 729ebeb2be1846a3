import type { DescFile, DescService } from "@bufbuild/protobuf";
import { Server, ServerCredentials, type ServerInterceptor, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import { encodedFileDescriptors, grpcServiceDefinition } from "./protobuf-glue.js";

const FLUSH_GRACE_MS = 250;

export interface ServerOptions {
  readonly maxReceiveMessageBytes: number;
  /** 0 = connections live forever. */
  readonly maxConnectionAgeMs?: number;
  /** 0 = calls open on an aged connection run until they finish. */
  readonly maxConnectionAgeGraceMs?: number;
  /** Run on every call, health and reflection included (authentication). */
  readonly interceptors?: ServerInterceptor[];
}

/** A protobuf service and the handlers of its methods. */
export interface ServiceBinding {
  readonly service: DescService;
  readonly implementation: UntypedServiceImplementation;
  /**
   * Whether health reports this service SERVING once the server is: a service the loaded model cannot
   * serve stays NOT_SERVING (asked when serving starts). Default: always.
   */
  readonly serving?: () => boolean;
}

/** One wire API (a protobuf package such as bertd.v1): its services, and its files for reflection. */
export interface WireApi {
  readonly services: readonly ServiceBinding[];
  readonly files: readonly DescFile[];
}

/** The gRPC server with the wire APIs' services, grpc.health.v1 and server reflection (v1 and v1alpha). */
export class GrpcServer {
  readonly server: Server;
  /** The plaintext probe port's server (grpc.health.v1 only), when bound. */
  private healthServer: Server | undefined;
  /** The health check's names: "" (the whole server) and every service's full name. */
  private readonly healthNames: readonly string[];
  private readonly bindings: readonly ServiceBinding[];
  readonly health: HealthImplementation;

  constructor(apis: readonly WireApi[], options: ServerOptions) {
    this.server = new Server({ ...grpcServerOptions(options), interceptors: options.interceptors ?? [] });
    const bindings = apis.flatMap((api) => api.services);
    for (const { service, implementation } of bindings) this.server.addService(grpcServiceDefinition(service), implementation);
    this.bindings = bindings;
    this.healthNames = ["", ...bindings.map(({ service }) => service.typeName)];
    this.health = new HealthImplementation(Object.fromEntries(this.healthNames.map((name) => [name, "NOT_SERVING"])));
    this.health.addToServer(this.server);
    reflection(apis.flatMap((api) => api.files)).addToServer(this.server);
  }

  bind(host: string, port: number, credentials = ServerCredentials.createInsecure()): Promise<number> {
    return bindServer(this.server, host, port, credentials);
  }

  /** A plaintext port serving only grpc.health.v1, sharing this server's health statuses (for probes). */
  bindHealth(host: string, port: number): Promise<number> {
    this.healthServer = new Server();
    this.health.addToServer(this.healthServer);
    return bindServer(this.healthServer, host, port, ServerCredentials.createInsecure());
  }

  setServing(serving: boolean): void {
    const value = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", value);
    for (const { service, serving: servable } of this.bindings) this.health.setStatus(service.typeName, serving && servable?.() !== false ? "SERVING" : "NOT_SERVING");
  }

  /**
   * Stops accepting calls, waits for `drained` (our in-flight calls) up to timeoutMs, then closes
   * what is left: long-lived streams such as health watches would otherwise hold shutdown open.
   */
  async shutdown(drained: Promise<void>, timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    // The last responses are still being written: give them a moment before cutting connections.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, FLUSH_GRACE_MS))]);
    this.server.forceShutdown();
    this.healthServer?.forceShutdown();
    await closed;
  }

  /** Closes everything at once (start-up failed). */
  forceShutdown(): void {
    this.server.forceShutdown();
    this.healthServer?.forceShutdown();
  }
}

function bindServer(server: Server, host: string, port: number, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
}

/** grpc-js channel options; the connection-age ones only when set (grpc-js has no "off" value but its own default). */
export function grpcServerOptions(options: ServerOptions): Record<string, number> {
  const grpcOptions: Record<string, number> = {
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    "grpc.keepalive_permit_without_calls": 1,
  };
  if (options.maxConnectionAgeMs) grpcOptions["grpc.max_connection_age_ms"] = options.maxConnectionAgeMs;
  if (options.maxConnectionAgeMs && options.maxConnectionAgeGraceMs) grpcOptions["grpc.max_connection_age_grace_ms"] = options.maxConnectionAgeGraceMs;
  return grpcOptions;
}

function reflection(files: readonly DescFile[]): ReflectionService {
  const health = loadSync(healthProtoPath, { keepCase: true });
  const ours = { wireApis: { fileDescriptorProtos: encodedFileDescriptors(files) } };
  return new ReflectionService({ ...health, ...ours } as unknown as ConstructorParameters<typeof ReflectionService>[0]);
}
