import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { HeadType, Promotion, StartFrom } from "../../src/gen/bertd/v1/heads_pb.js";
import { generateBertModel } from "../../tools/generator/index.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { openAdapt, until } from "../helpers/adapt-stream.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";
import { loggedIds, rejectsWithStatus as code } from "../helpers/assertions.js";

const HYPER = { seed: 7n, replayPasses: 3, holdoutFraction: 0.2 };

function stateOf(dataDir: string, head: string, version: number): Buffer {
  const db = new Database(join(dataDir, "heads.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT state FROM versions WHERE head = ? AND version = ?").get(head, version) as { state: Buffer }).state;
  } finally {
    db.close();
  }
}

// One server for the file; every test makes the heads it reads itself (each test passes alone).
describe("Adapt and Classify over gRPC", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bertd-adapt-"));
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--data-dir", dataDir]);
  });
  after(async () => {
    await server?.stop();
  });

  it("learns a separable task to 100% holdout accuracy and serves it at once", async () => {
    const examples = toyExamples(120);
    const result = await adapt(server.heads(), { head: "topics", labels: ["sport", "food"], hyperparameters: HYPER, progressEvery: 40 }, examples);
    assert.equal(result.committed.length, 1);
    const [committed] = result.committed;
    assert.equal(committed.version, 1);
    assert.ok(committed.promoted);
    assert.ok(Number(committed.holdout!.examples) > 5, "some examples were held out");
    assert.equal(committed.holdout!.accuracy, 1);
    const last = result.progress.at(-1)!;
    assert.equal(Number(last.accepted), 120);
    assert.equal(Number(last.durableExamples), 120);
    assert.ok(last.prequentialAccuracy > 0.5 && last.prequentialAccuracy <= 1);
    const classify = server.encoder().unary("classify");
    const response = await classify({ head: "topics", inputs: ["goal football team stadium", "bake flour sugar oven"], topK: 1 });
    assert.equal(response.headVersion, 1);
    assert.deepEqual(
      response.predictions.map((p) => p.labels[0].label),
      ["sport", "food"],
    );
    const all = await classify({ head: "topics", inputs: ["referee"] });
    assert.equal(all.predictions[0].labels.length, 2);
    assert.ok(all.predictions[0].labels[0].score >= all.predictions[0].labels[1].score);
    const head = await server.heads().unary("getHead")({ head: "topics" });
    assert.equal(head.head?.activeVersion, 1);
    assert.deepEqual(head.head?.labels, ["sport", "food"]);
    assert.equal(head.versions[0].config?.hyperparameters?.replayPasses, 3);
    const list = await server.heads().unary("listHeads")({});
    assert.ok(list.heads.some((h) => h.name === "topics"));
  });

  it("learns multilabel heads and labels that arrive mid-stream", async () => {
    const examples = toyExamples(90, ["sport", "food", "music"], "ml").map((e, i) => ({ ...e, labels: i % 5 === 0 ? [...e.labels, "music"].filter((v, j, a) => a.indexOf(v) === j) : e.labels }));
    const multi = await adapt(server.heads(), { head: "multi", type: HeadType.MULTILABEL, labels: ["sport", "food", "music"], hyperparameters: HYPER }, examples);
    assert.equal(multi.committed[0].version, 1);
    assert.ok(multi.committed[0].holdout!.macroF1 > 0.5);
    const grown = await adapt(server.heads(), { head: "grown", labels: ["sport"], allowNewLabels: true, hyperparameters: HYPER }, toyExamples(90, ["sport", "food", "music"], "gr"));
    assert.equal(grown.committed[0].holdout!.accuracy, 1);
    const head = await server.heads().unary("getHead")({ head: "grown" });
    assert.deepEqual([...head.head!.labels].sort(), ["food", "music", "sport"]);
  });

  it("reports bad examples in progress and goes on; rejects bad configs naming the field", async () => {
    const examples = [
      ...toyExamples(20, ["sport", "food"], "ok"),
      { id: "bad-label", text: "goal", labels: ["weather"] },
      { id: "bad-text", text: "", labels: ["sport"] },
      { id: "bad-weight", text: "goal", labels: ["sport"], weight: -1 },
      { id: "two-labels", text: "goal", labels: ["sport", "food"] },
      { id: "ok-0", text: "goal again", labels: ["sport"] },
    ];
    const result = await adapt(server.heads(), { head: "picky", labels: ["sport", "food"], hyperparameters: HYPER }, examples);
    const reasons = result.progress.flatMap((p) => p.rejections.map((r) => `${r.id}: ${r.reason}`));
    assert.equal(Number(result.progress.at(-1)!.rejected), 4);
    assert.equal(Number(result.progress.at(-1)!.duplicate), 1);
    assert.ok(reasons.some((r) => /bad-label: label "weather" is not one of the head's labels/.test(r)), reasons.join("; "));
    assert.ok(reasons.some((r) => /bad-text: example.text is empty/.test(r)));
    assert.ok(reasons.some((r) => /bad-weight: example.weight -1/.test(r)));
    assert.ok(reasons.some((r) => /two-labels: a MULTICLASS example needs exactly one label/.test(r)));

    const heads = server.heads();
    await code(adapt(heads, {}, [], { first: { request: { case: "commit", value: {} } } }), status.INVALID_ARGUMENT, /first message must be a config/);
    await code(adapt(heads, { head: "x", labels: ["a"], hyperparameters: { learningRate: -1 } }, []), status.INVALID_ARGUMENT, /hyperparameters\.learning_rate/);
    await code(adapt(heads, { head: "x", labels: ["a"], hyperparameters: { batchSize: 0 } }, []), status.INVALID_ARGUMENT, /hyperparameters\.batch_size/);
    await code(adapt(heads, { head: "bad name!", labels: ["a"] }, []), status.INVALID_ARGUMENT, /config.head/);
    await code(adapt(heads, { head: "x", labels: [] }, []), status.INVALID_ARGUMENT, /labels is empty/);
    await code(adapt(heads, { head: "x", labels: ["a"], type: 9 as HeadType }, []), status.INVALID_ARGUMENT, /config.type: unknown value 9/);
    await code(server.encoder().unary("classify")({ head: "nope", inputs: ["a"] }), status.NOT_FOUND, /head "nope" does not exist/);
    await code(server.encoder().unary("classify")({ head: "picky", inputs: ["a"], version: 42 }), status.NOT_FOUND, /no version 42/);
  });

  it("allows one Adapt stream per head: a second one is ABORTED", async () => {
    const first = openAdapt(server.heads(), { head: "solo", labels: ["sport", "food"], hyperparameters: HYPER, progressEvery: 5 });
    first.send(toyExamples(10));
    // Examples acknowledged as durable: the first stream holds the head.
    await until("the first stream to log its examples", 30_000, () => (first.durable().count >= 5 ? true : undefined));
    await code(adapt(server.heads(), { head: "solo", labels: ["sport", "food"] }, toyExamples(4)), status.ABORTED, /being adapted by another stream/);
    first.end();
    await first.done;
  });

  it("rolls back with SetActiveVersion", async () => {
    const config = { head: "rollback", labels: ["sport", "food"], promotion: Promotion.ALWAYS, hyperparameters: HYPER };
    await adapt(server.heads(), config, toyExamples(40, ["sport", "food"], "r1"));
    await adapt(server.heads(), config, toyExamples(20, ["sport", "food"], "r2"));
    const classify = server.encoder().unary("classify");
    assert.equal((await classify({ head: "rollback", inputs: ["goal"] })).headVersion, 2);
    const set = await server.heads().unary("setActiveVersion")({ head: "rollback", version: 1 });
    assert.equal(set.activeVersion, 1);
    assert.equal(set.previousVersion, 2);
    assert.equal((await classify({ head: "rollback", inputs: ["goal"] })).headVersion, 1);
    await server.heads().unary("setActiveVersion")({ head: "rollback", version: 2 });
    assert.equal((await classify({ head: "rollback", inputs: ["goal"] })).headVersion, 2);
    await code(server.heads().unary("setActiveVersion")({ head: "rollback", version: 9 }), status.FAILED_PRECONDITION, /no version 9/);
  });

  // IF_BETTER, both ways, on a holdout shared by both versions (every logged holdout example of the
  // head). A version trained only on its own stream of examples with the labels swapped ("mislearned",
  // no replay of the log) is wrong wherever a version trained on the clean examples is right.
  const swapped = (examples: ReturnType<typeof toyExamples>) => examples.map((e) => ({ ...e, labels: [e.labels[0] === "sport" ? "food" : "sport"] }));
  const mislearned = { startFrom: StartFrom.SCRATCH, hyperparameters: { ...HYPER, replayPasses: 0 } };
  const learned = { startFrom: StartFrom.SCRATCH, hyperparameters: HYPER };
  const labels = ["sport", "food"];

  it("IF_BETTER keeps a better active version", async () => {
    const good = await adapt(server.heads(), { head: "keeper", labels, ...learned, promotion: Promotion.ALWAYS }, toyExamples(120, labels, "k1"));
    assert.equal(good.committed[0].holdout!.accuracy, 1);
    const worse = await adapt(server.heads(), { head: "keeper", labels, ...mislearned, promotion: Promotion.IF_BETTER }, swapped(toyExamples(20, labels, "k2")));
    const [committed] = worse.committed;
    assert.equal(committed.version, 2);
    assert.ok(committed.holdout!.accuracy < 0.5, `the mislearned version scored ${committed.holdout!.accuracy}`);
    assert.equal(committed.promoted, false, committed.promotionReason);
    assert.match(committed.promotionReason, /kept the active version/);
    assert.equal((await server.heads().unary("getHead")({ head: "keeper" })).head?.activeVersion, 1);
    assert.equal((await server.encoder().unary("classify")({ head: "keeper", inputs: ["goal"] })).headVersion, 1);
  });

  it("IF_BETTER promotes a better version", async () => {
    const weak = await adapt(server.heads(), { head: "climber", labels, ...mislearned, promotion: Promotion.ALWAYS }, swapped(toyExamples(20, labels, "c1")));
    assert.equal(weak.committed[0].version, 1);
    const better = await adapt(server.heads(), { head: "climber", labels, ...learned, promotion: Promotion.IF_BETTER }, toyExamples(120, labels, "c2"));
    const [committed] = better.committed;
    assert.ok(committed.holdout!.accuracy > 0.5, `the better version scored ${committed.holdout!.accuracy}`);
    assert.equal(committed.promoted, true, committed.promotionReason);
    assert.match(committed.promotionReason, /holdout accuracy [\d.]+ vs active v1 [\d.]+ on the same \d+ examples$/);
    assert.equal((await server.encoder().unary("classify")({ head: "climber", inputs: ["goal"] })).headVersion, 2);
  });

  it("serves whole versions only while a new version trains: Classify never sees a half-updated head", async () => {
    const config = { head: "live", labels: ["sport", "food"], hyperparameters: HYPER, promotion: Promotion.ALWAYS };
    await adapt(server.heads(), config, toyExamples(40, ["sport", "food"], "l1"));
    const classify = server.encoder().unary("classify");
    const seen = new Map<number, string>();
    let training = true;
    const probe = (async () => {
      while (training) {
        const response = await classify({ head: "live", inputs: ["goal football"] });
        const scores = JSON.stringify(response.predictions[0].labels);
        const previous = seen.get(response.headVersion);
        assert.ok(previous === undefined || previous === scores, `version ${response.headVersion} answered two ways`);
        seen.set(response.headVersion, scores);
      }
    })();
    await adapt(server.heads(), config, toyExamples(300, ["sport", "food"], "l2"));
    training = false;
    await probe;
    const after = await classify({ head: "live", inputs: ["goal football"] });
    assert.equal(after.headVersion, 2);
    assert.ok([...seen.keys()].every((v) => v === 1 || v === 2), [...seen.keys()].join(","));
    assert.ok(seen.has(1));
  });

  it("gives bit-identical weights for the same examples and seed, and across a restart (resume)", async () => {
    const a = toyExamples(50, ["sport", "food"], "a", 3);
    const b = toyExamples(50, ["sport", "food"], "b", 4);
    const config = { labels: ["sport", "food"], hyperparameters: HYPER, promotion: Promotion.ALWAYS };
    await adapt(server.heads(), { ...config, head: "twin1" }, a);
    await adapt(server.heads(), { ...config, head: "twin2" }, a);
    assert.deepEqual(stateOf(dataDir, "twin1", 1), stateOf(dataDir, "twin2", 1));

    await adapt(server.heads(), { ...config, head: "onego" }, [...a, "commit", ...b]);
    await adapt(server.heads(), { ...config, head: "resumed" }, a);
    await server.stop();
    server = await startServer(["--data-dir", dataDir]);
    await adapt(server.heads(), { ...config, head: "resumed" }, b);
    assert.deepEqual(stateOf(dataDir, "resumed", 2), stateOf(dataDir, "onego", 2));
    // The restarted server serves exactly the committed versions.
    assert.equal((await server.encoder().unary("classify")({ head: "twin1", inputs: ["goal"] })).headVersion, 1);
    assert.equal((await server.encoder().unary("classify")({ head: "resumed", inputs: ["goal"] })).headVersion, 2);
  });

  it("promotes nothing when the client cancels, and keeps the examples it logged", async () => {
    const heads = server.heads();
    const { create } = await import("@bufbuild/protobuf");
    const { AdaptRequestSchema } = await import("../../src/gen/bertd/v1/heads_pb.js");
    const call = heads.stream("adapt");
    call.on("error", () => {});
    let durable = 0;
    const progressed = new Promise<void>((resolve) =>
      call.on("data", (m: { response: { case: string; value: { durableExamples?: bigint } } }) => {
        if (m.response.case === "progress") {
          durable = Number(m.response.value.durableExamples);
          resolve();
        }
      }),
    );
    call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head: "cancelled", labels: ["sport", "food"], hyperparameters: HYPER, progressEvery: 10 } } }));
    for (const example of toyExamples(40, ["sport", "food"], "cx")) call.write(create(AdaptRequestSchema, { request: { case: "example", value: example } }));
    await progressed;
    call.cancel();
    // The server's own log line says the stream is over (it released the head).
    await server.logLine((l) => l.method === "/bertd.v1.Heads/Adapt" && l.head === "cancelled");
    const head = await heads.unary("getHead")({ head: "cancelled" });
    assert.equal(head.head?.activeVersion, 0);
    assert.equal(head.versions.length, 0);
    assert.ok(loggedIds(dataDir, "cancelled").length >= durable && durable > 0);
    await code(server.encoder().unary("classify")({ head: "cancelled", inputs: ["goal"] }), status.NOT_FOUND, /no active version/);
    // The head is free again for a new stream.
    const again = await adapt(heads, { head: "cancelled", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(10, ["sport", "food"], "cy"));
    assert.equal(again.committed[0].version, 1);
  });

  it("keeps every committed version and every example acked as durable across kill -9", async () => {
    const before = await adapt(server.heads(), { head: "crash", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(30, ["sport", "food"], "c1"));
    assert.equal(before.committed[0].version, 1);
    const call = server.heads().stream("adapt");
    let durable = 0;
    let lastId = "";
    const sawProgress = new Promise<void>((resolve) =>
      call.on("data", (message: { response: { case: string; value: { durableExamples?: bigint; lastDurableId?: string } } }) => {
        if (message.response.case === "progress") {
          durable = Number(message.response.value.durableExamples);
          lastId = message.response.value.lastDurableId ?? "";
          if (durable >= 40) resolve();
        }
      }),
    );
    call.on("error", () => {});
    const { create } = await import("@bufbuild/protobuf");
    const { AdaptRequestSchema } = await import("../../src/gen/bertd/v1/heads_pb.js");
    call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head: "crash", labels: ["sport", "food"], hyperparameters: HYPER, progressEvery: 10 } } }));
    for (const example of toyExamples(400, ["sport", "food"], "c2")) call.write(create(AdaptRequestSchema, { request: { case: "example", value: example } }));
    await sawProgress;
    server.process.kill("SIGKILL");
    await server.stop();
    server = await startServer(["--data-dir", dataDir]);
    const ids = loggedIds(dataDir, "crash");
    for (let i = 0; i < 30; i++) assert.ok(ids.includes(`c1-${i}`));
    assert.ok(ids.includes(lastId), `last acked durable id ${lastId} is in the log`);
    assert.ok(ids.filter((id) => id.startsWith("c2-")).length >= durable - 0);
    const head = await server.heads().unary("getHead")({ head: "crash" });
    assert.equal(head.head?.activeVersion, 1);
    assert.equal((await server.encoder().unary("classify")({ head: "crash", inputs: ["goal"] })).headVersion, 1);
  });
});

describe("heads and the encoder they were trained on", () => {
  it("refuses a head trained on another model: Classify (active or pinned version) and Adapt get FAILED_PRECONDITION naming it", async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "bertd-other-model-"));
    const first = await startServer(["--data-dir", dataDir, "--no-warmup"]);
    t.after(() => first.stop());
    await adapt(first.heads(), { head: "bound", labels: ["sport", "food"], hyperparameters: HYPER }, toyExamples(30, ["sport", "food"], "b"));
    assert.equal(await first.stop(), 0);

    const modelDir = mkdtempSync(join(tmpdir(), "bertd-another-model-"));
    await generateBertModel({ outDir: modelDir, layers: 1, hidden: 32, heads: 2, intermediate: 64, seed: 9 });
    const second = await startServer(["--data-dir", dataDir, "--model-dir", modelDir, "--no-warmup"]);
    t.after(() => second.stop());
    assert.ok(second.logs.some((l) => l.msg === "head was trained on another encoder (model hash differs): not served" && l.head === "bound"));
    const classify = second.encoder().unary("classify");
    const refused = /head "bound" was trained on another encoder/;
    await code(classify({ head: "bound", inputs: ["goal"] }), status.FAILED_PRECONDITION, refused);
    await code(classify({ head: "bound", inputs: ["goal"], version: 1 }), status.FAILED_PRECONDITION, refused);
    await code(adapt(second.heads(), { head: "bound", hyperparameters: HYPER }, toyExamples(4, ["sport", "food"], "more")), status.FAILED_PRECONDITION, refused);
    // Its versions stay in the store for the model they belong to.
    assert.equal(stateOf(dataDir, "bound", 1).length > 0, true);
  });
});
