import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RateLimiter } from "../../src/adaptation/limits.js";
import { loadConfig } from "../../src/config.js";
import { KeyStore, newApiKey, parseKeyEntries, sha256Hex } from "../../src/transport/auth/key-store.js";
import { scopeOf } from "../../src/transport/auth/scopes.js";

describe("API key store", () => {
  it("reads JSON lines (with comments and blank lines) and JSON arrays", () => {
    const a = newApiKey("a", ["infer"]).entry;
    const b = newApiKey("b", ["adapt", "admin"]).entry;
    assert.deepEqual(parseKeyEntries(`# keys\n${JSON.stringify(a)}\n\n${JSON.stringify(b)}\n`, "f"), [a, b]);
    assert.deepEqual(parseKeyEntries(JSON.stringify([a, b]), "f"), [a, b]);
    assert.deepEqual(parseKeyEntries("  \n", "f"), []);
  });

  it("names the entry and the problem in errors", () => {
    const hash = sha256Hex("k");
    assert.throws(() => parseKeyEntries(`{"name": "x", "sha256": "${hash}", "scopes": ["infer"]}\nnope`, "keys"), /keys line 2: not JSON/);
    assert.throws(() => parseKeyEntries(`[{"name": "x", "sha256": "${hash}", "scopes": ["root"]}]`, "keys"), /keys entry 1 \(x\): unknown scope "root"/);
    assert.throws(() => parseKeyEntries(`{"name": "x", "sha256": "${hash}", "scopes": []}`, "keys"), /scopes must be a non-empty array/);
    assert.throws(() => parseKeyEntries(`{"name": "", "sha256": "${hash}", "scopes": ["infer"]}`, "keys"), /name must be/);
    assert.throws(() => parseKeyEntries(`{"name": "x", "sha256": "${hash.toUpperCase()}", "scopes": ["infer"]}`, "keys"), /sha256 must be 64 lower-case hex/);
  });

  it("verifies keys by their hash, merges file and inline keys, refuses duplicate names", () => {
    const inFile = newApiKey("file-key", ["infer"]);
    const inline = newApiKey("env-key", ["admin"]);
    const file = join(mkdtempSync(join(tmpdir(), "bertd-keys-")), "keys.jsonl");
    writeFileSync(file, JSON.stringify(inFile.entry));
    const store = new KeyStore({ file, inline: JSON.stringify([inline.entry]) });
    assert.deepEqual(store.names(), ["file-key", "env-key"]);
    assert.equal(store.verify(inFile.secret)?.name, "file-key");
    assert.deepEqual([...store.verify(inline.secret)!.scopes], ["admin"]);
    assert.equal(store.verify(`${inFile.secret}x`), undefined);
    assert.equal(store.verify(""), undefined);
    assert.equal(inFile.entry.sha256, sha256Hex(inFile.secret));
    assert.ok(!JSON.stringify(inFile.entry).includes(inFile.secret));

    writeFileSync(file, JSON.stringify({ ...inFile.entry, name: "env-key" }));
    assert.throws(() => store.reload(), /key name "env-key" appears twice/);
    assert.equal(store.verify(inFile.secret)?.name, "file-key", "a failed reload keeps the keys in force");
  });
});

describe("scopes", () => {
  it("maps every method to its scope; health and reflection need none; unknown services need admin", () => {
    assert.equal(scopeOf("/bertd.v1.Encoder/Embed"), "infer");
    assert.equal(scopeOf("/bertd.v1.Encoder/Tag"), "infer");
    assert.equal(scopeOf("/bertd.v1.Heads/Adapt"), "adapt");
    assert.equal(scopeOf("/bertd.v1.Heads/GetHead"), "infer");
    assert.equal(scopeOf("/bertd.v1.Heads/ListHeads"), "infer");
    assert.equal(scopeOf("/bertd.v1.Heads/DeleteHead"), "admin");
    assert.equal(scopeOf("/bertd.v1.Heads/SetActiveVersion"), "admin");
    assert.equal(scopeOf("/bertd.v1.Heads/SomethingNew"), "admin");
    assert.equal(scopeOf("/grpc.health.v1.Health/Check"), undefined);
    assert.equal(scopeOf("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"), undefined);
    assert.equal(scopeOf("/other.Service/Do"), "admin");
  });
});

describe("rate limiter", () => {
  it("gives a second's worth at once, then paces the rest to the rate, per key", () => {
    const limiter = new RateLimiter(10);
    const waits = Array.from({ length: 15 }, () => limiter.reserve("a", 0));
    assert.deepEqual(waits.slice(0, 10), Array(10).fill(0), "a full bucket: no wait");
    assert.deepEqual(waits.slice(10), [100, 200, 300, 400, 500], "then one token every 100 ms, in the order asked");
    assert.equal(limiter.reserve("b", 0), 0, "another key has its own bucket");
    assert.equal(limiter.reserve("a", 600), 0, "the debt is paid by 600 ms; the 16th token is there at 600");
    assert.equal(limiter.reserve("a", 650), 50, "half a token after 50 ms more");
    for (let i = 0; i < 50; i++) limiter.reserve("c", 10_000);
    assert.equal(limiter.reserve("c", 20_000), 0);
    const after = Array.from({ length: 10 }, () => limiter.reserve("c", 20_000));
    assert.equal(after.filter((w) => w === 0).length, 9, "the bucket holds no more than one second's worth");
    const unlimited = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) assert.equal(unlimited.reserve("a", 0), 0);
  });
});

describe("security options", () => {
  it("defaults to API keys and checks TLS options go together", () => {
    assert.equal(loadConfig([], {}).auth, "api-key");
    assert.equal(loadConfig(["--auth", "none"], {}).auth, "none");
    assert.throws(() => loadConfig(["--auth", "off"], {}), /--auth .* must be one of api-key, none/);
    assert.throws(() => loadConfig(["--tls-key", "k.pem"], {}), /--tls-cert and --tls-key go together/);
    assert.throws(() => loadConfig([], { BERTD_TLS_CLIENT_CA: "ca.pem" }), /--tls-client-ca \(mutual TLS\) needs --tls-cert/);
    assert.equal(loadConfig(["--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca"], {}).tlsClientCa, "ca");
  });
});
