/**
 * npm run bench:feedback — a head that learns only from production feedback against one trained
 * offline on the same examples. On the Debian package sections, in one run:
 *  (a) Adapt on the first --seed training examples, with a continuous-learning policy; then the rest
 *      of the training split arrives as production traffic, in chunks: Classify each chunk, then
 *      answer each prediction id with its true label (Feedback). The head publishes by its policy.
 *  (b) a normal Adapt stream of the same examples (the seed ones, then the fed ones under their
 *      prediction ids, so both heads have the same holdout split), committed once.
 * Both are scored on the test split. Also Classify and Feedback throughput in the same run, with the
 * ceiling (direct ONNX Runtime on length-sorted batches of the same texts). Writes docs/benchmarks/feedback.md.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Promotion, type HeadVersion } from "../src/gen/bertd/v1/heads_pb.js";
import { adapt, type ToyExample } from "../test/helpers/adapt-client.js";
import { ROOT, startServer } from "../test/helpers/server-process.js";
import { readSplit } from "./lib/corpus.js";
import { runCeiling } from "./lib/cpu-per-sequence.js";
import { closedLoop } from "./lib/latency.js";
import { testScores, topLabels } from "./lib/test-scores.js";

const { values: args } = parseArgs({
  options: {
    "model-dir": { type: "string", default: join(ROOT, "models", "default") },
    "seed-examples": { type: "string", default: "200" },
    chunk: { type: "string", default: "1000" },
    "publish-every": { type: "string", default: "1000" },
    "publish-seconds": { type: "string", default: "10" },
    "per-call": { type: "string", default: "32" },
    concurrency: { type: "string", default: "4" },
    out: { type: "string", default: join(ROOT, "docs", "benchmarks", "feedback.md") },
  },
});
const modelDir = args["model-dir"];
const SEED = Number(args["seed-examples"]);
const CHUNK = Number(args.chunk);
const PER_CALL = Number(args["per-call"]);
const CONCURRENCY = Number(args.concurrency);
const MAX_BATCH_SIZE = 128;
const MAX_BATCH_TOKENS = 8192;
const HYPERPARAMETERS = { seed: 1n };
const log = (line: string): void => console.error(line);

const train = readSplit("train");
const test = readSplit("test");
const labels = [...new Set(train.map((r) => r.label))].sort();
const seedExamples: ToyExample[] = train.slice(0, SEED).map((r) => ({ id: r.id, text: r.text, labels: [r.label] }));
const traffic = train.slice(SEED);

/** Measured before and after the server's runs; the better one counts (other processes share the CPU). */
function measureCeiling(): number {
  const rate = runCeiling({ modelDir, texts: traffic.map((r) => r.text), threads: availableParallelism(), maxBatchSize: MAX_BATCH_SIZE, maxBatchTokens: MAX_BATCH_TOKENS }, 0).sequencesPerSecond;
  log(`ceiling: ${rate.toFixed(0)} seq/s`);
  return rate;
}
const ceilingBefore = measureCeiling();

// One client sends everything: no per-key rate limit on Adapt.
const server = await startServer(
  ["--adapt-examples-per-second", "0", "--model-dir", modelDir, "--max-batch-size", String(MAX_BATCH_SIZE), "--max-batch-tokens", String(MAX_BATCH_TOKENS)],
  {},
  { captureLogs: false },
);
const heads = server.heads();
const classify = server.encoder().unary("classify");
const feedback = heads.unary("feedback");
const getHead = heads.unary("getHead");

// (a) 200 examples, then only feedback.
const policy = { continuous: true, publishEveryExamples: Number(args["publish-every"]), publishEverySeconds: Number(args["publish-seconds"]), promotion: Promotion.IF_BETTER };
const seeded = await adapt(heads, { head: "fed", labels, hyperparameters: HYPERPARAMETERS, policy }, seedExamples);
log(`seed head: holdout accuracy ${seeded.committed[0].holdout!.accuracy.toFixed(3)} on ${seeded.committed[0].holdout!.examples} examples`);

interface Answered {
  readonly id: string;
  readonly text: string;
  readonly truth: string;
  readonly served: string;
  readonly version: number;
}
const answered: Answered[] = [];
const chunks: { upTo: number; versions: string; servedAccuracy: number }[] = [];
let classifySeconds = 0;
let feedbackSeconds = 0;
let lastFeedbackAt = 0;
for (let start = 0; start < traffic.length; start += CHUNK) {
  const rows = traffic.slice(start, start + CHUNK);
  const served: Answered[] = new Array<Answered>(rows.length);
  classifySeconds += await closedLoop(Math.ceil(rows.length / PER_CALL), CONCURRENCY, async (call) => {
    const part = rows.slice(call * PER_CALL, (call + 1) * PER_CALL);
    const response = await classify({ head: "fed", inputs: part.map((r) => r.text), topK: 1 });
    response.predictions.forEach((p, i) => {
      served[call * PER_CALL + i] = { id: p.predictionId, text: part[i].text, truth: part[i].label, served: p.labels[0].label, version: response.headVersion };
    });
  });
  feedbackSeconds += await closedLoop(Math.ceil(served.length / PER_CALL), CONCURRENCY, async (call) => {
    const part = served.slice(call * PER_CALL, (call + 1) * PER_CALL);
    const response = await feedback({ items: part.map((s) => ({ predictionId: s.id, labels: [s.truth] })) });
    if (Number(response.accepted) !== part.length) throw new Error(`feedback not accepted: ${response.results.map((r) => r.detail).join("; ")}`);
  });
  lastFeedbackAt = performance.now();
  answered.push(...served);
  const versions = [...new Set(served.map((s) => s.version))].join(", ");
  chunks.push({ upTo: start + rows.length, versions, servedAccuracy: served.filter((s) => s.served === s.truth).length / served.length });
  log(`traffic ${start + rows.length}/${traffic.length}: served by v${versions}, served accuracy ${chunks.at(-1)!.servedAccuracy.toFixed(3)}`);
}

// The policy publishes what is left after publish_every_seconds: wait for a version trained on the whole log.
const logged = SEED + traffic.length;
const coversAll = (v: HeadVersion): boolean => Number(v.trainedExamples) + Number(v.holdout?.examples ?? 0) === logged;
let fed = await getHead({ head: "fed" });
while (!fed.versions.some(coversAll)) {
  if (performance.now() - lastFeedbackAt > 600_000) throw new Error("no version covers all feedback after 10 minutes");
  await new Promise((resolve) => setTimeout(resolve, 250));
  fed = await getHead({ head: "fed" });
}
const publishedAfter = (performance.now() - lastFeedbackAt) / 1000;
const newest = fed.versions.find(coversAll)!;
log(`fed head: ${fed.versions.length} versions, active v${fed.head!.activeVersion}, newest v${newest.version}; published ${publishedAfter.toFixed(1)} s after the last feedback`);

// (b) the same examples, offline: one Adapt stream, fed examples under their prediction ids.
const offlineExamples: ToyExample[] = [...seedExamples, ...answered.map((s) => ({ id: s.id, text: s.text, labels: [s.truth] }))];
const started = performance.now();
const offline = await adapt(heads, { head: "offline", labels, hyperparameters: HYPERPARAMETERS }, offlineExamples);
const adaptRate = offlineExamples.length / ((performance.now() - started) / 1000);
log(`offline head: holdout accuracy ${offline.committed[0].holdout!.accuracy.toFixed(3)}`);

const truth = test.map((r) => r.label);
const texts = test.map((r) => r.text);
const fedActive = testScores(truth, await topLabels(server.encoder(), "fed", texts), labels);
const fedNewest = newest.version === fed.head!.activeVersion ? fedActive : testScores(truth, await topLabels(server.encoder(), "fed", texts, newest.version), labels);
const offlineScores = testScores(truth, await topLabels(server.encoder(), "offline", texts), labels);
const seedScores = testScores(truth, await topLabels(server.encoder(), "fed", texts, 1), labels);
const live = (await getHead({ head: "fed" })).live!;
await server.stop();
const ceiling = Math.max(ceilingBefore, measureCeiling());

const classifyRate = traffic.length / classifySeconds;
const feedbackRate = traffic.length / feedbackSeconds;
const pct = (x: number): string => (100 * x).toFixed(1);
const gap = (x: number): string => (100 * (x - offlineScores.accuracy)).toFixed(1);
const holdoutOf = (version: number): string => pct(fed.versions.find((v) => v.version === version)!.holdout!.accuracy);
const report = `# Feedback benchmark

\`npm run bench:feedback\` on ${new Date().toISOString().slice(0, 10)} (${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} cores): Debian package
sections (${labels.length} labels), model ${modelDir === join(ROOT, "models", "default") ? "the default (models/default, the trained bertd-mini)" : modelDir}, mean pooling,
default hyperparameters (seed 1) for both heads.

(a) **feedback only**: Adapt on the first ${SEED} training examples with the policy
\`{continuous, publish_every_examples ${policy.publishEveryExamples}, publish_every_seconds ${policy.publishEverySeconds}, promotion IF_BETTER}\`;
then the other ${traffic.length} training texts arrive as traffic, ${CHUNK} at a time: Classify them (${PER_CALL} texts per call,
${CONCURRENCY} calls in flight), then Feedback with the true label for each prediction id (${PER_CALL} items per call, ${CONCURRENCY} in flight).
The head learned and published on its own: ${fed.versions.length} versions, v${fed.head!.activeVersion} active,
the last one ${publishedAfter.toFixed(1)} s after the last feedback.
(b) **offline**: one Adapt stream of the same ${offlineExamples.length} examples (the fed ones under their prediction ids, so
both heads hold out the same examples), committed once.

| head | test accuracy | test macro-F1 | gap to (b), accuracy points | holdout accuracy |
| --- | ---: | ---: | ---: | ---: |
| (a) feedback only, active version v${fed.head!.activeVersion} | ${pct(fedActive.accuracy)} | ${pct(fedActive.macroF1)} | ${gap(fedActive.accuracy)} | ${holdoutOf(fed.head!.activeVersion)} |
${newest.version === fed.head!.activeVersion ? "" : `| (a) its newest version v${newest.version} (not promoted) | ${pct(fedNewest.accuracy)} | ${pct(fedNewest.macroF1)} | ${gap(fedNewest.accuracy)} | ${holdoutOf(newest.version)} |\n`}| (b) offline, one Adapt stream | ${pct(offlineScores.accuracy)} | ${pct(offlineScores.macroF1)} | 0 | ${pct(offline.committed[0].holdout!.accuracy)} |
| the seed head (a) started from, v1 (${SEED} examples) | ${pct(seedScores.accuracy)} | ${pct(seedScores.macroF1)} | ${gap(seedScores.accuracy)} | ${holdoutOf(1)} |

What the traffic was served, by chunk (accuracy of the served labels, judged by the feedback):

| traffic so far | served by | served accuracy |
| ---: | --- | ---: |
${chunks.map((c) => `| ${c.upTo} | v${c.versions} | ${pct(c.servedAccuracy)} |`).join("\n")}

Live accuracy at the end (GetHead, last ${live.examples} answered predictions): ${pct(live.accuracy)}, macro-F1 ${pct(live.macroF1)}.

Throughput in this run (time inside the calls; the head learned and published in the background meanwhile):

| what | items/s | × ceiling |
| --- | ---: | ---: |
| ceiling: direct ONNX Runtime, length-sorted batches of the same ${traffic.length} texts (the better of a run before and one after) | ${ceiling.toFixed(0)} | 1.00 |
| Classify (texts) | ${classifyRate.toFixed(0)} | ${(classifyRate / ceiling).toFixed(2)} |
| Feedback (answers acknowledged, in the head's log) | ${feedbackRate.toFixed(0)} | ${(feedbackRate / ceiling).toFixed(2)} |
| Adapt of (b) (examples, including the commit; its texts were in the embedding cache already) | ${adaptRate.toFixed(0)} | ${(adaptRate / ceiling).toFixed(2)} |

Feedback is ${(feedbackRate / classifyRate).toFixed(1)}× Classify's rate: an answer by prediction id needs no encoder (the text and
the served labels are kept with the prediction); its cost is the lookup and the durable append to the head's log. The
learner reads the features of answers that come soon after their prediction from the embedding cache.
`;
writeFileSync(args.out, report);
console.log(report);
