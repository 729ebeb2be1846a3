import { create } from "@bufbuild/protobuf";
import { type ClientDuplexStream, credentials, Metadata, type ServiceError, status, type StatusObject } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ServiceClient, type ClientOptions } from "../../src/client/grpc-client.js";
import { Encoder, EmbedStreamRequestSchema } from "../../src/gen/bertd/v1/encoder_pb.js";
import { AdaptRequestSchema } from "../../src/gen/bertd/v1/heads_pb.js";
import { newApiKey, type KeyEntry, type Scope } from "../../src/transport/auth/key-store.js";
import { makeTestPki, type TestPki } from "../helpers/certificates.js";
import { ROOT, type ServerProcess, startServer } from "../helpers/server-process.js";
import { healthClient, listServices } from "../helpers/standard-clients.js";
import { eventually } from "../helpers/eventually.js";
import { scrapeMetrics } from "../helpers/metrics.js";

/** Status of a streaming call that sends one message and ends. */
function streamStatus(call: ClientDuplexStream<unknown, unknown>, message: unknown): Promise<StatusObject> {
  return new Promise((resolve) => {
    call.on("data", () => {});
    call.on("error", () => {});
    call.on("status", resolve);
    call.write(message);
    call.end();
  });
}

async function unaryStatus(call: Promise<unknown>): Promise<{ code: status; details: string }> {
  try {
    await call;
    return { code: status.OK, details: "" };
  } catch (error) {
    const { code, details } = error as ServiceError;
    return { code, details };
  }
}

interface Rpc {
  readonly name: string;
  readonly scope: Scope;
  call(server: ServerProcess, options: ClientOptions): Promise<{ code: status; details: string }>;
}

/** Every RPC of our services, with the scope it needs and a harmless request. */
const RPCS: Rpc[] = [
  { name: "Embed", scope: "infer", call: (s, o) => unaryStatus(s.encoder(o).unary("embed")({ inputs: ["hello"] })) },
  { name: "Tokenize", scope: "infer", call: (s, o) => unaryStatus(s.encoder(o).unary("tokenize")({ inputs: ["hello"] })) },
  { name: "GetModelInfo", scope: "infer", call: (s, o) => unaryStatus(s.encoder(o).unary("getModelInfo")({})) },
  { name: "Classify", scope: "infer", call: (s, o) => unaryStatus(s.encoder(o).unary("classify")({ head: "nope", inputs: ["hello"] })) },
  {
    name: "EmbedStream",
    scope: "infer",
    call: (s, o) => streamStatus(s.encoder(o).stream("embedStream") as ClientDuplexStream<unknown, unknown>, create(EmbedStreamRequestSchema, { id: "1", request: { inputs: ["hi"] } })),
  },
  {
    name: "Adapt",
    scope: "adapt",
    call: (s, o) =>
      streamStatus(s.heads(o).stream("adapt") as ClientDuplexStream<unknown, unknown>, create(AdaptRequestSchema, { request: { case: "config", value: { head: "h", labels: ["a", "b"] } } })),
  },
  { name: "ListHeads", scope: "infer", call: (s, o) => unaryStatus(s.heads(o).unary("listHeads")({})) },
  { name: "GetHead", scope: "infer", call: (s, o) => unaryStatus(s.heads(o).unary("getHead")({ head: "nope" })) },
  { name: "DeleteHead", scope: "admin", call: (s, o) => unaryStatus(s.heads(o).unary("deleteHead")({ head: "nope" })) },
  { name: "SetActiveVersion", scope: "admin", call: (s, o) => unaryStatus(s.heads(o).unary("setActiveVersion")({ head: "nope", version: 1 })) },
];

function keysFile(entries: KeyEntry[]): string {
  const path = join(mkdtempSync(join(tmpdir(), "bertd-keys-")), "keys.jsonl");
  writeFileSync(path, entries.map((e) => JSON.stringify(e)).join("\n"));
  return path;
}

describe("API keys", () => {
  const keys = {
    infer: newApiKey("reader", ["infer"]),
    adapt: newApiKey("trainer", ["adapt"]),
    admin: newApiKey("operator", ["admin"]),
  };
  let file: string;
  let server: ServerProcess;

  before(async () => {
    file = keysFile([keys.infer.entry, keys.adapt.entry, keys.admin.entry]);
    server = await startServer(["--auth", "api-key", "--api-keys-file", file, "--no-warmup"]);
  });
  after(() => server?.stop());

  for (const rpc of RPCS) {
    it(`${rpc.name}: no key and a wrong key are UNAUTHENTICATED, another scope is PERMISSION_DENIED, its scope "${rpc.scope}" passes`, async () => {
      const none = await rpc.call(server, {});
      assert.equal(none.code, status.UNAUTHENTICATED, none.details);
      assert.match(none.details, /missing API key.*authorization: Bearer/);
      const wrong = await rpc.call(server, { apiKey: "bertd_not-a-key" });
      assert.equal(wrong.code, status.UNAUTHENTICATED);
      assert.match(wrong.details, /invalid API key/);
      for (const scope of ["infer", "adapt", "admin"] as const) {
        const result = await rpc.call(server, { apiKey: keys[scope].secret });
        if (scope === rpc.scope) {
          assert.ok(result.code !== status.UNAUTHENTICATED && result.code !== status.PERMISSION_DENIED, `${rpc.name} with its scope: ${status[result.code]} ${result.details}`);
        } else {
          assert.equal(result.code, status.PERMISSION_DENIED, `${rpc.name} with a ${scope} key: ${result.details}`);
          assert.match(result.details, new RegExp(`lacks the "${rpc.scope}" scope that bertd\\.v1\\.\\w+/${rpc.name} needs`));
        }
      }
    });
  }

  it("accepts the key however the Bearer word is cased, and rejects other schemes", async () => {
    const info = server.encoder().unary("getModelInfo");
    const metadata = new Metadata();
    metadata.set("authorization", `bearer ${keys.infer.secret}`);
    await info({}, { metadata });
    const basic = new Metadata();
    basic.set("authorization", `Basic ${keys.infer.secret}`);
    await assert.rejects(info({}, { metadata: basic }), (e: ServiceError) => e.code === status.UNAUTHENTICATED);
  });

  it("ignores a key name a client sends itself", async () => {
    const metadata = new Metadata();
    metadata.set("x-bertd-key-name", "operator");
    await assert.rejects(server.heads().unary("deleteHead")({ head: "x" }, { metadata }), (e: ServiceError) => e.code === status.UNAUTHENTICATED);
  });

  it("lets health checks and reflection through without a key", async () => {
    const health = healthClient(server.address);
    try {
      assert.equal(await health.check(""), "SERVING");
      assert.equal(await health.check("bertd.v1.Heads"), "SERVING");
    } finally {
      health.close();
    }
    assert.deepEqual(await listServices(server.address, "v1"), [
      "bertd.v1.Encoder",
      "bertd.v1.Heads",
      "grpc.health.v1.Health",
      "tei.v1.Embed",
      "tei.v1.Info",
      "tei.v1.Predict",
      "tei.v1.Rerank",
      "tei.v1.Tokenize",
    ]);
  });

  it("logs the key's name with each call and refusal, and the refused caller's peer address, never the key", async () => {
    // Earlier tests refuse DeleteHead too: this test reads the last refusals, its own.
    assert.equal((await unaryStatus(server.heads({ apiKey: keys.adapt.secret }).unary("deleteHead")({ head: "nope" }))).code, status.PERMISSION_DENIED);
    assert.equal((await unaryStatus(server.heads().unary("deleteHead")({ head: "nope" }))).code, status.UNAUTHENTICATED);
    await server.encoder({ apiKey: keys.infer.secret }).unary("tokenize")({ inputs: ["logged"] });
    await eventually(async () => server.logs.some((l) => l.msg === "call" && l.method === "/bertd.v1.Encoder/Tokenize" && l.key === "reader"), "the Tokenize call is logged with its key name");
    const refusedLine = (code: string) => server.logs.findLast((l) => l.msg === "call refused" && l.status === code && l.method === "/bertd.v1.Heads/DeleteHead");
    assert.equal(refusedLine("PERMISSION_DENIED")?.key, "trainer");
    assert.equal(refusedLine("UNAUTHENTICATED")?.key, undefined);
    for (const code of ["PERMISSION_DENIED", "UNAUTHENTICATED"]) {
      assert.match(String(refusedLine(code)?.peer), /^(ipv4:)?127\.0\.0\.1:\d+$/, `the ${code} refusal names the peer`);
      assert.equal(refusedLine(code)?.level, 40, "refusals are logged at warn");
    }
    const everything = JSON.stringify(server.logs);
    for (const { secret } of Object.values(keys)) assert.ok(!everything.includes(secret), "a key appears in the logs");
    const metrics = await scrapeMetrics(server);
    assert.ok(metrics.count("bertd_requests_total", { service: "bertd.v1.Heads", method: "/bertd.v1.Heads/DeleteHead", code: "UNAUTHENTICATED" }) >= 1);
  });

  it("reloads the keys file when it changes: a new key works, a removed one stops", async () => {
    const added = newApiKey("newcomer", ["infer"]);
    const info = (secret: string) => unaryStatus(server.encoder({ apiKey: secret }).unary("getModelInfo")({}));
    assert.equal((await info(added.secret)).code, status.UNAUTHENTICATED);
    writeFileSync(file, [keys.adapt.entry, keys.admin.entry, added.entry].map((e) => JSON.stringify(e)).join("\n"));
    await eventually(async () => (await info(added.secret)).code === status.OK, "the added key is accepted");
    assert.equal((await info(keys.infer.secret)).code, status.UNAUTHENTICATED, "the removed key still works");

    // A broken file keeps the keys in force.
    writeFileSync(file, "{not json");
    await eventually(async () => server.logs.some((l) => l.msg === "API keys not reloaded: the keys in force stay"), "the broken file is reported");
    assert.equal((await info(added.secret)).code, status.OK);

    // SIGHUP reloads too, and does not stop the server.
    writeFileSync(file, [keys.infer.entry, keys.adapt.entry, keys.admin.entry].map((e) => JSON.stringify(e)).join("\n"));
    server.process.kill("SIGHUP");
    await eventually(async () => (await info(keys.infer.secret)).code === status.OK, "the restored key is accepted");
    assert.equal((await info(added.secret)).code, status.UNAUTHENTICATED);
    server.process.kill("SIGHUP");
    await sleep(200);
    assert.equal(server.process.exitCode, null);
    assert.equal((await info(keys.infer.secret)).code, status.OK);
  });

  it("reloads a keys file replaced by `mv` (a new inode), as deployment tools and editors write it", async () => {
    const moved = newApiKey("moved-in", ["infer"]);
    const info = (secret: string) => unaryStatus(server.encoder({ apiKey: secret }).unary("getModelInfo")({}));
    const original = readFileSync(file, "utf8");
    assert.equal((await info(moved.secret)).code, status.UNAUTHENTICATED);
    const staged = join(dirname(file), "keys.jsonl.new");
    writeFileSync(staged, [keys.infer.entry, keys.adapt.entry, keys.admin.entry, moved.entry].map((e) => JSON.stringify(e)).join("\n"));
    try {
      renameSync(staged, file);
      await eventually(async () => (await info(moved.secret)).code === status.OK, "the key of the moved-in file is accepted");
      assert.equal((await info(keys.infer.secret)).code, status.OK);
    } finally {
      writeFileSync(file, original);
    }
    await eventually(async () => (await info(moved.secret)).code === status.UNAUTHENTICATED, "the restored file is in force again");
  });

  it("a key made with `npm run apikey -- --append` works once the running server sees the file change", async () => {
    const output = execFileSync(process.execPath, ["--import", "tsx", "scripts/apikey.ts", "--name", "cli-made", "--scopes", "infer,admin", "--append", file], { cwd: ROOT, encoding: "utf8" });
    const secret = /^\s+(bertd_\S+)$/m.exec(output)?.[1];
    assert.ok(secret, output);
    assert.match(output, /"name":"cli-made","sha256":"[0-9a-f]{64}","scopes":\["infer","admin"\]/);
    assert.ok(!readFileSync(file, "utf8").includes(secret), "the keys file holds the key itself");
    await eventually(async () => (await unaryStatus(server.heads({ apiKey: secret }).unary("deleteHead")({ head: "nope" }))).code === status.NOT_FOUND, "the new admin key is accepted");
  });
});

describe("authentication settings", () => {
  it("refuses to start with --auth api-key and no keys, naming the fix", async () => {
    await assert.rejects(startServer(["--auth", "api-key", "--no-warmup"]), /needs at least one API key: set --api-keys-file.*--auth none/s);
    await assert.rejects(startServer([], { BERTD_AUTH: "api-key" }), /needs at least one API key/);
  });

  it("refuses a keys file with a bad entry, naming the line", async () => {
    const file = keysFile([newApiKey("ok", ["infer"]).entry]);
    writeFileSync(file, `${JSON.stringify(newApiKey("ok", ["infer"]).entry)}\n{"name": "bad", "sha256": "abc", "scopes": ["infer"]}\n`);
    await assert.rejects(startServer(["--auth", "api-key", "--api-keys-file", file]), /keys\.jsonl line 2 \(bad\): sha256 must be 64/);
    await assert.rejects(startServer(["--auth", "api-key", "--api-keys-file", "/nonexistent/keys"]), /cannot read the API keys file \/nonexistent\/keys/);
  });

  it("takes keys from BERTD_API_KEYS (a JSON array)", async () => {
    const key = newApiKey("from-env", ["infer", "admin"]);
    const server = await startServer(["--no-warmup"], { BERTD_AUTH: "api-key", BERTD_API_KEYS: JSON.stringify([key.entry]) });
    try {
      await server.encoder({ apiKey: key.secret }).unary("getModelInfo")({});
      await assert.rejects(server.encoder().unary("getModelInfo")({}), (e: ServiceError) => e.code === status.UNAUTHENTICATED);
    } finally {
      await server.stop();
    }
  });

  it("--auth none serves everyone, says so at warn, and logs no key name a client sends itself", async () => {
    const server = await startServer(["--auth", "none", "--no-warmup"]);
    try {
      const metadata = new Metadata();
      metadata.set("x-bertd-key-name", "operator");
      await server.heads().unary("listHeads")({}, { metadata });
      const warning = server.logs.find((l) => typeof l.msg === "string" && l.msg.startsWith("AUTHENTICATION IS OFF"));
      assert.ok(warning, "no warning about --auth none");
      assert.equal(warning.level, 40);
      await eventually(async () => server.logs.some((l) => l.msg === "call" && l.method === "/bertd.v1.Heads/ListHeads"), "the ListHeads call is logged");
      const line = server.logs.find((l) => l.msg === "call" && l.method === "/bertd.v1.Heads/ListHeads")!;
      assert.equal(line.key, undefined, "a client-sent x-bertd-key-name was logged as the call's key");
    } finally {
      await server.stop();
    }
  });
});

describe("TLS", () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });

  const info = (server: ServerProcess, options: ClientOptions) => unaryStatus(server.encoder(options).unary("getModelInfo")({}, { deadline: Date.now() + 5000 }));

  it("serves TLS to clients that trust its CA; plaintext and other CAs fail the handshake; the health port stays plaintext", async () => {
    const server = await onFreePort((port) => startServer(["--tls-cert", pki.server.certPath, "--tls-key", pki.server.keyPath, "--health-port", String(port), "--no-warmup"]));
    try {
      assert.equal((await info(server, { credentials: credentials.createSsl(pki.ca.cert) })).code, status.OK);
      assert.equal((await info(server, { credentials: credentials.createInsecure() })).code, status.UNAVAILABLE);
      assert.equal((await info(server, { credentials: credentials.createSsl(pki.otherCa.cert) })).code, status.UNAVAILABLE);

      assert.ok(server.healthPort, "the serving log names the health port");
      const health = healthClient(`127.0.0.1:${server.healthPort}`);
      const seen: string[] = [];
      health.watch("bertd.v1.Encoder", (s) => seen.push(s));
      try {
        assert.equal(await health.check(""), "SERVING");
        // The probe port serves health only.
        const onProbePort = new ServiceClient(Encoder, `127.0.0.1:${server.healthPort}`);
        await assert.rejects(onProbePort.unary("getModelInfo")({}), (e: ServiceError) => e.code === status.UNIMPLEMENTED);
        onProbePort.close();
        await eventually(async () => seen.includes("SERVING"), "the watch sees SERVING");
        // SIGTERM flips health on the probe port too.
        const stopped = server.stop();
        await eventually(async () => seen.includes("NOT_SERVING"), "the probe port reports NOT_SERVING on SIGTERM");
        assert.equal(await stopped, 0);
      } finally {
        health.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("mutual TLS: a client certificate from the trusted CA passes; none, or one from another CA, fails", async () => {
    const key = newApiKey("mtls", ["infer"]);
    const server = await startServer([
      "--tls-cert", pki.server.certPath, "--tls-key", pki.server.keyPath, "--tls-client-ca", pki.ca.certPath,
      "--auth", "api-key", "--api-keys", JSON.stringify(key.entry), "--no-warmup",
    ]);
    try {
      const good = credentials.createSsl(pki.ca.cert, pki.client.key, pki.client.cert);
      assert.equal((await info(server, { credentials: good, apiKey: key.secret })).code, status.OK);
      assert.equal((await info(server, { credentials: good })).code, status.UNAUTHENTICATED, "mutual TLS does not replace the key");
      assert.equal((await info(server, { credentials: credentials.createSsl(pki.ca.cert), apiKey: key.secret })).code, status.UNAVAILABLE);
      const stranger = credentials.createSsl(pki.ca.cert, pki.strangerClient.key, pki.strangerClient.cert);
      assert.equal((await info(server, { credentials: stranger, apiKey: key.secret })).code, status.UNAVAILABLE);
      assert.equal((await info(server, { credentials: credentials.createInsecure(), apiKey: key.secret })).code, status.UNAVAILABLE);
      assert.equal(server.process.exitCode, null);
    } finally {
      await server.stop();
    }
  });

  it("a client refuses a server whose certificate another CA signed", async () => {
    const server = await startServer(["--tls-cert", pki.strangerServer.certPath, "--tls-key", pki.strangerServer.keyPath, "--no-warmup"]);
    try {
      assert.equal((await info(server, { credentials: credentials.createSsl(pki.ca.cert) })).code, status.UNAVAILABLE);
      assert.equal((await info(server, { credentials: credentials.createSsl(pki.otherCa.cert) })).code, status.OK);
    } finally {
      await server.stop();
    }
  });

  it("refuses half or unreadable TLS settings at start", async () => {
    await assert.rejects(startServer(["--tls-cert", pki.server.certPath]), /--tls-cert and --tls-key go together/);
    await assert.rejects(startServer(["--tls-client-ca", pki.ca.certPath]), /--tls-client-ca \(mutual TLS\) needs --tls-cert/);
    await assert.rejects(startServer(["--tls-cert", "/nonexistent.crt", "--tls-key", pki.server.keyPath]), /--tls-cert \/nonexistent\.crt: ENOENT/);
    await assert.rejects(startServer(["--tls-cert", pki.server.certPath, "--tls-key", pki.client.keyPath]), /TLS: --tls-cert .*server\.crt, --tls-key .*client\.key: .*key values mismatch/);
  });
});

/**
 * Starts on a port that was free a moment ago; another process may take it in between, so a start
 * that fails with EADDRINUSE is retried on another port.
 */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (attempt >= 5 || !/EADDRINUSE|address already in use/i.test(String(error))) throw error;
    }
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
