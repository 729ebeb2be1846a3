import { readFileSync } from "node:fs";
import { credentials } from "@grpc/grpc-js";
import type { ClientOptions } from "./grpc-client.js";

/** How a client reaches bertd: flags win over the BERTD_* environment variables. */
export interface ConnectionSettings {
  readonly address: string;
  readonly apiKey?: string;
  /** PEM file of the CA that signed the server's certificate; set = TLS. */
  readonly tlsCa?: string;
  readonly tlsClientCert?: string;
  readonly tlsClientKey?: string;
}

export type ConnectionFlags = Partial<Record<"address" | "api-key" | "tls-ca" | "tls-client-cert" | "tls-client-key", string>>;

export const DEFAULT_ADDRESS = "localhost:50051";

/** The client options every bertd client takes (flag, environment variable, meaning). */
export const CONNECTION_OPTIONS = [
  { flag: "address", env: "BERTD_ADDRESS", help: `host:port of the server (default ${DEFAULT_ADDRESS})` },
  { flag: "api-key", env: "BERTD_API_KEY", help: "API key, sent as `authorization: Bearer <key>`" },
  { flag: "tls-ca", env: "BERTD_TLS_CA", help: "PEM file of the CA that signed the server's certificate (or that certificate, if self-signed): use TLS" },
  { flag: "tls-client-cert", env: "BERTD_TLS_CLIENT_CERT", help: "PEM file of the client certificate (mutual TLS)" },
  { flag: "tls-client-key", env: "BERTD_TLS_CLIENT_KEY", help: "PEM file of the client certificate's key" },
] as const;

export class ConnectionError extends Error {}

export function connectionSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const value = (flag: keyof ConnectionFlags, name: string): string | undefined => {
    const given = flags[flag] ?? env[name];
    return given === undefined || given === "" ? undefined : given;
  };
  const settings = {
    address: value("address", "BERTD_ADDRESS") ?? DEFAULT_ADDRESS,
    apiKey: value("api-key", "BERTD_API_KEY"),
    tlsCa: value("tls-ca", "BERTD_TLS_CA"),
    tlsClientCert: value("tls-client-cert", "BERTD_TLS_CLIENT_CERT"),
    tlsClientKey: value("tls-client-key", "BERTD_TLS_CLIENT_KEY"),
  };
  // grpc-js reads "http://host:port" as a DNS name and fails with "Name resolution failed".
  const scheme = /^(https?|grpcs?):\/\//i.exec(settings.address);
  if (scheme) {
    throw new ConnectionError(`--address ${settings.address}: give HOST:PORT, without "${scheme[0]}"${/s:\/\/$/i.test(scheme[0]) ? " (TLS is --tls-ca)" : ""}`);
  }
  if ((settings.tlsClientCert === undefined) !== (settings.tlsClientKey === undefined)) {
    throw new ConnectionError("--tls-client-cert and --tls-client-key go together: give both or neither");
  }
  if (settings.tlsClientCert !== undefined && settings.tlsCa === undefined) {
    throw new ConnectionError("--tls-client-cert needs --tls-ca (client certificates are only sent over TLS)");
  }
  return settings;
}

/** Channel credentials (plaintext, or TLS from the PEM files) and the API key, for ServiceClient. */
export function clientOptions(settings: ConnectionSettings): ClientOptions {
  if (settings.tlsCa === undefined) return { apiKey: settings.apiKey };
  const tls = credentials.createSsl(
    readPem(settings.tlsCa, "--tls-ca"),
    settings.tlsClientKey === undefined ? null : readPem(settings.tlsClientKey, "--tls-client-key"),
    settings.tlsClientCert === undefined ? null : readPem(settings.tlsClientCert, "--tls-client-cert"),
  );
  return { apiKey: settings.apiKey, credentials: tls };
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConnectionError(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
