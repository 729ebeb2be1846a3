import { ServerCredentials } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
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
  const cert = readPem(files.tlsCert, "--tls-cert");
  const key = readPem(files.tlsKey, "--tls-key");
  try {
    // What grpc-js would do at bind time, so that a key that does not fit the certificate stops the start here.
    createSecureContext({ cert, key, ca: clientCa ?? undefined });
  } catch (error) {
    throw new ConfigError(`TLS: --tls-cert ${files.tlsCert}, --tls-key ${files.tlsKey}${clientCa ? `, --tls-client-ca ${files.tlsClientCa}` : ""}: ${(error as Error).message}`);
  }
  return ServerCredentials.createSsl(clientCa, [{ cert_chain: cert, private_key: key }], clientCa !== null);
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
