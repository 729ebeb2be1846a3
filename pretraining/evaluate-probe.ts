// Linear probe on the Debian package sections (train → test, L2 chosen on validation) for each model
// directory given, served by bertd itself (so the export is checked to load), plus nearest neighbours
// a person can judge. The first model is the baseline the others are compared with.
//
//   node --import tsx pretraining/evaluate-probe.ts [--models models/random-tiny,models/default] [--limit N] [--out FILE]

import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { Encoding, Pooling } from "../src/gen/bertd/v1/encoder_pb.js";
import { chooseL2, accuracy } from "../bench/lib/logistic-regression.js";
import { readSplit, type LabelledText } from "../bench/lib/corpus.js";
import { ROOT, startServer } from "../test/helpers/server-process.js";

const QUERIES = ["a chess game", "send and receive email", "edit text files", "network packet analyzer", "play music files", "astronomy calculations"];

interface ProbeResult {
  readonly dir: string;
  readonly validationAccuracy: number;
  readonly testAccuracy: number;
  readonly testMacroF1: number;
  readonly l2: number;
  readonly neighbours: { query: string; nearest: string[] }[];
}

function normalized(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

async function probe(dir: string, train: LabelledText[], validation: LabelledText[], test: LabelledText[], labels: string[]): Promise<ProbeResult> {
  const server = await startServer(["--model-dir", dir], {}, { captureLogs: false });
  try {
    const embed = server.encoder().unary("embed");
    const features = async (texts: string[]): Promise<Float32Array[]> => {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += 64) {
        const response = await embed({ inputs: texts.slice(i, i + 64), pooling: Pooling.MEAN, encoding: Encoding.BYTES });
        for (const e of response.embeddings) out.push(new Float32Array(new Uint8Array(e.bytes).buffer));
      }
      return out;
    };
    const index = (rows: LabelledText[]) => rows.map((r) => labels.indexOf(r.label));
    const [trainX, valX, testX] = [await features(train.map((r) => r.text)), await features(validation.map((r) => r.text)), await features(test.map((r) => r.text))];
    const choice = chooseL2(trainX, index(train), valX, index(validation), [1e-4, 1e-3, 1e-2, 1e-1], { maxIterations: 300 });
    const unit = trainX.map(normalized);
    const queries = (await features(QUERIES)).map(normalized);
    const neighbours = QUERIES.map((query, q) => {
      const scored = unit.map((u, i) => ({ i, score: u.reduce((sum, x, j) => sum + x * queries[q][j], 0) })).sort((x, y) => y.score - x.score);
      return { query, nearest: scored.slice(0, 3).map(({ i, score }) => `${train[i].text} [${train[i].label}, ${score.toFixed(2)}]`) };
    });
    const truth = index(test);
    const predicted = testX.map((x) => choice.model.predict(x));
    const f1s = labels.map((_, c) => {
      let tp = 0, fp = 0, fn = 0;
      for (let i = 0; i < truth.length; i++) {
        if (predicted[i] === c && truth[i] === c) tp++;
        else if (predicted[i] === c) fp++;
        else if (truth[i] === c) fn++;
      }
      return tp + fp + fn === 0 ? null : (2 * tp) / (2 * tp + fp + fn);
    }).filter((f): f is number => f !== null);
    const testMacroF1 = f1s.reduce((a, b) => a + b, 0) / f1s.length;
    return { dir, validationAccuracy: choice.accuracy, testAccuracy: accuracy(choice.model, testX, truth), testMacroF1, l2: choice.l2, neighbours };
  } finally {
    await server.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: "string", default: `${join(ROOT, "models", "random-tiny")},${join(ROOT, "models", "default")}` },
      limit: { type: "string" },
      out: { type: "string" },
    },
  });
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  const [train, validation, test] = (["train", "validation", "test"] as const).map((s) => readSplit(s).slice(0, limit));
  const labels = [...new Set(train.map((r) => r.label))].sort();
  const dirs = values.models.split(",").filter(Boolean);
  const results: ProbeResult[] = [];
  for (const dir of dirs) {
    results.push(await probe(dir, train, validation, test, labels));
    console.error(`${dir}: test accuracy ${(results.at(-1)!.testAccuracy * 100).toFixed(1)}%`);
  }
  const base = results[0];
  const lines = [
    `Linear probe on debian-package-sections (${train.length} train, ${validation.length} validation, ${test.length} test; ${labels.length} sections), mean pooling, multinomial logistic regression (L2 on validation):`,
    "",
    "| model | validation acc | test acc | test macro-F1 | vs first | L2 |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...results.map((r) => `| ${basename(r.dir)} | ${(r.validationAccuracy * 100).toFixed(1)}% | ${(r.testAccuracy * 100).toFixed(1)}% | ${(r.testMacroF1 * 100).toFixed(1)}% | ${((r.testAccuracy - base.testAccuracy) * 100).toFixed(1)} pts | ${r.l2} |`),
    "",
    ...results.flatMap((r) => [`Nearest training descriptions, ${basename(r.dir)}:`, ...r.neighbours.map((n) => `- "${n.query}" → ${n.nearest.join("; ")}`), ""]),
  ];
  const report = lines.join("\n");
  if (values.out) writeFileSync(values.out, `${report}\n`);
  console.log(report);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`evaluate-probe: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
