/**
 * npm run bench:tag — an online-taught TOKEN head against an offline softmax on the same frozen features.
 * On the Debian NER set (test/fixtures/debian-ner: train streamed once, test held out), in one run:
 *  Adapt, one streamed pass (no replay), with no, balanced and square-root balanced class weights;
 *  Adapt with replay passes at commit; and a multinomial logistic regression (full batch, L-BFGS) on the
 *  same first-piece states, L2 chosen by validation span F1. Then, for a generated model, the same with
 *  the same weights exported with --hidden-states (token states = the last layers concatenated).
 * Scores: entity-level precision, recall and F1 (exact span and type) on the test split, through
 * Encoder.Tag for the Adapt runs. Writes docs/benchmarks/tag.md.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { generateBertModel } from "../tools/generator/index.js";
import { EncoderModel } from "../src/core/encoder.js";
import { readModelDirectory } from "../src/core/model-directory.js";
import { joinWords, rowsPerWord } from "../src/core/words.js";
import { ClassWeighting, HeadType } from "../src/gen/bertd/v1/heads_pb.js";
import { SpanCounts, spansOf } from "../src/heads/index.js";
import { adapt } from "../test/helpers/adapt-client.js";
import { ROOT, startServer } from "../test/helpers/server-process.js";
import { trainLogisticRegression, type LogisticRegressionModel } from "./lib/logistic-regression.js";

interface Sentence {
  id: string;
  words: string[];
  tags: string[];
}

const { values: args } = parseArgs({
  options: {
    "model-dir": { type: "string" },
    replay: { type: "string", default: "10" },
    out: { type: "string", default: join(ROOT, "docs", "benchmarks", "tag.md") },
  },
});
const modelDir = args["model-dir"] ?? join(ROOT, "models/default");
const read = (split: string): Sentence[] =>
  readFileSync(join(ROOT, "test/fixtures/debian-ner", `${split}.jsonl`), "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Sentence);
const train = read("train");
const validation = read("validation");
const test = read("test");
const tags = ["O", ...[...new Set(train.flatMap((s) => s.tags))].filter((t) => t !== "O").sort()];
const log = (line: string): void => console.error(line);

interface Scores {
  precision: number;
  recall: number;
  f1: number;
  perType: Record<string, number>;
}

function score(truth: readonly Sentence[], predicted: readonly string[][]): Scores {
  const all = new SpanCounts();
  const types = [...new Set(truth.flatMap((s) => spansOf(s.tags).map((span) => span.type)))].sort();
  const perType: Record<string, number> = {};
  for (const type of types) {
    const counts = new SpanCounts();
    const only = (seq: readonly string[]): string[] => seq.map((t) => (t.endsWith(`-${type}`) ? t : "O"));
    truth.forEach((s, i) => counts.add(only(s.tags), only(predicted[i])));
    perType[type] = counts.f1;
  }
  truth.forEach((s, i) => all.add(s.tags, predicted[i]));
  return { precision: all.precision, recall: all.recall, f1: all.f1, perType };
}

interface Run extends Scores {
  name: string;
  rate?: number;
  prequentialSpanF1?: number;
}

/** Adapt streams on a server with the model, scored through Tag. */
async function online(dir: string, plan: readonly (readonly [string, number, ClassWeighting])[]): Promise<Run[]> {
  const server = await startServer(["--model-dir", dir], {}, { captureLogs: false });
  const tag = server.encoder().unary("tag");
  const runs: Run[] = [];
  try {
    for (const [index, [name, replayPasses, classWeighting]] of plan.entries()) {
      const head = `ner-${index}`;
      const started = performance.now();
      const result = await adapt(
        server.heads(),
        { head, type: HeadType.TOKEN, labels: tags, hyperparameters: { replayPasses, classWeighting, holdoutFraction: 0, seed: 1n }, progressEvery: 400 },
        train.map((s) => ({ id: s.id, words: s.words, tags: s.tags })),
      );
      const seconds = (performance.now() - started) / 1000;
      const predicted: string[][] = [];
      for (let i = 0; i < test.length; i += 64) {
        const response = await tag({ head, words: test.slice(i, i + 64).map((s) => ({ words: s.words })) });
        for (const tagged of response.results) predicted.push(tagged.words.map((w) => w.label));
      }
      runs.push({ name, ...score(test, predicted), rate: train.length / seconds, prequentialSpanF1: result.progress.at(-1)!.prequentialSpanF1 });
      log(`${name}: ${JSON.stringify(runs.at(-1))}`);
    }
  } finally {
    await server.stop();
  }
  return runs;
}

/** The same first-piece states, in process, and an offline softmax; L2 chosen on validation span F1. */
async function offline(dir: string, name: string): Promise<Run & { words: number; width: number }> {
  const encoder = await EncoderModel.open({
    model: readModelDirectory(dir),
    device: { kind: "cpu" },
    workers: 1,
    intraOpThreads: 0,
    spinning: false,
    graphPooling: false,
    limits: { maxBatchTokens: 8192, maxBackgroundBatchTokens: 8192, maxBatchSize: 128, maxBatchDelayMs: 0, maxPaddingRatio: 1.2, maxQueueTokens: 1 << 24, maxQueueRequests: 1 << 16 },
    maxClientBatchSize: 1 << 16,
    maxInputChars: 1 << 20,
    maxSequenceLength: 0,
    defaultTruncation: "right",
    log: pino({ level: "warn" }),
  });
  const width = encoder.info.tokenStateWidth;
  const rows = async (sentences: readonly Sentence[]): Promise<(Float32Array | undefined)[][]> => {
    const { aligned } = encoder.alignInputs(sentences.map((s) => joinWords(s.words)), { unlimited: true });
    const { states } = await encoder.wordStates(aligned);
    return aligned.map((a, i) => rowsPerWord(a, states[i], width));
  };
  const [trainRows, validationRows, testRows] = [await rows(train), await rows(validation), await rows(test)];
  await encoder.close();
  const x: Float32Array[] = [];
  const y: number[] = [];
  trainRows.forEach((sentence, i) =>
    sentence.forEach((features, w) => {
      if (!features) return;
      x.push(features);
      y.push(tags.indexOf(train[i].tags[w]));
    }),
  );
  const predict = (model: LogisticRegressionModel, sentences: (Float32Array | undefined)[][]): string[][] =>
    sentences.map((sentence) => sentence.map((features) => (features ? tags[model.predict(features)] : "O")));
  let best: { l2: number; validation: number; model: LogisticRegressionModel } | undefined;
  for (const l2 of [1e-4, 1e-3, 1e-2]) {
    const model = trainLogisticRegression(x, y, { l2, numClasses: tags.length, maxIterations: 200 });
    const f1 = score(validation, predict(model, validationRows)).f1;
    log(`offline ${width} wide, l2=${l2}: validation span F1 ${f1.toFixed(4)} (${model.iterations} iterations)`);
    if (!best || f1 > best.validation) best = { l2, validation: f1, model };
  }
  const result = { name: `${name}, L2 ${best!.l2} chosen on validation span F1`, ...score(test, predict(best!.model, testRows)), words: x.length, width };
  log(`${result.name}: ${JSON.stringify(result)}`);
  return result;
}

const replay = Number(args.replay);
const offlineName = "offline softmax (logistic regression, full batch, L-BFGS ≤ 200 iterations)";
const last = await online(modelDir, [
  ["Adapt, one streamed pass, no class weights (the default)", 0, ClassWeighting.NONE],
  ["Adapt, one streamed pass, BALANCED class weights", 0, ClassWeighting.BALANCED],
  ["Adapt, one streamed pass, SQRT_BALANCED class weights", 0, ClassWeighting.SQRT_BALANCED],
  [`Adapt + ${replay} replay passes at commit, no class weights`, replay, ClassWeighting.NONE],
  [`Adapt + ${replay} replay passes at commit, SQRT_BALANCED`, replay, ClassWeighting.SQRT_BALANCED],
]);
const lastOffline = await offline(modelDir, offlineName);

// The same weights with every layer as an output: token states concatenate the last layers.
const layeredDir = mkdtempSync(join(tmpdir(), "bertd-bench-tag-"));
const shape = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")) as { num_hidden_layers: number; hidden_size: number; num_attention_heads: number; intermediate_size: number; bertd?: { seed: number } };
const generated = shape.bertd !== undefined;
if (generated) {
  await generateBertModel({
    outDir: layeredDir,
    layers: shape.num_hidden_layers,
    hidden: shape.hidden_size,
    heads: shape.num_attention_heads,
    intermediate: shape.intermediate_size,
    seed: shape.bertd!.seed,
    vocabDir: modelDir,
    hiddenStates: true,
  });
}
const layered = generated ? await online(layeredDir, [["Adapt, one streamed pass, no class weights", 0, ClassWeighting.NONE], [`Adapt + ${replay} replay passes at commit, no class weights`, replay, ClassWeighting.NONE]]) : [];
const layeredOffline = generated ? await offline(layeredDir, offlineName) : undefined;

const pct = (v: number): string => (100 * v).toFixed(1);
const types = Object.keys(lastOffline.perType);
const table = (runs: readonly Run[], reference: Run): string => {
  const letter = (i: number): string => String.fromCharCode(97 + i);
  const rows = [...runs, reference].map(
    (r, i) =>
      `| (${letter(i)}) ${r.name} | ${pct(r.precision)} | ${pct(r.recall)} | ${pct(r.f1)} | ${pct(r.f1 - reference.f1)} | ${pct(r.f1 / reference.f1)} | ${types.map((t) => pct(r.perType[t] ?? 0)).join(" | ")} |`,
  );
  return `| what | precision | recall | span F1 | F1 − offline F1, points | F1 / offline F1, % | ${types.join(" F1 | ")} F1 |
| --- | ---: | ---: | ---: | ---: | ---: | ${types.map(() => "---:").join(" | ")} |
${rows.join("\n")}`;
};
const entities = test.reduce((n, s) => n + spansOf(s.tags).length, 0);
const report = `# Tagging benchmark

\`npm run bench:tag\` on ${new Date().toISOString().slice(0, 10)}: Debian NER (test/fixtures/debian-ner), ${train.length} training
sentences (${lastOffline.words} words) streamed once through Adapt, ${test.length} test sentences (${entities} entities) never
sent to Adapt; tags ${tags.join(" ")}; model: ${args["model-dir"] ?? "the default (2 layers × 128, random weights)"}. Scores are
entity-level (exact span and type, seqeval-style), in %, on the test split, through \`Encoder.Tag\` for the Adapt rows.
The offline softmax is unweighted and sees every training word in every one of its iterations; the online heads see
each sentence once (plus the replay passes at commit, where asked).

Features: the last hidden state at each word's first WordPiece (${lastOffline.width} values):

${table(last, lastOffline)}
${
  layeredOffline
    ? `
Features: the same weights exported with \`--hidden-states\`, the last layers concatenated (${layeredOffline.width} values):

${table(layered, layeredOffline)}
`
    : ""
}
Prequential span F1 while streaming (each sentence tagged before it was learned), one pass, no class weights:
${pct(last[0].prequentialSpanF1 ?? 0)}. Adapt throughput of that run: ${(last[0].rate ?? 0).toFixed(0)} sentences/s, including durable
logging and the commit (on a machine shared with other work).
`;
writeFileSync(args.out, report);
console.log(report);
