import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConnectionError, connectionSettings } from "../../src/client/connection.js";
import { type Command, UsageError, parseCommand } from "../../src/cli/command.js";
import { tag } from "../../src/cli/commands/tag.js";
import { describeFailure } from "../../src/cli/errors.js";
import { teach } from "../../src/cli/commands/teach.js";
import { InputFileError, readInputFile } from "../../src/cli/input-file.js";
import { npyFloat32 } from "../../src/cli/npy.js";
import { exampleId, fileExamples } from "../../src/cli/teach/examples.js";
import { TeachProgress } from "../../src/cli/teach/progress-display.js";
import { PrefixHasher, prefixHash } from "../../src/cli/teach/resume-state.js";

describe("client connection settings", () => {
  it("flags win over BERTD_* variables, which win over the default", () => {
    assert.equal(connectionSettings({}, {}).address, "localhost:50051");
    assert.equal(connectionSettings({}, { BERTD_ADDRESS: "a:1" }).address, "a:1");
    assert.equal(connectionSettings({ address: "b:2" }, { BERTD_ADDRESS: "a:1" }).address, "b:2");
    const tls = connectionSettings({ "tls-client-key": "k.pem" }, { BERTD_API_KEY: "secret", BERTD_TLS_CA: "ca.pem", BERTD_TLS_CLIENT_CERT: "c.pem" });
    assert.deepEqual(tls, { address: "localhost:50051", apiKey: "secret", tlsCa: "ca.pem", tlsClientCert: "c.pem", tlsClientKey: "k.pem" });
  });

  it("refuses half a client certificate, or one without TLS", () => {
    assert.throws(() => connectionSettings({ "tls-client-cert": "c.pem" }, { BERTD_TLS_CA: "ca.pem" }), ConnectionError);
    assert.throws(() => connectionSettings({ "tls-client-cert": "c.pem", "tls-client-key": "k.pem" }, {}), /needs --tls-ca/);
  });
});

describe("resume prefix hash", () => {
  it("hashes incrementally what a fresh hash of the same prefix gives", () => {
    const bytes = Buffer.from("a\nbb\n\nccc\nd");
    const hasher = new PrefixHasher(bytes);
    const distinct = new Set<string>();
    for (const line of [0, 1, 2, 4, 5, 6]) {
      const incremental = hasher.upTo(line);
      assert.equal(incremental, prefixHash(bytes, line));
      distinct.add(incremental);
    }
    assert.equal(distinct.size, 6 - 1, "line 6 does not exist: same bytes as line 5");
    assert.throws(() => hasher.upTo(2), /before line/);
  });
});

describe(".npy writer", () => {
  it("writes a version 1.0 header aligned to 64 bytes and little-endian float32 rows", () => {
    for (const rows of [0, 1, 3, 1000]) {
      const matrix = Array.from({ length: rows }, (_, r) => Float32Array.from({ length: 5 }, (_, c) => r - c / 4));
      const bytes = npyFloat32(matrix, 5);
      const headerLength = bytes.readUInt16LE(8);
      assert.equal((10 + headerLength) % 64, 0);
      const header = bytes.subarray(10, 10 + headerLength).toString("latin1");
      assert.ok(header.endsWith("\n"));
      assert.match(header, new RegExp(`'shape': \\(${rows}, 5\\)`));
      assert.equal(bytes.length, 10 + headerLength + rows * 5 * 4);
      if (rows > 0) assert.equal(bytes.readFloatLE(10 + headerLength + (rows * 5 - 1) * 4), rows - 1 - 1);
    }
  });
});

describe("input files", () => {
  const dir = mkdtempSync(join(tmpdir(), "bertd-input-"));
  const file = (name: string, content: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it("reads JSON lines, CSV (quoted newlines, BOM) and text, keeping line numbers", () => {
    assert.deepEqual(readInputFile(file("a.jsonl", '\n{"text":"x","label":"l"}\r\n{"text":"y","label":["l","m"]}')).records.map((r) => r.line), [2, 3]);
    const csv = readInputFile(file("a.csv", '\ufefftext,label\n"two\nlines",l\nz,m\n'));
    assert.deepEqual(csv.records.map((r) => [r.line, r.fields.text]), [[3, "two\nlines"], [4, "z"]]);
    assert.deepEqual(readInputFile(file("a.txt", "one\n\ntwo\n")).records.map((r) => [r.line, r.fields.text]), [[1, "one"], [3, "two"]]);
  });

  it("locates invalid UTF-8 on its line", () => {
    const path = file("bad.txt", Buffer.concat([Buffer.from("ok\nok\n"), Buffer.from([0xff, 0x41]), Buffer.from("\nok\n")]));
    assert.throws(() => readInputFile(path), (error: unknown) => error instanceof InputFileError && error.line === 3);
  });

  it("gives ids from file name and line, or from a field, and finds repeated ids", () => {
    const input = readInputFile(file("ids.jsonl", '{"id":"p","text":"x","label":"a"}\n{"id":"q","text":"y","label":"b"}\n{"id":"p","text":"z","label":"a"}\n'));
    const byLine = fileExamples(input, { text: "text", label: "label" }).examples.map((e) => e.id);
    assert.deepEqual(byLine, [exampleId("ids.jsonl", 1, "x", ["a"]), exampleId("ids.jsonl", 2, "y", ["b"]), exampleId("ids.jsonl", 3, "z", ["a"])]);
    assert.match(byLine[0], /^ids\.jsonl:1:[0-9a-f]{8}$/);
    assert.notEqual(exampleId("ids.jsonl", 1, "x", ["a"]), exampleId("ids.jsonl", 1, "x", ["b"]), "an edited line gets a new id");
    const byField = fileExamples(input, { text: "text", label: "label", id: "id" });
    assert.deepEqual(byField.examples.map((e) => e.id), ["p", "q"]);
    assert.match(byField.problems[0].message, /ids\.jsonl:3: id "p" repeats line 1/);
  });

  it("reads TOKEN examples: words and one tag per word; an edited tag gives a new id", () => {
    const line = (tags: string[]) => JSON.stringify({ words: ["Ann", "met", "Bo"], tags });
    const input = readInputFile(file("tok.jsonl", `${line(["B-PER", "O", "B-PER"])}\n${line(["B-PER", "O", "O"])}\n${line(["B-PER", "O"])}\n`));
    const { examples, problems } = fileExamples(input, { words: "words", tags: "tags" });
    assert.deepEqual(examples.map((e) => e.content), [{ words: ["Ann", "met", "Bo"], tags: ["B-PER", "O", "B-PER"] }, { words: ["Ann", "met", "Bo"], tags: ["B-PER", "O", "O"] }]);
    assert.notEqual(examples[0].id.split(":")[2], examples[1].id.split(":")[2]);
    assert.deepEqual(problems.map((p) => [p.line, p.problem]), [[3, "2 tags for 3 words (one tag per word)"]]);
  });
});

describe("TOKEN flags of bertd teach and bertd tag", () => {
  const usage = async (command: Command, args: string[], message: RegExp): Promise<void> => {
    const parsed = parseCommand(command, args);
    assert.notEqual(parsed, "help");
    if (parsed === "help") return;
    await assert.rejects(command.run(parsed), (error: unknown) => error instanceof UsageError && message.test(error.message));
  };

  it("refuse flags of the other kind of head and files that cannot hold words, before reading or connecting", async () => {
    await usage(teach, ["--type", "token", "--head", "h", "--file", "data.csv"], /^--type token reads JSON lines \(\.jsonl\) with a words array and a tags array; data\.csv is not \.jsonl$/);
    await usage(teach, ["--type", "token", "--head", "h", "--file", "d.jsonl", "--label-field", "tags"], /^--label-field is for text heads, not --type token/);
    await usage(teach, ["--head", "h", "--file", "d.jsonl", "--words-field", "w"], /^--words-field needs --type token/);
    await usage(tag, ["--head", "h", "--words", "--file", "data.csv"], /^--words --file reads JSON lines/);
    await usage(tag, ["--head", "h", "--words-field", "w", "x"], /^--words-field needs --words/);
    await usage(tag, ["--head", "h", "--words", "--text-field", "t", "x"], /^--text-field is for texts, not --words/);
    await usage(tag, ["--head", "h", "--words", "  "], /^an empty TEXT has no words/);
    await usage(tag, ["x"], /^--head is required/);
    await usage(tag, ["--head", "h"], /^nothing to do: give TEXT arguments or --file/);
    await usage(tag, ["--head", "h", "--min-version", "0", "x"], /^--min-version 0: expected an integer ≥ 1/);
  });
});

describe("the one line of an obvious mistake", () => {
  const grpcError = (code: number, details: string): Error => Object.assign(new Error(details), { code, details });

  it("names a missing or unreadable file by its path, without node's errno prefix", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'train.jsonl'"), { code: "ENOENT", path: "train.jsonl" });
    assert.deepEqual(describeFailure(enoent), { line: "train.jsonl: no such file or directory", code: 1 });
    const dir = mkdtempSync(join(tmpdir(), "bertd-cli-"));
    assert.throws(() => readInputFile(dir), (error: unknown) => describeFailure(error).line === `${dir}: is a directory, not a file`);
  });

  it("hints at the address when nothing answers there, and at TLS when something did", () => {
    const refused = grpcError(14, "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:50099");
    assert.match(describeFailure(refused, "localhost:50099").line, /ECONNREFUSED 127\.0\.0\.1:50099 \(is bertd serving at localhost:50099\?\)$/);
    const plaintextToTls = grpcError(14, "No connection established. Last error: Failed to connect (2026-12-02T15:56:05.122Z)");
    assert.match(describeFailure(plaintextToTls, "localhost:50051").line, /\(is bertd serving at localhost:50051\? if it serves TLS, give --tls-ca\)$/);
    const tlsToPlaintext = grpcError(14, "No connection established. Last error: Error: 80FC6BD4397F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:");
    assert.equal(describeFailure(tlsToPlaintext, "localhost:50051", true).line, "UNAVAILABLE: No connection established. Last error: TLS handshake failed: wrong version number (is bertd serving TLS at localhost:50051?)");
    assert.equal(describeFailure(grpcError(14, "the model is still loading"), "localhost:50051").line, "UNAVAILABLE: the model is still loading", "the server's own UNAVAILABLE: no hint");
  });

  it("tells how to send the key a server asks for", () => {
    const missing = grpcError(16, "missing API key: send metadata `authorization: Bearer <key>`");
    assert.equal(describeFailure(missing, "localhost:50051").line, "UNAUTHENTICATED: missing API key: send metadata `authorization: Bearer <key>` (give --api-key KEY or set BERTD_API_KEY)");
    assert.equal(describeFailure(grpcError(16, "invalid API key"), "localhost:50051").line, "UNAUTHENTICATED: invalid API key");
  });

  it("refuses an address with a URL scheme before connecting", () => {
    assert.throws(() => connectionSettings({ address: "http://localhost:50051" }, {}), /^Error: --address http:\/\/localhost:50051: give HOST:PORT, without "http:\/\/"$/);
    assert.throws(() => connectionSettings({}, { BERTD_ADDRESS: "https://bertd.internal:443" }), /without "https:\/\/" \(TLS is --tls-ca\)$/);
    assert.equal(connectionSettings({ address: "dns:///bertd.internal:50051" }, {}).address, "dns:///bertd.internal:50051");
  });

  it("teach's plain progress does not repeat its last line at the end", () => {
    let written = "";
    const stream = { isTTY: false, write: (text: string) => ((written += text), true) } as unknown as NodeJS.WriteStream;
    const progress = new TeachProgress(10, 0, false, stream, 0);
    progress.update({ done: 5, loss: 1, prequentialAccuracy: 0.5 });
    progress.update({ done: 10, loss: 0.5, prequentialAccuracy: 0.6 });
    progress.stop();
    assert.deepEqual(written.trim().split("\n").map((line) => line.split(" ")[1]), ["5/10", "10/10"]);
  });
});
