import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { AdaptRequestSchema, type AdaptResponse } from "../../src/gen/bertd/v1/heads_pb.js";
import { type Run, pngColors, startCli } from "../helpers/cli-process.js";
import { RANDOM_MODEL_DIR, ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

const SECTIONS = readFileSync(join(ROOT, "test/fixtures/debian-package-sections/train.jsonl"), "utf8").trim().split("\n");

/** A plain fixture file of the first `count` Debian sections examples (the id field dropped: ids are file:line). */
function sectionsFile(dir: string, name: string, count: number): string {
  const path = join(dir, name);
  const lines = SECTIONS.slice(0, count).map((line) => {
    const { text, label } = JSON.parse(line) as { text: string; label: string };
    return JSON.stringify({ text, label });
  });
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

describe("bertd command line", () => {
  let server: ServerProcess;
  let dataDir: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  // Every bertd process a test starts; after() kills those still running, so that a failed or timed-out
  // test (a teach run not yet interrupted, a `bertd serve` that never served) leaves none behind.
  const children: ReturnType<typeof startCli>[] = [];
  const start = (args: readonly string[], environment: NodeJS.ProcessEnv): ReturnType<typeof startCli> => {
    const child = startCli(args, environment);
    children.push(child);
    return child;
  };
  const bertd = (...args: string[]): Promise<Run> => start(args, env).output;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "bertd-cli-data-"));
    dir = mkdtempSync(join(tmpdir(), "bertd-cli-"));
    server = await startServer(["--data-dir", dataDir]);
    env = { BERTD_ADDRESS: server.address, BERTD_API_KEY: "", BERTD_TLS_CA: "" };
  });
  after(async () => {
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    for (const child of running) child.kill("SIGKILL");
    await Promise.all(running.map((child) => child.output));
    await server?.stop();
  });

  it("prints help with examples for every command, and usage errors exit 2", async () => {
    const overview = await bertd("--help");
    assert.equal(overview.code, 0);
    for (const command of ["serve", "embed", "classify", "tag", "teach", "heads", "tokenize", "info"]) assert.match(overview.stdout, new RegExp(`^  ${command} `, "m"));
    for (const command of ["embed", "classify", "tag", "teach", "heads", "tokenize", "info"]) {
      const help = await bertd(command, "--help");
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Examples:\n {2}bertd /);
      assert.match(help.stdout, /--address HOST:PORT .*BERTD_ADDRESS/);
      assert.match(help.stdout, /--tls-client-key/);
    }
    const serveHelp = await bertd("serve", "--help");
    assert.match(serveHelp.stdout, /--max-batch-tokens/);
    const unknown = await bertd("embed", "--bogus", "x");
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "bertd: unknown option --bogus (see bertd embed --help)\n");
    const halfTls = await bertd("info", "--tls-ca", "ca.pem", "--tls-client-cert", "cert.pem");
    assert.equal(halfTls.code, 2);
    assert.match(halfTls.stderr, /^bertd: --tls-client-cert and --tls-client-key go together/);
    const missingCa = await bertd("info", "--tls-ca", join(dir, "no-such-ca.pem"));
    assert.equal(missingCa.code, 2);
    assert.match(missingCa.stderr, /^bertd: --tls-ca .*no-such-ca\.pem: ENOENT\n$/);
    const noCommand = await bertd("frobnicate");
    assert.equal(noCommand.code, 2);
  });

  it("fails with one line naming the status, and exits 1", async () => {
    const missing = await bertd("classify", "--head", "nope", "x");
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'bertd: NOT_FOUND: head "nope" does not exist\n');
    const down = await bertd("info", "--address", "127.0.0.1:1");
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^bertd: UNAVAILABLE: .*\(is bertd serving at 127\.0\.0\.1:1\?\)\n$/);
    const flagWins = await start(["info", "--address", server.address], { BERTD_ADDRESS: "127.0.0.1:1" }).output;
    assert.equal(flagWins.code, 0, flagWins.stderr);
  });

  it("info and tokenize", async () => {
    const info = await bertd("info", "--json");
    assert.equal(info.code, 0, info.stderr);
    const model = await server.encoder().unary("getModelInfo")({});
    const fields = JSON.parse(info.stdout) as Record<string, unknown>;
    assert.equal(fields.model_hash, model.modelHash);
    assert.equal(fields.hidden_size, model.hiddenSize);
    assert.equal(fields.tokenizer_type, "WordPiece");
    const text = (await bertd("info")).stdout;
    assert.match(text, /^hidden_size: +128$/m);
    assert.match(text, /^tokenizer_type: +WordPiece$/m);
    const tokens = await bertd("tokenize", "Hello, wórld!");
    assert.equal(tokens.stdout, "[CLS] hello , world ! [SEP]\n101 7592 1010 2088 999 102\n(6 tokens)\n");
    const bare = JSON.parse((await bertd("tokenize", "--json", "--no-special-tokens", "unaffable")).stdout) as { tokens: string[]; ids: number[] };
    const expected = await server.encoder().unary("tokenize")({ inputs: ["unaffable"] });
    assert.deepEqual(bare.tokens, expected.encodings[0].tokens);
  });

  it("embed prints JSON lines and writes .npy and .jsonl files with the server's vectors", async () => {
    const texts = ["a fast text editor", "a chess game", "tools for email"];
    const reference = await server.encoder().unary("embed")({ inputs: texts, normalize: true });
    const printed = await bertd("embed", "--normalize", ...texts);
    assert.equal(printed.code, 0, printed.stderr);
    const lines = printed.stdout.trim().split("\n").map((line) => JSON.parse(line) as { text: string; embedding: number[] });
    assert.deepEqual(lines.map((l) => l.text), texts);
    lines.forEach((line, i) => {
      assert.equal(line.embedding.length, 128);
      line.embedding.forEach((v, j) => assert.ok(Math.abs(v - reference.embeddings[i].values[j]) < 1e-6));
    });

    const input = join(dir, "texts.csv");
    writeFileSync(input, `name,description\nvim,"${texts[0]}"\nxboard,${texts[1]}\nmutt,${texts[2]}\n`);
    const npy = join(dir, "vectors.npy");
    const wrote = await bertd("embed", "--file", input, "--text-field", "description", "--normalize", "--out", npy);
    assert.equal(wrote.code, 0, wrote.stderr);
    const bytes = readFileSync(npy);
    assert.equal(bytes.subarray(0, 8).toString("latin1"), "\x93NUMPY\x01\x00");
    const headerLength = bytes.readUInt16LE(8);
    assert.equal((10 + headerLength) % 64, 0);
    const header = bytes.subarray(10, 10 + headerLength).toString("latin1");
    assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 128\), \} *\n$/);
    assert.equal(bytes.length, 10 + headerLength + 3 * 128 * 4);
    const matrix = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 128; j++) assert.equal(matrix[i * 128 + j], Math.fround(reference.embeddings[i].values[j]));

    const jsonl = join(dir, "vectors.jsonl");
    const plain = join(dir, "texts.txt");
    writeFileSync(plain, `${texts.join("\n")}\n\n`);
    assert.equal((await bertd("embed", "--file", plain, "--dimensions", "8", "--out", jsonl)).code, 0);
    const written = readFileSync(jsonl, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { embedding: number[] });
    assert.deepEqual(written.map((w) => w.embedding.length), [8, 8, 8]);
    assert.match((await bertd("embed", "--out", join(dir, "x.bin"), "a")).stderr, /--out .*x\.bin: the name must end in \.npy or \.jsonl/);
  });

  it("teach learns the Debian sections above chance, writes the curve PNG; classify and heads use the head", async () => {
    const file = sectionsFile(dir, "sections.jsonl", 1000);
    const labels = SECTIONS.slice(0, 1000).map((line) => (JSON.parse(line) as { label: string }).label);
    const majority = Math.max(...[...new Set(labels)].map((l) => labels.filter((x) => x === l).length)) / labels.length;
    const run = await bertd("teach", "--head", "sections", "--file", file, "--replay-passes", "10", "--learning-rate", "0.002", "--json");
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { version: number; promoted: boolean; holdout: { accuracy: number; examples: number }; accepted: number; plot: string };
    assert.equal(result.version, 1);
    assert.equal(result.promoted, true);
    assert.equal(result.accepted, 1000);
    assert.ok(result.holdout.examples > 50);
    assert.ok(result.holdout.accuracy > majority + 0.08, `holdout accuracy ${result.holdout.accuracy} vs majority class ${majority}`);
    assert.match(run.stderr, /^teach: 1000\/1000 \(100%\) \d+ ex\/s, loss [\d.]+, prequential [\d.]+%, ETA/m);
    assert.equal(existsSync(`${file}.sections.teach.json`), false);

    assert.equal(result.plot, join(dir, "sections.sections.png"));
    const { width, height, colors } = pngColors(result.plot);
    assert.deepEqual([width, height], [800, 400]);
    for (const color of ["31,119,180", "255,127,14", "44,160,44"]) assert.ok(colors.has(color), `curve color ${color} drawn`);

    const table = await bertd("classify", "--head", "sections", "a puzzle game with levels", "an email client");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^text +label +score +next$/m);
    assert.match(table.stdout, /^a puzzle game with levels +[a-z]+ +0\.\d{3} /m);
    assert.match(table.stdout, /\(head sections v1\)/);
    const json = (await bertd("classify", "--head", "sections", "--json", "--top-k", "2", "a puzzle game")).stdout;
    const prediction = JSON.parse(json) as { version: number; labels: { label: string; score: number }[] };
    assert.equal(prediction.version, 1);
    assert.equal(prediction.labels.length, 2);
    const inputs = join(dir, "inputs.csv");
    writeFileSync(inputs, 'package,description\nfrozen-bubble,"a puzzle game, with bubbles"\nmutt,an email client\n');
    const fromFile = await bertd("classify", "--head", "sections", "--file", inputs, "--text-field", "description", "--json", "--top-k", "1");
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const rows = fromFile.stdout.trim().split("\n").map((line) => JSON.parse(line) as { text: string; labels: unknown[] });
    assert.deepEqual(rows.map((r) => [r.text, r.labels.length]), [["a puzzle game, with bubbles", 1], ["an email client", 1]]);

    const second = await bertd("teach", "--head", "sections", "--file", file, "--promotion", "always", "--no-plot", "--json");
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(second.stdout) as { version: number; duplicate: number; accepted: number };
    assert.deepEqual([again.version, again.duplicate, again.accepted], [2, 1000, 0]);

    const list = await bertd("heads", "list");
    assert.match(list.stdout, /^sections +multiclass +2 +2 /m);
    const show = await bertd("heads", "show", "sections");
    assert.match(show.stdout, /^\* 2 /m);
    assert.match(show.stdout, /^ {0,2}1 +\d{4}-\d\d-\d\d /m);
    const rollback = await bertd("heads", "rollback", "sections");
    assert.equal(rollback.stdout, "head sections: now serving v1 (was v2)\n");
    assert.equal((await server.heads().unary("getHead")({ head: "sections" })).head?.activeVersion, 1);
    assert.equal((await bertd("heads", "rollback", "sections", "--to", "9")).code, 1);
    assert.equal((await bertd("heads", "delete", "sections")).stdout, "deleted head sections\n");
    const gone = await bertd("heads", "show", "sections");
    assert.equal(gone.stderr, 'bertd: NOT_FOUND: head "sections" does not exist\n');
  });

  it("teach --resume after a killed run sends no example twice", async () => {
    const count = 1500;
    const file = sectionsFile(dir, "resume.jsonl", count);
    const state = `${file}.resumed.teach.json`;
    const first = start(["teach", "--head", "resumed", "--file", file, "--progress-every", "20"], env);
    let acknowledged = 0;
    while (acknowledged < 200) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(first.exitCode, null, "the first run ended before it was interrupted");
      try {
        acknowledged = (JSON.parse(readFileSync(state, "utf8")) as { processed: number }).processed;
      } catch {
        // not written yet
      }
    }
    first.kill("SIGKILL");
    await first.output;
    const atKill = (JSON.parse(readFileSync(state, "utf8")) as { processed: number }).processed;
    assert.ok(atKill < count, "killed mid-stream");

    const resumed = await bertd("teach", "--head", "resumed", "--file", file, "--resume", "--json");
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout) as { resumedAfter: number; sent: number; accepted: number; duplicate: number; rejected: number };
    assert.ok(result.resumedAfter >= atKill, `resumed after ${result.resumedAfter}, acknowledged ${atKill}`);
    assert.equal(result.sent, count - result.resumedAfter);
    assert.deepEqual([result.accepted, result.duplicate, result.rejected], [result.sent, 0, 0]);
    assert.match(resumed.stderr, new RegExp(`resuming after line ${result.resumedAfter}:`));

    const db = new Database(join(dataDir, "heads.sqlite"), { readonly: true });
    const ids = db.prepare("SELECT id FROM examples WHERE head = 'resumed' ORDER BY seq").all() as { id: string }[];
    db.close();
    assert.deepEqual(
      ids.map((row) => /^resume\.jsonl:(\d+):[0-9a-f]{8}$/.exec(row.id)?.[1]),
      Array.from({ length: count }, (_, i) => String(i + 1)),
      "every line logged once, in file order",
    );
    const head = await server.heads().unary("getHead")({ head: "resumed" });
    assert.equal(head.versions.length, 1);
    assert.equal(Number(head.versions[0].trainedExamples) + Number(head.versions[0].holdout?.examples ?? 0), count);

    const call = server.heads().stream("adapt");
    const first_ = new Promise<AdaptResponse>((resolve) => call.once("data", resolve));
    call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head: "resumed" } } }));
    const started = await first_;
    call.cancel();
    call.on("error", () => {});
    assert.equal(started.response.case, "started");
    assert.equal(started.response.case === "started" && Number(started.response.value.loggedExamples), count);
    assert.equal(started.response.case === "started" && started.response.value.lastLoggedId, ids.at(-1)!.id);
  });

  it("Ctrl-C stops teach with a hint, commits nothing, and --resume finishes the file", async () => {
    const count = 1200;
    const file = sectionsFile(dir, "interrupt.jsonl", count);
    const state = `${file}.interrupted.teach.json`;
    const first = start(["teach", "--head", "interrupted", "--file", file, "--progress-every", "20"], env);
    while (!existsSync(state)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(first.exitCode, null, "the first run ended before it was interrupted");
    }
    first.kill("SIGINT");
    const stopped = await first.output;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /interrupted: nothing was committed; .*\n {2}bertd teach --head interrupted --file .*interrupt\.jsonl --resume\n$/s);
    const head = await server.heads().unary("getHead")({ head: "interrupted" });
    assert.equal(head.versions.length, 0);
    const resumed = await bertd("teach", "--head", "interrupted", "--file", file, "--resume", "--json", "--no-plot");
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout) as { resumedAfter: number; duplicate: number; version: number };
    assert.ok(result.resumedAfter > 0);
    assert.deepEqual([result.duplicate, result.version], [0, 1]);
  });

  it("bad files give file:line messages and send nothing; examples the server rejects are listed by line", async () => {
    const cases: [string, string, RegExp][] = [
      ["bad.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": "y"\n', /^bertd: .*bad\.jsonl:2: invalid JSON: /m],
      ["missing.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b"}\n', /^bertd: .*missing\.jsonl:3: missing field "label" \(the record has fields "text"; see --label-field\)/m],
      ["columns.csv", "text,label\na,x\nb\n", /^bertd: .*columns\.csv:3: invalid CSV: /m],
      ["nolabel.csv", "text,section\na,x\n", /^bertd: .*nolabel\.csv:2: missing field "label" \(the record has fields "text", "section"/m],
    ];
    for (const [name, content, message] of cases) {
      const path = join(dir, name);
      writeFileSync(path, content);
      const run = await bertd("teach", "--head", "bad", "--file", path);
      assert.equal(run.code, 1, name);
      assert.match(run.stderr, message);
    }
    const latin1 = join(dir, "latin1.jsonl");
    writeFileSync(latin1, Buffer.concat([Buffer.from('{"text": "ok", "label": "x"}\n{"text": "caf'), Buffer.from([0xe9]), Buffer.from('", "label": "y"}\n')]));
    const encoding = await bertd("teach", "--head", "bad", "--file", latin1);
    assert.equal(encoding.code, 1);
    assert.match(encoding.stderr, /latin1\.jsonl:2: not valid UTF-8 \(save the file as UTF-8\)/);
    assert.equal((await server.heads().unary("listHeads")({})).heads.some((h) => h.name === "bad"), false, "nothing was sent");

    const known = join(dir, "known.csv");
    writeFileSync(known, "text,label\nfootball goal match,sport\nflour sugar oven,food\nguitar drum,music\n");
    const taught = await bertd("teach", "--head", "fixed", "--file", known, "--no-plot", "--promotion", "always");
    assert.equal(taught.code, 0, taught.stderr);
    const unknown = join(dir, "unknown.csv");
    writeFileSync(unknown, "text,label\nreferee stadium,sport\npiano song,weather\n");
    const run = await bertd("teach", "--head", "fixed", "--file", unknown, "--no-plot", "--json");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /unknown\.csv:3: rejected by the server: label "weather" is not one of the head's labels/);
    const result = JSON.parse(run.stdout) as { accepted: number; rejected: number };
    assert.deepEqual([result.accepted, result.rejected], [1, 1]);
  });

  it("bertd serve runs the server, and refuses to start without API keys unless --auth none", async () => {
    const serveArgs = ["serve", "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--data-dir", mkdtempSync(join(tmpdir(), "bertd-serve-")), "--no-warmup"];
    const refused = await start(serveArgs, {}).output;
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /--api-keys-file|--auth none/);
    const child = start([...serveArgs, "--auth", "none"], {});
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        for (const line of buffered.split("\n")) {
          if (line.includes('"msg":"serving"')) resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.once("exit", (code) => reject(new Error(`bertd serve exited with ${code} before serving`)));
    });
    try {
      const info = await start(["info", "--json"], { BERTD_ADDRESS: `127.0.0.1:${port}` }).output;
      assert.equal(info.code, 0, info.stderr);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal((await child.output).code, 0);
  });
});

describe("bertd command line: the first hour's obvious mistakes", () => {
  let server: ServerProcess;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const bertd = (...args: string[]): Promise<Run> => startCli(args, env).output;
  /** One `bertd: …` line on stderr, nothing else (no stack trace), and the exit code. */
  const oneLine = (run: Run, code: number, message: RegExp): void => {
    assert.equal(run.code, code, run.stderr);
    assert.match(run.stderr, /^bertd: [^\n]*\n$/);
    assert.match(run.stderr, message);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "bertd-cli-mistakes-"));
    server = await startServer(["--data-dir", mkdtempSync(join(tmpdir(), "bertd-cli-mistakes-data-"))]);
    env = { BERTD_ADDRESS: server.address, BERTD_API_KEY: "", BERTD_TLS_CA: "" };
  });
  after(async () => {
    await server?.stop();
  });

  it("a missing file, an output folder that does not exist, a URL as --address, heads without a head", async () => {
    oneLine(await bertd("teach", "--head", "h", "--file", join(dir, "no-such.jsonl")), 1, /^bertd: .*no-such\.jsonl: no such file or directory\n$/);
    oneLine(await bertd("classify", "--head", "h", "--file", dir), 1, /: is a directory, not a file\n$/);
    oneLine(await bertd("embed", "a", "--out", join(dir, "no-such-dir", "x.jsonl")), 1, /^bertd: .*no-such-dir\/x\.jsonl: no such file or directory\n$/);
    oneLine(await bertd("info", "--address", `http://${server.address}`), 2, /give HOST:PORT, without "http:\/\/"/);
    oneLine(await bertd("heads", "show"), 2, /^bertd: heads show needs a head name: bertd heads show H \(see bertd heads --help\)\n$/);
  });

  it("heads policy takes --promotion as bertd teach spells it, and says when it publishes", async () => {
    const file = join(dir, "tiny.csv");
    writeFileSync(file, "text,label\nfootball goal match,sport\nflour sugar oven,food\nreferee stadium,sport\n");
    const taught = await bertd("teach", "--head", "tiny", "--file", file, "--no-plot", "--promotion", "if-better");
    assert.equal(taught.code, 0, taught.stderr);
    const policy = await bertd("heads", "policy", "tiny", "--publish-every", "5", "--promotion", "if-better");
    assert.equal(policy.code, 0, policy.stderr);
    assert.equal(policy.stdout, "head tiny: learns continuously, publishing every 5 examples (promotion if-better)\n");
    const show = await bertd("heads", "show", "tiny");
    assert.match(show.stdout, /^policy: continuous, publish every 5 examples, promotion if-better$/m);
  });

  it("stops quietly when the reader of its output leaves (bertd embed … | head)", async () => {
    const child = startCli(["embed", ...Array.from({ length: 50 }, (_, i) => `text ${i}`)], env);
    child.stdout!.destroy();
    const run = await child.output;
    assert.equal(run.stderr, "");
    assert.equal(run.code, 0);
  });

  it("a second server on a port in use names the flag", async () => {
    const serve = await startCli(
      ["serve", "--host", "127.0.0.1", "--port", String(server.port), "--metrics-port", "0", "--auth", "none", "--no-warmup", "--model-dir", RANDOM_MODEL_DIR, "--data-dir", mkdtempSync(join(tmpdir(), "bertd-cli-inuse-"))],
      {},
    ).output;
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, new RegExp(`^bertd: --port ${server.port}: 127\\.0\\.0\\.1:${server.port} is already in use \\(another bertd running\\? stop it, or give --port another port\\)$`, "m"));
  });
});
