import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Server, ServerCredentials, type Metadata, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { Encoder, GetModelInfoResponseSchema, type GetModelInfoResponse } from "../../src/gen/bertd/v1/encoder_pb.js";
import { grpcServiceDefinition } from "../../src/transport/protobuf-glue.js";
import { ROOT } from "../helpers/server-process.js";

/**
 * The client side of --tls-ca, --tls-client-cert/--tls-client-key and --api-key, through the real
 * launcher, against a grpc-js server with mutual TLS that answers GetModelInfo and records the
 * metadata it received. (This branch's bertd server has no TLS of its own yet.)
 */
describe("bertd client connection: TLS, client certificates, API key", () => {
  const dir = mkdtempSync(join(tmpdir(), "bertd-tls-"));
  const pem = (name: string): string => join(dir, name);
  const received: Metadata[] = [];
  let server: Server;
  let address: string;

  const openssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const issue = (name: string, cn: string): void => {
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(pem(`${name}.ext`), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`);
  };

  before(async () => {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=bertd test CA");
    issue("server", "localhost");
    issue("client", "bertd client");
    server = new Server();
    server.addService(grpcServiceDefinition(Encoder), {
      GetModelInfo: (call: ServerUnaryCall<unknown, GetModelInfoResponse>, callback: sendUnaryData<GetModelInfoResponse>) => {
        received.push(call.metadata);
        callback(null, create(GetModelInfoResponseSchema, { modelId: "tls-check", hiddenSize: 8 }));
      },
    });
    const credentials = ServerCredentials.createSsl(readFileSync(pem("ca.pem")), [{ private_key: readFileSync(pem("server.key")), cert_chain: readFileSync(pem("server.pem")) }], true);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", credentials, (error, p) => (error ? reject(error) : resolve(p))));
    address = `localhost:${port}`;
  });
  after(() => server?.forceShutdown());

  const bertd = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const child = spawn(process.execPath, [join(ROOT, "bin/bertd.js"), ...args], { cwd: ROOT, env: { ...process.env, BERTD_API_KEY: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    return { code, stdout, stderr };
  };

  it("connects with the CA and a client certificate, from flags or BERTD_* variables, and sends the API key", async () => {
    const byFlags = await bertd(["info", "--json", "--address", address, "--tls-ca", pem("ca.pem"), "--tls-client-cert", pem("client.pem"), "--tls-client-key", pem("client.key"), "--api-key", "k-flag"]);
    assert.equal(byFlags.code, 0, byFlags.stderr);
    assert.equal((JSON.parse(byFlags.stdout) as { model: string }).model, "tls-check");
    assert.deepEqual(received.at(-1)!.get("authorization"), ["Bearer k-flag"]);

    const byEnv = await bertd(["info"], { BERTD_ADDRESS: address, BERTD_TLS_CA: pem("ca.pem"), BERTD_TLS_CLIENT_CERT: pem("client.pem"), BERTD_TLS_CLIENT_KEY: pem("client.key"), BERTD_API_KEY: "k-env" });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.deepEqual(received.at(-1)!.get("authorization"), ["Bearer k-env"]);
  });

  it("fails with one line without the client certificate, or over plaintext", async () => {
    const count = received.length;
    const noCert = await bertd(["info", "--address", address, "--tls-ca", pem("ca.pem")]);
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /^bertd: UNAVAILABLE: [^\n]*\n$/);
    const plain = await bertd(["info", "--address", address]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /^bertd: UNAVAILABLE: [^\n]*\n$/);
    assert.equal(received.length, count);
  });
});
