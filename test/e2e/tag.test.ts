import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Pooling, type TagRequestSchema } from "../../src/gen/bertd/v1/encoder_pb.js";
import { HeadType, Promotion, StartFrom } from "../../src/gen/bertd/v1/heads_pb.js";
import { generateBertModel } from "../../tools/generator/index.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";
import { TOY_TAGS, toySentences } from "../helpers/toy-tagging.js";
import { rejectsWithStatus as rejects } from "../helpers/assertions.js";
import { maxAbsDiff, ReferenceModel, referencePool } from "../helpers/reference.js";
import { scrapeMetrics } from "../helpers/metrics.js";

const CONFIG = { head: "toy", type: HeadType.TOKEN, labels: TOY_TAGS, hyperparameters: { seed: 1n, holdoutFraction: 0.2 }, progressEvery: 50 };

describe("TOKEN heads: Adapt over words and tags, Encoder.Tag", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bertd-tag-"));
  let server: ServerProcess;
  let result: Awaited<ReturnType<typeof adapt>>;
  // The fixture of every test here (each must pass alone): head "toy" taught the toy task, version 1.
  before(async () => {
    server = await startServer(["--data-dir", dataDir]);
    result = await adapt(server.heads(), CONFIG, toySentences(200));
  });
  after(async () => {
    await server?.stop();
  });

  const tag = (request: MessageInitShape<typeof TagRequestSchema>) => server.encoder().unary("tag")(request);

  it("learns a toy tagging task to 100% entity F1 and tags texts and pre-split words", async () => {
    const [committed] = result.committed;
    assert.equal(committed.version, 1);
    assert.ok(Number(committed.holdout!.examples) >= 20, "sentences were held out");
    assert.equal(committed.holdout!.spanF1, 1);
    assert.equal(committed.holdout!.spanPrecision, 1);
    assert.equal(committed.holdout!.spanRecall, 1);
    const last = result.progress.at(-1)!;
    assert.equal(Number(last.durableExamples), 200);
    assert.ok(last.prequentialSpanF1 > 0 && last.prequentialSpanF1 <= 1, `prequential span F1 ${last.prequentialSpanF1}`);
    assert.ok(last.holdout!.spanF1 > 0);

    const text = "Yesterday Alice Smith met Bob Jones in Hong Kong.";
    const response = await tag({ head: "toy", texts: [text, "Grace Walker visited Paris with Dave Lewis."] });
    assert.equal(response.headVersion, 1);
    const [first, second] = response.results;
    assert.deepEqual(
      first.words.map((w) => [w.word, w.label]),
      [["Yesterday", "O"], ["Alice", "B-PER"], ["Smith", "I-PER"], ["met", "O"], ["Bob", "B-PER"], ["Jones", "I-PER"], ["in", "O"], ["Hong", "B-LOC"], ["Kong", "I-LOC"], [".", "O"]],
    );
    for (const word of first.words) {
      assert.equal(text.slice(word.start, word.end), word.word);
      assert.ok(word.encoded && word.score > 0.3 && word.score <= 1);
    }
    assert.deepEqual(
      first.entities.map((e) => [e.type, e.text, e.start, e.end]),
      [["PER", "Alice Smith", 10, 21], ["PER", "Bob Jones", 26, 35], ["LOC", "Hong Kong", 39, 48]],
    );
    for (const entity of first.entities) assert.ok(entity.score > 0.3 && entity.score <= 1);
    assert.deepEqual(second.entities.map((e) => e.text), ["Grace Walker", "Paris", "Dave Lewis"]);

    const words = await tag({ head: "toy", words: [{ words: ["in", "Berlin", ",", "Carol", "Clark", "met", "Heidi", "Brown"] }] });
    assert.deepEqual(
      words.results[0].entities.map((e) => [e.type, e.text, e.start]),
      [["LOC", "Berlin", 3], ["PER", "Carol Clark", 12], ["PER", "Heidi Brown", 28]],
    );

    const head = await server.heads().unary("getHead")({ head: "toy" });
    assert.equal(head.head?.type, HeadType.TOKEN);
    assert.deepEqual(head.head?.labels, TOY_TAGS);
    assert.equal(head.versions[0].holdout?.spanF1, 1);
    assert.equal(Number(head.versions[0].trainedExamples), 200 - Number(committed.holdout!.examples));
    const metrics = await scrapeMetrics(server);
    assert.equal(metrics.value("bertd_head_holdout_span_f1", { head: "toy" }), 1);
    const prequential = metrics.value("bertd_adapt_prequential_span_f1", { head: "toy" });
    assert.ok(prequential !== undefined && prequential >= 0 && prequential < 1, `prequential span F1 gauge ${prequential}`);
  });

  it("labels words past the model's maximum length O, unencoded, and still gives every word", async () => {
    const words = Array.from({ length: 700 }, (_, i) => (i % 7 === 3 ? "alice" : "met"));
    const response = await tag({ head: "toy", words: [{ words }] });
    const tagged = response.results[0].words;
    assert.equal(tagged.length, 700);
    assert.equal(response.usage?.inputTokens, 512);
    assert.ok(tagged.slice(0, 510).every((w) => w.encoded));
    assert.ok(tagged.slice(510).every((w) => !w.encoded && w.label === "O" && w.score === 0));
    assert.ok(response.results[0].entities.every((e) => e.start < tagged[510].start));
  });

  it("answers bad input with INVALID_ARGUMENT naming the example, and keeps serving", async () => {
    const heads = server.heads();
    const bad = (example: object, config: object = CONFIG) => adapt(heads, config, [example]);
    await rejects(bad({ id: "n1", words: ["a", "b"], tags: ["O"] }), status.INVALID_ARGUMENT, /example "n1" has 1 tags for 2 words/);
    await rejects(bad({ id: "n2", words: ["a"], tags: ["PER"] }), status.INVALID_ARGUMENT, /example "n2": tags\[0\] "PER" is not O, B-TYPE or I-TYPE/);
    await rejects(bad({ id: "n3", words: ["a"], tags: ["B-ORG"] }), status.INVALID_ARGUMENT, /example "n3": tag "B-ORG" is not one of the head's tags/);
    await rejects(bad({ id: "n4", words: ["a", " "], tags: ["O", "O"] }), status.INVALID_ARGUMENT, /example "n4": words\[1\] is empty/);
    await rejects(bad({ id: "n5", words: [], tags: [] }), status.INVALID_ARGUMENT, /example "n5" has no words/);
    await rejects(bad({ id: "n6", text: "a b", labels: ["O"] }), status.INVALID_ARGUMENT, /example "n6" sets text or labels: a TOKEN head takes words and tags/);
    await rejects(
      bad({ id: "n7", words: ["a"], tags: ["O"] }, { head: "texts", labels: ["sport", "food"] }),
      status.INVALID_ARGUMENT,
      /example "n7" sets words or tags, which only TOKEN heads take/,
    );
    await rejects(bad({ id: "n8", words: ["a"], tags: ["O"] }, { ...CONFIG, head: "toy2", labels: ["PER"] }), status.INVALID_ARGUMENT, /config.labels: "PER" is not a tag/);
    // A TOKEN head may learn new tags when allowed.
    const grown = await adapt(heads, { ...CONFIG, head: "grown", labels: [], allowNewLabels: true }, [{ id: "g1", words: ["bob", "x"], tags: ["B-PER", "O"] }]);
    assert.equal(grown.committed.length, 1);
    assert.deepEqual((await heads.unary("getHead")({ head: "grown" })).head?.labels, ["O", "B-PER"]);

    await rejects(tag({ head: "toy", texts: ["a"], words: [{ words: ["a"] }] }), status.INVALID_ARGUMENT, /texts or words, not both/);
    await rejects(tag({ head: "toy" }), status.INVALID_ARGUMENT, /texts and words are empty/);
    await rejects(tag({ head: "toy", words: [{ words: ["a", ""] }] }), status.INVALID_ARGUMENT, /words\[0\]\.words\[1\] is empty/);
    await rejects(tag({ head: "nope", texts: ["a"] }), status.NOT_FOUND, /head "nope" does not exist/);
    await adapt(heads, { head: "texts", labels: ["sport", "food"], hyperparameters: { holdoutFraction: 0 } }, toyExamples(10));
    await rejects(tag({ head: "texts", texts: ["a"] }), status.INVALID_ARGUMENT, /head "texts" is MULTICLASS, not TOKEN: use Classify/);
    await rejects(server.encoder().unary("classify")({ head: "toy", inputs: ["a"] }), status.INVALID_ARGUMENT, /TOKEN head: use Tag/);
    await rejects(adapt(heads, { ...CONFIG, type: HeadType.MULTICLASS, labels: ["x"] }, []), status.FAILED_PRECONDITION, /head "toy" is token, not multiclass/);
    const shadowed = { continuous: true, publishEveryExamples: 10, shadowExamples: 5 };
    await rejects(heads.unary("setHeadPolicy")({ head: "toy", policy: shadowed }), status.INVALID_ARGUMENT, /policy\.shadow_examples: shadow scoring is for MULTICLASS and MULTILABEL heads, not TOKEN heads/);
    await rejects(adapt(heads, { ...CONFIG, policy: shadowed }, []), status.INVALID_ARGUMENT, /config\.policy\.shadow_examples: shadow scoring is for MULTICLASS/);
    // A text with no words has no entities (its inputs read no token state: nothing runs for them).
    const empty = await tag({ head: "toy", texts: ["", " "] });
    assert.deepEqual(empty.results.map((r) => r.entities.length), [0, 0]);
    // Nothing broke: the head still tags.
    const after = await tag({ head: "toy", texts: ["Erin Taylor met Frank Wilson in Rome."] });
    assert.deepEqual(after.results[0].entities.filter((e) => e.type === "PER").map((e) => e.text), ["Erin Taylor", "Frank Wilson"]);
  });

  it("survives a restart and continues adapting from the stored version", async () => {
    const text = "Yesterday Carol Brown met Dave Smith in Madrid.";
    const before = await tag({ head: "toy", texts: [text] });
    await server.stop();
    server = await startServer(["--data-dir", dataDir]);
    const restarted = await tag({ head: "toy", texts: [text] });
    // Prediction ids are new per call; everything else is the same.
    const withoutIds = (response: typeof before) => ({ ...response, results: response.results.map((r) => ({ ...r, predictionId: "" })) });
    assert.deepEqual(withoutIds(restarted), withoutIds(before));
    const more = await adapt(
      server.heads(),
      { ...CONFIG, startFrom: StartFrom.ACTIVE, promotion: Promotion.ALWAYS },
      toySentences(40, "more", 11),
    );
    const [committed] = more.committed;
    assert.equal(committed.version, 2);
    assert.equal(committed.holdout!.spanF1, 1);
    const head = await server.heads().unary("getHead")({ head: "toy" });
    assert.equal(head.head?.activeVersion, 2);
    assert.ok(head.versions[1].steps > head.versions[0].steps, "version 2 continued from version 1's optimizer state");
    const holdout = Number(committed.holdout!.examples);
    assert.equal(Number(head.versions[1].trainedExamples), 240 - holdout, "the replay covered the whole logged history");
    const after = await tag({ head: "toy", texts: [text] });
    assert.equal(after.headVersion, 2);
    assert.deepEqual(after.results[0].entities.map((e) => e.text), ["Carol Brown", "Dave Smith", "Madrid"]);
    const pinned = await tag({ head: "toy", texts: [text], version: 1 });
    assert.equal(pinned.headVersion, 1);
    await rejects(tag({ head: "toy", texts: [text], minVersion: 3 }), status.FAILED_PRECONDITION, /older than min_version 3/);
  });
});

describe("TOKEN heads on an export with hidden states", () => {
  let server: ServerProcess;
  let modelDir: string;
  before(async () => {
    modelDir = mkdtempSync(join(tmpdir(), "bertd-hidden-states-"));
    await generateBertModel({ outDir: modelDir, hiddenStates: true, layers: 3 });
    server = await startServer(["--model-dir", modelDir]);
  });
  after(async () => {
    await server?.stop();
  });

  it("concatenates the last layers into each word's features and learns the toy task", async () => {
    const info = await server.encoder().unary("getModelInfo")({});
    assert.equal(info.tokenStateWidth, 3 * info.hiddenSize, "last_hidden_state, hidden_states.2 and hidden_states.1");
    const result = await adapt(server.heads(), CONFIG, toySentences(200));
    assert.equal(result.committed[0].holdout!.spanF1, 1);
    const response = await server.encoder().unary("tag")({ head: "toy", texts: ["Yesterday Alice Smith met Bob Jones in Hong Kong."] });
    assert.deepEqual(response.results[0].entities.map((e) => [e.type, e.text]), [["PER", "Alice Smith"], ["PER", "Bob Jones"], ["LOC", "Hong Kong"]]);
    // Embeddings still pool last_hidden_state alone: equal to direct ONNX Runtime on the same file.
    const text = "a chess game";
    const embedded = await server.encoder().unary("embed")({ inputs: [text], pooling: Pooling.MEAN, normalize: false });
    assert.equal(embedded.dimensions, info.hiddenSize);
    const [encoding] = (await server.encoder().unary("tokenize")({ inputs: [text], addSpecialTokens: true })).encodings;
    const reference = await ReferenceModel.open(join(modelDir, "model.onnx"));
    try {
      const solo = await reference.run(encoding.ids);
      const diff = maxAbsDiff(embedded.embeddings[0].values, referencePool(solo.hidden, solo.pooler, "mean"));
      assert.ok(diff <= 1e-5, `max abs diff ${diff} from direct ONNX Runtime`);
    } finally {
      await reference.close();
    }
  });
});
