/**
 * npm run bench:adapt — online heads against an offline baseline on the same frozen features.
 * On the Debian package sections (train streamed once, test held out), in one run:
 *  (a) Adapt, one streamed pass (no replay);  (b) Adapt with replay passes at commit;
 *  (c) multinomial logistic regression trained to convergence, L2 chosen on the validation split.
 * Also Adapt throughput against Embed throughput on the same texts. Writes a PNG of the
 * prequential accuracy curve and docs/benchmarks/adapt.md.
 */
import { writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { Encoding, Pooling } from "../src/gen/bertd/v1/encoder_pb.js";
import { adapt } from "../test/helpers/adapt-client.js";
import { ROOT, startServer } from "../test/helpers/server-process.js";
import { readSplit } from "./lib/corpus.js";
import { writeLineChart } from "../src/cli/line-chart.js";
import { chooseL2 } from "./lib/logistic-regression.js";
import { testScores, topLabels } from "./lib/test-scores.js";

const { values: args } = parseArgs({ options: { "model-dir": { type: "string" }, replay: { type: "string", default: "10" }, out: { type: "string", default: join(ROOT, "docs", "benchmarks", "adapt.md") } } });
const train = readSplit("train");
const validation = readSplit("validation");
const test = readSplit("test");
const labels = [...new Set(train.map((r) => r.label))].sort();
// One client streams the whole training split: no per-key rate limit.
const server = await startServer(["--adapt-examples-per-second", "0", "--model-dir", args["model-dir"] ?? join(ROOT, "models", "default")], {}, { captureLogs: false });
const embed = server.encoder().unary("embed");
const log = (line: string): void => console.error(line);

async function features(texts: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += 64) {
    const response = await embed({ inputs: texts.slice(i, i + 64), pooling: Pooling.MEAN, encoding: Encoding.BYTES });
    for (const e of response.embeddings) out.push(new Float32Array(new Uint8Array(e.bytes).buffer));
  }
  return out;
}

// Embed throughput on the training texts (fresh server: nothing cached).
let started = performance.now();
const trainX = await features(train.map((r) => r.text));
const embedRate = train.length / ((performance.now() - started) / 1000);
log(`embed: ${embedRate.toFixed(0)} texts/s`);

const examples = train.map((r) => ({ id: r.id, text: r.text, labels: [r.label] }));
const runs: Record<string, { accuracy: number; macroF1: number; rate: number; curve: [number, number][]; holdout: number }> = {};
for (const [name, replayPasses] of [
  ["a", 0],
  ["b", Number(args.replay)],
] as const) {
  started = performance.now();
  // Distinct ids per run so the second stream does not see the first one's examples as duplicates.
  const result = await adapt(
    server.heads(),
    { head: `sections-${name}`, labels, hyperparameters: { replayPasses, seed: 1n }, progressEvery: 200 },
    examples,
  );
  const seconds = (performance.now() - started) / 1000;
  const curve = result.progress.map((p) => [Number(p.accepted), p.prequentialAccuracy] as [number, number]);
  runs[name] = { ...testScores(test.map((r) => r.label), await topLabels(server.encoder(), `sections-${name}`, test.map((r) => r.text)), labels), rate: train.length / seconds, curve, holdout: result.committed[0].holdout!.accuracy };
  log(`adapt ${name}: ${JSON.stringify({ ...runs[name], curve: undefined })}`);
}

// (c) the offline baseline on the same features.
const index = new Map(labels.map((l, i) => [l, i]));
const valX = { v: await features(validation.map((r) => r.text)), t: await features(test.map((r) => r.text)) };
await server.stop();
const choice = chooseL2(trainX, train.map((r) => index.get(r.label)!), valX.v, validation.map((r) => index.get(r.label)!), [1e-4, 1e-3, 1e-2, 1e-1], { numClasses: labels.length, maxIterations: 300 });
const offline = testScores(
  test.map((r) => r.label),
  valX.t.map((x) => labels[choice.model.predict(x)]),
  labels,
);
log(`offline: ${JSON.stringify(offline)} l2=${choice.l2}`);

const png = join(ROOT, "bench", "adapt-prequential.png");
writeLineChart(png, [{ points: runs.a.curve, color: [31, 119, 180], label: "prequential accuracy" }], train.length, { xLabel: "examples" });
const pct = (x: number): string => (100 * x).toFixed(1);
const report = `# Adapt benchmark

\`npm run bench:adapt\` on ${new Date().toISOString().slice(0, 10)}: Debian package sections, ${train.length} training examples streamed once
(${labels.length} labels), ${test.length} test examples never sent to Adapt; model: ${args["model-dir"] ?? "the default (models/default, the trained bertd-mini)"}; mean pooling.

| what | test accuracy | test macro-F1 | gap to (c), accuracy points |
| --- | ---: | ---: | ---: |
| (a) Adapt, one streamed pass | ${pct(runs.a.accuracy)} | ${pct(runs.a.macroF1)} | ${pct(runs.a.accuracy - offline.accuracy)} |
| (b) Adapt + ${args.replay} replay passes at commit | ${pct(runs.b.accuracy)} | ${pct(runs.b.macroF1)} | ${pct(runs.b.accuracy - offline.accuracy)} |
| (c) offline logistic regression, L2 ${choice.l2} chosen on validation | ${pct(offline.accuracy)} | ${pct(offline.macroF1)} | 0 |

Throughput on the same texts: Embed ${embedRate.toFixed(0)} texts/s; Adapt (a) ${runs.a.rate.toFixed(0)} examples/s
(${(runs.a.rate / embedRate).toFixed(2)}× Embed), including durable logging, holdout and the commit.

Prequential accuracy of (a) as it streamed (each example predicted before it was learned):
![prequential accuracy](${relative(dirname(args.out), png)})
`;
writeFileSync(args.out, report);
console.log(report);
