import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConnectionError, connectionSettings } from "../../src/client/connection.js";
import { type Command, UsageError, parseCommand } from "../../src/cli/command.js";
import { tag } from "../../src/cli/commands/tag.js";
import { teach } from "../../src/cli/commands/teach.js";
import { InputFileError, readInputFile } from "../../src/cli/input-file.js";
import { npyFloat32 } from "../../src/cli/npy.js";
import { exampleId, fileExamples } from "../../src/cli/teach/examples.js";
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
