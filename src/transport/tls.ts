import { ServerCredentials } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config.js";

export interface TlsFiles {
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsClientCa: string;
}

/** Plaintext without --tls-cert; TLS with it; mutual TLS (a verified client certificate required) with --tls-client-ca. */
export function serverCredentials(files: TlsFiles): ServerCredentials {
  if (!files.tlsCert) return ServerCredentials.createInsecure();
  const clientCa = files.tlsClientCa ? readPem(files.tlsClientCa, "--tls-client-ca") : null;
  return ServerCredentials.createSsl(clientCa, [{ cert_chain: readPem(files.tlsCert, "--tls-cert"), private_key: readPem(files.tlsKey, "--tls-key") }], clientCa !== null);
}

function readPem(path: string, flag: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${flag} ${path}: ${(error as Error).message}`);
  }
  if (!pem.includes("-----BEGIN ")) throw new ConfigError(`${flag} ${path} is not PEM (no "-----BEGIN" line)`);
  return pem;
}
