import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HeadType } from "../../src/gen/bertd/v1/heads_pb.js";
import { type Run, pngColors, startCli } from "../helpers/cli-process.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";
import { TOY_TAGS, toySentences } from "../helpers/toy-tagging.js";

interface Entity {
  type: string;
  text: string;
  start: number;
  end: number;
  score: number;
}

interface TagLine {
  text: string;
  version: number;
  entities: Entity[];
  words?: { word: string; label: string; score: number; start: number; end: number }[];
}

function jsonLines<T>(run: Run): T[] {
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.trim().split("\n").map((line) => JSON.parse(line) as T);
}

/** Entities without their scores (checked for range), for exact comparison. */
function spans(line: TagLine): [string, string, number, number][] {
  for (const e of line.entities) assert.ok(e.score > 0.3 && e.score <= 1, `score ${e.score} of ${e.text}`);
  return line.entities.map((e) => [e.type, e.text, e.start, e.end]);
}

describe("bertd tag and bertd teach --type token", () => {
  let server: ServerProcess;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const bertd = (...args: string[]): Promise<Run> => startCli(args, env).output;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "bertd-cli-tag-"));
    server = await startServer(["--data-dir", mkdtempSync(join(tmpdir(), "bertd-cli-tag-data-"))]);
    env = { BERTD_ADDRESS: server.address, BERTD_API_KEY: "", BERTD_TLS_CA: "" };
  });
  after(async () => {
    await server?.stop();
  });

  it("teach --type token learns the toy set to span F1 1 with span metrics and a span F1 curve; tag prints its entities", async () => {
    const file = join(dir, "toy.jsonl");
    writeFileSync(file, `${toySentences(200).map(({ words, tags }) => JSON.stringify({ words, tags })).join("\n")}\n`);
    const run = await bertd("teach", "--type", "token", "--head", "toy", "--file", file, "--seed", "1", "--holdout-fraction", "0.2", "--json");
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      version: number;
      accepted: number;
      holdout: { examples: number; spanPrecision: number; spanRecall: number; spanF1: number; accuracy: number };
      prequentialSpanF1: number;
      plot: string;
    };
    assert.equal(result.version, 1);
    assert.equal(result.accepted, 200);
    assert.ok(result.holdout.examples >= 20, `${result.holdout.examples} sentences held out`);
    assert.deepEqual([result.holdout.spanPrecision, result.holdout.spanRecall, result.holdout.spanF1], [1, 1, 1]);
    assert.ok(result.prequentialSpanF1 > 0 && result.prequentialSpanF1 <= 1, `prequential span F1 ${result.prequentialSpanF1}`);
    assert.match(run.stderr, /^teach: 200\/200 \(100%\) \d+ ex\/s, loss [\d.]+, prequential [\d.]+% of words, span F1 [\d.]+%, ETA/m);
    assert.equal(existsSync(`${file}.toy.teach.json`), false);
    const { colors } = pngColors(result.plot);
    for (const color of ["31,119,180", "255,127,14", "44,160,44"]) assert.ok(colors.has(color), `curve color ${color} drawn`);
    const head = await server.heads().unary("getHead")({ head: "toy" });
    assert.equal(head.head?.type, HeadType.TOKEN);
    assert.deepEqual(head.head?.labels, ["O", ...TOY_TAGS.filter((t) => t !== "O").sort()], "every tag of the file, O first");

    const texts = ["Yesterday Alice Smith met Bob Jones in Hong Kong.", "Grace Walker visited Paris with Dave Lewis.", "and again ."];
    const tagged = jsonLines<TagLine>(await bertd("tag", "--head", "toy", "--json", ...texts));
    assert.deepEqual(tagged.map((line) => [line.text, line.version, line.words]), texts.map((text) => [text, 1, undefined]));
    assert.deepEqual(tagged.map(spans), [
      [["PER", "Alice Smith", 10, 21], ["PER", "Bob Jones", 26, 35], ["LOC", "Hong Kong", 39, 48]],
      [["PER", "Grace Walker", 0, 12], ["LOC", "Paris", 21, 26], ["PER", "Dave Lewis", 32, 42]],
      [],
    ]);

    const table = await bertd("tag", "--head", "toy", texts[0], texts[2]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^text +type +entity +score\n[- ]+\nYesterday Alice Smith met Bob Jones in … +PER +Alice Smith +0\.\d{3}\n +PER +Bob Jones +0\.\d{3}\n +LOC +Hong Kong +0\.\d{3}\nand again \. +-\n\(head toy v1\)\n$/);

    const words = join(dir, "words.jsonl");
    writeFileSync(words, `${JSON.stringify({ id: 7, words: ["in", "Berlin", ",", "Carol", "Clark", "met", "Heidi", "Brown"] })}\n`);
    const [byWords] = jsonLines<TagLine>(await bertd("tag", "--head", "toy", "--words", "--file", words, "--per-word", "--json"));
    assert.equal(byWords.text, "in Berlin , Carol Clark met Heidi Brown");
    assert.deepEqual(spans(byWords), [["LOC", "Berlin", 3, 9], ["PER", "Carol Clark", 12, 23], ["PER", "Heidi Brown", 28, 39]]);
    assert.deepEqual(byWords.words?.map((w) => [w.word, w.label]), [["in", "O"], ["Berlin", "B-LOC"], [",", "O"], ["Carol", "B-PER"], ["Clark", "I-PER"], ["met", "O"], ["Heidi", "B-PER"], ["Brown", "I-PER"]]);
    const perWord = await bertd("tag", "--head", "toy", "--words", "--per-word", "Erin  Taylor met");
    assert.equal(perWord.code, 0, perWord.stderr);
    assert.match(perWord.stdout, /^Erin Taylor met +PER +Erin Taylor +0\.\d{3}$/m);
    assert.match(perWord.stdout, /\n\nErin Taylor met\nword +tag +score\n[- ]+\nErin +B-PER +0\.\d{3}\nTaylor +I-PER +0\.\d{3}\nmet +O +0\.\d{3}\n/);

    const again = await bertd("teach", "--type", "token", "--head", "toy", "--file", file, "--promotion", "always", "--no-plot");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^head toy: committed v2, now served /m);
    assert.match(again.stdout, /^holdout: span precision 1\.0000, recall 1\.0000, F1 1\.0000 on \d+ sentences; word accuracy 1\.0000, log-loss [\d.]+$/m);
    assert.match(again.stdout, /^examples: 0 accepted, 200 duplicate, 0 rejected; prequential span F1 [\d.]+, word accuracy [\d.]+$/m);
    const show = await bertd("heads", "show", "toy");
    assert.match(show.stdout, /^head toy: token, active v2 of 2/m);
    assert.match(show.stdout, / span F1  live  live acc\.\n/);
    assert.match(show.stdout, /^\* 2 .* 1\.0000 +0$/m);

    const pinned = jsonLines<TagLine>(await bertd("tag", "--head", "toy", "--json", "--version", "1", "Bob Jones"));
    assert.equal(pinned[0].version, 1);
    const ahead = await bertd("tag", "--head", "toy", "--min-version", "3", "Bob Jones");
    assert.equal(ahead.code, 1);
    assert.match(ahead.stderr, /^bertd: FAILED_PRECONDITION: head "toy" serves version 2, older than min_version 3/);
    assert.equal(jsonLines<TagLine>(await bertd("tag", "--head", "toy", "--json", "--min-version", "2", "Bob Jones"))[0].version, 2);

    const resumed = await bertd("teach", "--type", "token", "--head", "toy", "--file", file, "--resume", "--promotion", "never", "--no-plot", "--json");
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming after line 200: the server has logged this file up to there/);
    const outcome = JSON.parse(resumed.stdout) as { resumedAfter: number; sent: number; version: number; holdout: { spanF1: number } };
    assert.deepEqual([outcome.resumedAfter, outcome.sent, outcome.version, outcome.holdout.spanF1], [200, 0, 3, 1]);
  });

  it("bad lines give file:line messages and send nothing; a CSV file is a usage error", async () => {
    const file = join(dir, "bad.jsonl");
    writeFileSync(
      file,
      [
        { words: ["Alice", "met", "Bob"], tags: ["B-PER", "O", "B-PER"] },
        { words: ["Alice", "met", "Bob"], tags: ["B-PER", "O"] },
        { words: ["Alice"] },
        { words: "Alice met Bob", tags: ["B-PER", "O", "B-PER"] },
        { words: ["Alice", ""], tags: ["B-PER", "O"] },
        { words: ["Alice"], tags: ["PER"] },
      ]
        .map((line) => JSON.stringify(line))
        .join("\n") + "\n",
    );
    const run = await bertd("teach", "--type", "token", "--head", "bad", "--file", file);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split("\n");
    assert.deepEqual(lines, [
      `bertd: ${file}:2: 2 tags for 3 words (one tag per word)`,
      `bertd: ${file}:3: missing field "tags" (the record has fields "words"; see --tags-field)`,
      `bertd: ${file}:4: field "words" must be an array of strings; got "Alice met Bob"`,
      `bertd: ${file}:5: field "words": word 2 is empty`,
      `bertd: ${file}:6: tag 1 "PER" is not O, B-TYPE or I-TYPE (and 4 more above; nothing was sent)`,
    ]);
    const renamed = join(dir, "renamed.jsonl");
    writeFileSync(renamed, `${JSON.stringify({ tokens: ["Alice"], ner: ["B-PER"] })}\n${JSON.stringify({ tokens: ["Bob"], labels: ["B-PER"] })}\n`);
    const fields = await bertd("teach", "--type", "token", "--head", "bad", "--file", renamed, "--words-field", "tokens", "--tags-field", "ner");
    assert.equal(fields.code, 1);
    assert.equal(fields.stderr, `bertd: ${renamed}:2: missing field "ner" (the record has fields "tokens", "labels"; see --tags-field) (nothing was sent)\n`);
    assert.equal((await server.heads().unary("listHeads")({})).heads.some((h) => h.name === "bad"), false, "nothing was sent");

    const csv = join(dir, "bad.csv");
    writeFileSync(csv, "words,tags\nAlice,B-PER\n");
    const notJsonl = await bertd("teach", "--type", "token", "--head", "bad", "--file", csv);
    assert.equal(notJsonl.code, 2);
    assert.equal(notJsonl.stderr, `bertd: --type token reads JSON lines (.jsonl) with a words array and a tags array; ${csv} is not .jsonl\n`);
    const wordsFile = join(dir, "tag-words.jsonl");
    writeFileSync(wordsFile, `${JSON.stringify({ words: ["a"] })}\n${JSON.stringify({ text: "a b" })}\n`);
    const badWords = await bertd("tag", "--head", "toy", "--words", "--file", wordsFile);
    assert.equal(badWords.code, 1);
    assert.equal(badWords.stderr, `bertd: ${wordsFile}:2: missing field "words" (the record has fields "text"; see --words-field)\n`);
    const missing = await bertd("tag", "--head", "nope", "x");
    assert.equal(missing.stderr, 'bertd: NOT_FOUND: head "nope" does not exist\n');
  });
});
