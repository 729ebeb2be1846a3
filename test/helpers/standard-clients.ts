import { type Client, credentials, loadPackageDefinition, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { protoPath as healthProtoPath } from "grpc-health-check";

type Constructor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client;

function serviceConstructor(protoFile: string, path: string[]): Constructor {
  const definition = loadPackageDefinition(loadSync(protoFile, { keepCase: true, enums: String, defaults: true }));
  let node: unknown = definition;
  for (const part of path) node = (node as Record<string, unknown>)[part];
  return node as Constructor;
}

const require = createRequire(import.meta.url);
const reflectionRoot = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto", "grpc", "reflection");

export interface HealthClient {
  check(service: string): Promise<string>;
  watch(service: string, onStatus: (status: string) => void): { cancel(): void };
  close(): void;
}

/** A grpc.health.v1 client built from the health proto, as Kubernetes and grpcurl see it. */
export function healthClient(address: string): HealthClient {
  const Health = serviceConstructor(healthProtoPath, ["grpc", "health", "v1", "Health"]);
  const client = new Health(address, credentials.createInsecure()) as Client & Record<string, (...args: unknown[]) => unknown>;
  return {
    check: (service) =>
      new Promise((resolve, reject) =>
        client.Check({ service }, (error: ServiceError | null, response: { status: string }) => (error ? reject(error) : resolve(response.status))),
      ),
    watch(service, onStatus) {
      const call = client.Watch({ service }) as NodeJS.EventEmitter & { cancel(): void };
      call.on("data", (message: { status: string }) => onStatus(message.status));
      call.on("error", () => {});
      return call;
    },
    close: () => client.close(),
  };
}

/** Lists services through server reflection (v1 or v1alpha), as grpcurl does. */
export function listServices(address: string, version: "v1" | "v1alpha"): Promise<string[]> {
  const Reflection = serviceConstructor(join(reflectionRoot, version, "reflection.proto"), ["grpc", "reflection", version, "ServerReflection"]);
  const client = new Reflection(address, credentials.createInsecure()) as Client & Record<string, (...args: unknown[]) => unknown>;
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo() as NodeJS.EventEmitter & { write(m: unknown): void; end(): void };
    call.on("data", (response: { list_services_response?: { service: { name: string }[] }; error_response?: { error_message: string } }) => {
      call.end();
      client.close();
      if (response.error_response) reject(new Error(response.error_response.error_message));
      else resolve(response.list_services_response!.service.map((s) => s.name).sort());
    });
    call.on("error", reject);
    call.write({ list_services: "*" });
  });
}

/** Asks reflection for the file that defines a symbol; resolves with the file names returned. */
export function fileContainingSymbol(address: string, symbol: string): Promise<number> {
  const Reflection = serviceConstructor(join(reflectionRoot, "v1", "reflection.proto"), ["grpc", "reflection", "v1", "ServerReflection"]);
  const client = new Reflection(address, credentials.createInsecure()) as Client & Record<string, (...args: unknown[]) => unknown>;
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo() as NodeJS.EventEmitter & { write(m: unknown): void; end(): void };
    call.on("data", (response: { file_descriptor_response?: { file_descriptor_proto: Buffer[] }; error_response?: { error_message: string } }) => {
      call.end();
      client.close();
      if (response.error_response) reject(new Error(response.error_response.error_message));
      else resolve(response.file_descriptor_response!.file_descriptor_proto.length);
    });
    call.on("error", reject);
    call.write({ file_containing_symbol: symbol });
  });
}
