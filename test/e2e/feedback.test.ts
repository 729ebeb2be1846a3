import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FeedbackOutcome, FeedbackStreamRequestSchema, Promotion, type FeedbackResponse, type FeedbackStreamResponse } from "../../src/gen/bertd/v1/heads_pb.js";
import { adapt, toyExamples, toyPairs } from "../helpers/adapt-client.js";
import { until } from "../helpers/adapt-stream.js";
import { startCli } from "../helpers/cli-process.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import { throwawayDatabase, type ThrowawayDatabase } from "../helpers/postgres.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";

const LABELS = ["sport", "food"];
const HYPER = { seed: 5n, replayPasses: 2, holdoutFraction: 0.2, learningRate: 0.02 };

interface Served {
  id: string;
  text: string;
  truth: string;
  served: string;
  version: number;
}

/** Classifies the texts and returns what was served for each, with its prediction id. */
async function classifyAll(server: ServerProcess, head: string, examples: { text: string; labels: string[] }[]): Promise<Served[]> {
  const response = await server.encoder().unary("classify")({ head, inputs: examples.map((e) => e.text), topK: 1 });
  return response.predictions.map((p, i) => ({ id: p.predictionId, text: examples[i].text, truth: examples[i].labels[0], served: p.labels[0].label, version: response.headVersion }));
}

/** The served predictions' accuracy, computed here, independently of the server. */
function accuracyOf(served: Served[]): number {
  return served.filter((s) => s.served === s.truth).length / served.length;
}

describe("feedback on served predictions (embedded store)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bertd-feedback-"));
  let server: ServerProcess;
  const start = (): Promise<ServerProcess> => startServer(["--data-dir", dataDir, "--no-warmup", "--continuous-poll-ms", "200"]);
  /** 60 predictions served by version 1 of "topics", each answered: the first 30 by Feedback (with bad items), the rest by FeedbackStream. */
  let served: Served[] = [];
  let answer: Served[] = [];
  let unaryItems: { predictionId?: string; head?: string; text?: string; labels: string[] }[] = [];
  let unaryResponse: FeedbackResponse;
  let streamResponses: FeedbackStreamResponse[] = [];
  // The fixture of every test here (each must pass alone): the heads, then 60 predictions answered.
  // The tests below check what each of those calls answered.
  before(async () => {
    server = await start();
    const first = await adapt(server.heads(), { head: "topics", labels: LABELS, hyperparameters: HYPER }, toyExamples(40, LABELS, "seed", 3));
    assert.equal(first.committed[0].version, 1);
    await adapt(server.heads(), { head: "other", labels: ["x", "y"], hyperparameters: HYPER }, [
      { id: "o1", text: "alpha", labels: ["x"] },
      { id: "o2", text: "beta", labels: ["y"] },
    ]);
    served = await classifyAll(server, "topics", toyExamples(60, LABELS, "live", 11));
    answer = served.slice(0, 30);
    unaryItems = [
      ...answer.map((s) => ({ predictionId: s.id, labels: [s.truth] })),
      { predictionId: answer[0].id, labels: [answer[0].truth] },
      { predictionId: `p1.zz.${Date.now().toString(36)}.AAAAAAAAAAAAAAAA`, labels: ["sport"] },
      { predictionId: "not an id", labels: ["sport"] },
      { predictionId: served[30].id, labels: ["music"] },
      { predictionId: served[31].id, labels: ["sport", "food"] },
      { predictionId: served[32].id, labels: ["sport"], head: "other" },
      { head: "topics", text: "goal goal referee", labels: ["sport"] },
      { head: "nosuchhead", text: "x", labels: ["sport"] },
      { labels: ["sport"] },
    ];
    unaryResponse = await server.heads().unary("feedback")({ items: unaryItems });
    const call = server.heads().stream("feedbackStream");
    const responses: FeedbackStreamResponse[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on("data", (r: FeedbackStreamResponse) => responses.push(r));
      call.on("error", reject);
      call.on("end", resolve);
    });
    const rest = served.slice(30);
    for (let i = 0; i < rest.length; i += 10) {
      call.write(create(FeedbackStreamRequestSchema, { id: `batch-${i}`, items: rest.slice(i, i + 10).map((s) => ({ predictionId: s.id, labels: [s.truth], head: "topics" })) }));
    }
    call.end();
    await ended;
    streamResponses = responses;
  });
  after(async () => {
    await server?.stop();
  });

  it("gives every Classify and Tag result a prediction id, and none for the same text twice", () => {
    assert.equal(served.length, 60);
    assert.equal(new Set(served.map((s) => s.id)).size, 60);
    for (const s of served) assert.match(s.id, /^p1\./);
  });

  it("accepts answers durably, per item, and scores them against what was served", async () => {
    const heads = server.heads();
    const response = unaryResponse;
    assert.equal(response.results.length, unaryItems.length);
    const outcomes = response.results.map((r) => r.outcome);
    assert.deepEqual(outcomes.slice(0, 30), Array(30).fill(FeedbackOutcome.ACCEPTED));
    assert.equal(outcomes[30], FeedbackOutcome.DUPLICATE, response.results[30].detail);
    assert.equal(outcomes[31], FeedbackOutcome.UNKNOWN_ID);
    assert.equal(outcomes[32], FeedbackOutcome.UNKNOWN_ID);
    assert.equal(outcomes[33], FeedbackOutcome.INVALID_LABEL);
    assert.match(response.results[33].detail, /"music" is not one of the head's labels/);
    assert.equal(outcomes[34], FeedbackOutcome.INVALID_LABEL);
    assert.match(response.results[34].detail, /exactly one label/);
    assert.equal(outcomes[35], FeedbackOutcome.WRONG_HEAD);
    assert.match(response.results[35].detail, /made by head "topics", not "other"/);
    assert.equal(outcomes[36], FeedbackOutcome.ACCEPTED);
    assert.match(response.results[36].exampleId, /^text:/);
    assert.equal(outcomes[37], FeedbackOutcome.INVALID);
    assert.match(response.results[37].detail, /head "nosuchhead" does not exist/);
    assert.equal(outcomes[38], FeedbackOutcome.INVALID);
    assert.equal(response.accepted, 31n);
    for (let i = 0; i < 30; i++) {
      assert.equal(response.results[i].servedVersion, 1);
      assert.equal(response.results[i].servedCorrect, answer[i].served === answer[i].truth);
    }
    // Answered again later: counted once.
    const again = await heads.unary("feedback")({ items: [{ predictionId: answer[5].id, labels: [answer[5].truth === "sport" ? "food" : "sport"] }] });
    assert.equal(again.results[0].outcome, FeedbackOutcome.DUPLICATE);
    assert.match(again.results[0].detail, /counts once/);
  });

  it("takes feedback on a stream, one response per request", () => {
    const responses = streamResponses;
    assert.deepEqual(responses.map((r) => r.id), ["batch-0", "batch-10", "batch-20"]);
    assert.deepEqual(responses.map((r) => r.results.length), [10, 10, 10]);
    assert.ok(responses.every((r) => r.results.every((x) => x.outcome === FeedbackOutcome.ACCEPTED)), JSON.stringify(responses.map((r) => r.results.map((x) => x.detail))));
  });

  it("reports live accuracy equal to the accuracy of what was served, in GetHead and Prometheus", async () => {
    const head = await server.heads().unary("getHead")({ head: "topics" });
    assert.equal(head.live?.examples, 60n);
    assert.ok(Math.abs(head.live.accuracy - accuracyOf(served)) < 1e-12, `${head.live.accuracy} vs ${accuracyOf(served)}`);
    const v1 = head.versions.find((v) => v.version === 1)!;
    assert.equal(v1.live?.examples, 60n);
    await until("the live gauge", 5000, async () => {
      const value = (await scrapeMetrics(server)).value("bertd_head_live_accuracy", { head: "topics" });
      return value !== undefined && Math.abs(value - accuracyOf(served)) < 1e-9 ? true : undefined;
    });
    assert.equal((await scrapeMetrics(server)).value("bertd_feedback_total", { outcome: "accepted" }), 61);
  });

  it("publishes a new version by policy as feedback arrives, and rollback still works", async () => {
    const heads = server.heads();
    const set = await heads.unary("setHeadPolicy")({ head: "topics", policy: { continuous: true, publishEveryExamples: 20, promotion: Promotion.ALWAYS } });
    assert.equal(set.policy?.publishEveryExamples, 20);
    const more = await classifyAll(server, "topics", toyExamples(40, LABELS, "more", 17));
    const response = await heads.unary("feedback")({ items: more.map((s) => ({ predictionId: s.id, labels: [s.truth] })) });
    assert.equal(response.accepted, 40n);
    const head = await until("a version published by the policy", 30_000, async () => {
      const h = await heads.unary("getHead")({ head: "topics" });
      return h.head!.latestVersion >= 2 ? h : undefined;
    });
    assert.equal(head.head!.activeVersion, head.head!.latestVersion, "promotion ALWAYS");
    assert.ok(head.policy?.continuous);
    const newest = head.versions.at(-1)!;
    assert.ok(newest.trainedExamples > 40n, `the new version replayed the log with the feedback (${newest.trainedExamples} examples)`);
    served.push(...more);
    const rolled = await heads.unary("setActiveVersion")({ head: "topics", version: 1 });
    assert.equal(rolled.activeVersion, 1);
    assert.equal((await server.encoder().unary("classify")({ head: "topics", inputs: ["goal"] })).headVersion, 1);
    await heads.unary("setHeadPolicy")({ head: "topics", policy: { continuous: false } });
  });

  it("loses no acknowledged feedback when killed, and answers old ids EXPIRED after the restart", async () => {
    const pending = await classifyAll(server, "topics", toyExamples(4, LABELS, "late", 23));
    const acked = await server.heads().unary("feedback")({ items: [{ predictionId: pending[0].id, labels: [pending[0].truth] }] });
    assert.equal(acked.accepted, 1n);
    served.push(pending[0]);
    await server.stop("SIGKILL");
    server = await start();
    const heads = server.heads();
    const head = await heads.unary("getHead")({ head: "topics" });
    assert.equal(head.live?.examples, BigInt(served.length));
    assert.ok(Math.abs(head.live.accuracy - accuracyOf(served)) < 1e-12);
    // Named with their head, answers whose predictions are gone are still recognised in the log.
    const replies = await heads.unary("feedback")({ items: [...served.map((s) => ({ predictionId: s.id, labels: [s.truth], head: "topics" })), { predictionId: pending[1].id, labels: [pending[1].truth] }] });
    assert.ok(replies.results.slice(0, served.length).every((r) => r.outcome === FeedbackOutcome.DUPLICATE), "every acknowledged answer is still in the log");
    assert.equal(replies.results.at(-1)!.outcome, FeedbackOutcome.EXPIRED);
    assert.match(replies.results.at(-1)!.detail, /before this server restarted/);
  });

  it("shows prediction ids in `bertd classify --json` and takes `bertd feedback ID LABEL`", async () => {
    const env = { BERTD_ADDRESS: server.address };
    const classified = await startCli(["classify", "--head", "topics", "--json", "soup and butter"], env).output;
    assert.equal(classified.code, 0, classified.stderr);
    const line = JSON.parse(classified.stdout.trim()) as { predictionId: string };
    assert.match(line.predictionId, /^p1\./);
    const answered = await startCli(["feedback", line.predictionId, "food", "--json"], env).output;
    assert.equal(answered.code, 0, answered.stderr);
    assert.equal((JSON.parse(answered.stdout.trim()) as { outcome: string }).outcome, "accepted");
    const unknown = await startCli(["feedback", `p1.zz.${Date.now().toString(36)}.AAAAAAAAAAAAAAAA`, "food"], env).output;
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /unknown_id/);
    const shown = await startCli(["heads", "show", "topics"], env).output;
    assert.match(shown.stdout, /live \(feedback on served predictions\): accuracy/);
  });

  it("takes labels a head does not know only when the head allows new labels, and learns them", async () => {
    const heads = server.heads();
    await adapt(heads, { head: "open", labels: LABELS, allowNewLabels: true, hyperparameters: HYPER }, toyExamples(20, LABELS, "open"));
    const [sport, food] = await classifyAll(server, "open", toyExamples(2, LABELS, "open-live", 3));
    const closed = (await classifyAll(server, "topics", toyExamples(1, LABELS, "closed", 5)))[0];
    const response = await heads.unary("feedback")({
      items: [
        { predictionId: sport.id, labels: ["music"] },
        { head: "open", text: "guitar drum melody", labels: ["music"] },
        { predictionId: closed.id, labels: ["music"] },
        { predictionId: food.id, labels: [""] },
      ],
    });
    assert.deepEqual(
      response.results.map((r) => r.outcome),
      [FeedbackOutcome.ACCEPTED, FeedbackOutcome.ACCEPTED, FeedbackOutcome.INVALID_LABEL, FeedbackOutcome.INVALID_LABEL],
      JSON.stringify(response.results.map((r) => r.detail)),
    );
    assert.match(response.results[2].detail, /"music" is not one of the head's labels \(sport, food\) and the head does not allow new labels/);
    assert.match(response.results[3].detail, /labels\[0\] is empty/);
    await heads.unary("setHeadPolicy")({ head: "open", policy: { continuous: true, publishEveryExamples: 2, promotion: Promotion.ALWAYS } });
    await heads.unary("feedback")({ items: [{ predictionId: food.id, labels: ["food"] }, { head: "open", text: "song concert band", labels: ["music"] }] });
    const head = await until("a version that learned the new label", 30_000, async () => {
      const h = await heads.unary("getHead")({ head: "open" });
      return h.versions.at(-1)!.labels.includes("music") ? h : undefined;
    });
    assert.deepEqual(head.versions.at(-1)!.labels, ["sport", "food", "music"]);
    await heads.unary("setHeadPolicy")({ head: "open", policy: { continuous: false } });
  });

  it("scores a held-back candidate in shadow on the next K answers and promotes it by the documented rule", async () => {
    const heads = server.heads();
    const K = 12;
    await adapt(heads, { head: "shadowed", labels: LABELS, hyperparameters: HYPER }, toyExamples(8, LABELS, "sh-seed", 29));
    await heads.unary("setHeadPolicy")({ head: "shadowed", policy: { continuous: true, publishEveryExamples: 30, promotion: Promotion.ALWAYS, shadowExamples: K } });
    const first = await classifyAll(server, "shadowed", toyExamples(30, LABELS, "sh-a", 31));
    await heads.unary("feedback")({ items: first.map((s) => ({ predictionId: s.id, labels: [s.truth] })) });
    const held = await until("a candidate stored unpromoted", 30_000, async () => {
      const h = await heads.unary("getHead")({ head: "shadowed" });
      return h.head!.latestVersion >= 2 ? h : undefined;
    });
    assert.equal(held.head!.activeVersion, 1, "promotion ALWAYS, but held back for the shadow trial");
    // The next K answers, served by v1; what the candidate (v2) would have said, asked here by version.
    const texts = toyExamples(K, LABELS, "sh-b", 37);
    const served = await classifyAll(server, "shadowed", texts);
    const candidate = (await server.encoder().unary("classify")({ head: "shadowed", version: 2, inputs: texts.map((t) => t.text), topK: 1 })).predictions.map((p) => p.labels[0].label);
    assert.ok(served.every((s) => s.version === 1));
    const candidateRight = served.filter((s, i) => candidate[i] === s.truth).length;
    const servedRight = served.filter((s) => s.served === s.truth).length;
    await heads.unary("feedback")({ items: served.map((s) => ({ predictionId: s.id, labels: [s.truth] })) });
    const verdict = await server.logLine((l) => l.head === "shadowed" && typeof l.msg === "string" && l.msg.startsWith("shadow candidate"), 30_000);
    assert.deepEqual({ examples: verdict.examples, candidateCorrect: verdict.candidateCorrect, servedCorrect: verdict.servedCorrect }, { examples: K, candidateCorrect: candidateRight, servedCorrect: servedRight });
    const active = (await heads.unary("getHead")({ head: "shadowed" })).head!.activeVersion;
    assert.equal(active, candidateRight >= servedRight ? 2 : 1, `candidate ${candidateRight}/${K} right, served ${servedRight}/${K}`);
    await heads.unary("setHeadPolicy")({ head: "shadowed", policy: { continuous: false } });
  });
});

describe("feedback on a pair head's predictions", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--no-warmup", "--continuous-poll-ms", "200"]);
    await adapt(server.heads(), { head: "dup", labels: ["same", "different"], pair: true, hyperparameters: HYPER }, toyPairs(60, "seed", 3));
  });
  after(async () => {
    await server?.stop();
  });

  it("gives pair Classify results prediction ids, learns from answers by id and scores them; full examples go through Adapt", async () => {
    const heads = server.heads();
    await heads.unary("setHeadPolicy")({ head: "dup", policy: { continuous: true, publishEveryExamples: 30, promotion: Promotion.ALWAYS } });
    const pairs = toyPairs(30, "live", 21);
    const response = await server.encoder().unary("classify")({ head: "dup", inputs: pairs.map((p) => p.text), textPairs: pairs.map((p) => p.textPair), topK: 1 });
    const ids = response.predictions.map((p) => p.predictionId);
    assert.equal(new Set(ids.filter(Boolean)).size, 30, "one prediction id per pair");
    const answered = await heads.unary("feedback")({ items: [...pairs.map((p, i) => ({ predictionId: ids[i], labels: p.labels })), { head: "dup", text: "goal", labels: ["same"] }] });
    assert.equal(answered.accepted, 30n);
    answered.results.slice(0, 30).forEach((r, i) => {
      assert.equal(r.outcome, FeedbackOutcome.ACCEPTED, r.detail);
      assert.equal(r.servedCorrect, response.predictions[i].labels[0].label === pairs[i].labels[0], `pair ${i}`);
    });
    assert.equal(answered.results[30].outcome, FeedbackOutcome.INVALID);
    assert.match(answered.results[30].detail, /head "dup" is a pair head: full examples go through Adapt/);
    const correct = response.predictions.filter((p, i) => p.labels[0].label === pairs[i].labels[0]).length;
    const head = await until("a version published from the answered pairs", 30_000, async () => {
      const h = await heads.unary("getHead")({ head: "dup" });
      return h.head!.latestVersion >= 2 ? h : undefined;
    });
    assert.equal(head.live?.examples, 30n);
    assert.ok(Math.abs(head.live.accuracy - correct / 30) < 1e-9, `live accuracy ${head.live.accuracy}, served ${correct}/30 right`);
    assert.ok(head.versions.at(-1)!.trainedExamples > 48n, "the new version learned from the answered pairs too");
    assert.equal((await server.encoder().unary("classify")({ head: "dup", inputs: [pairs[0].text], textPairs: [pairs[0].textPair] })).headVersion, head.head!.activeVersion);
  });
});

describe("expiry by age and by size", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--no-warmup", "--feedback-window", "2", "--feedback-max-predictions", "5"]);
    await adapt(server.heads(), { head: "t", labels: LABELS, hyperparameters: HYPER }, toyExamples(20, LABELS, "s"));
  });
  after(async () => {
    await server?.stop();
  });

  it("answers an id pushed out by newer predictions, and one older than the window, EXPIRED per item", async () => {
    const served = await classifyAll(server, "t", toyExamples(8, LABELS, "e"));
    const pushed = await server.heads().unary("feedback")({ items: [{ predictionId: served[0].id, labels: [served[0].truth] }, { predictionId: served[7].id, labels: [served[7].truth] }] });
    assert.equal(pushed.results[0].outcome, FeedbackOutcome.EXPIRED);
    assert.match(pushed.results[0].detail, /pushed out by newer ones/);
    assert.equal(pushed.results[1].outcome, FeedbackOutcome.ACCEPTED);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const old = await server.heads().unary("feedback")({ items: [{ predictionId: served[6].id, labels: [served[6].truth] }] });
    assert.equal(old.results[0].outcome, FeedbackOutcome.EXPIRED);
    assert.match(old.results[0].detail, /older than --feedback-window/);
  });
});

describe("feedback across replicas sharing PostgreSQL", () => {
  let db: ThrowawayDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  before(async () => {
    db = await throwawayDatabase();
    const start = (): Promise<ServerProcess> => startServer(["--store", db.url, "--no-warmup", "--continuous-poll-ms", "200", "--store-poll-interval-ms", "1000"]);
    [a, b] = await Promise.all([start(), start()]);
    await adapt(a.heads(), { head: "shared", labels: LABELS, hyperparameters: HYPER }, toyExamples(40, LABELS, "seed", 3));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it("accepts on one replica feedback for predictions made on the other, counts duplicates once across them, and both report the same live accuracy", async () => {
    await until("replica b to serve the head", 5000, async () => (await b.encoder().unary("classify")({ head: "shared", inputs: ["x"] }).catch(() => undefined)) && true);
    const onA = await classifyAll(a, "shared", toyExamples(30, LABELS, "ra", 5));
    const onB = await classifyAll(b, "shared", toyExamples(30, LABELS, "rb", 7));
    const toB = await b.heads().unary("feedback")({ items: onA.map((s) => ({ predictionId: s.id, labels: [s.truth] })) });
    assert.ok(toB.results.every((r) => r.outcome === FeedbackOutcome.ACCEPTED), JSON.stringify(toB.results.map((r) => r.detail)));
    const toA = await a.heads().unary("feedback")({ items: [...onB.map((s) => ({ predictionId: s.id, labels: [s.truth] })), { predictionId: onA[0].id, labels: [onA[0].truth] }] });
    assert.deepEqual(toA.results.slice(0, 30).map((r) => r.outcome), Array(30).fill(FeedbackOutcome.ACCEPTED));
    assert.equal(toA.results[30].outcome, FeedbackOutcome.DUPLICATE);
    const all = [...onA, ...onB];
    for (const server of [a, b]) {
      const head = await server.heads().unary("getHead")({ head: "shared" });
      assert.equal(head.live?.examples, 60n);
      assert.ok(Math.abs(head.live.accuracy - accuracyOf(all)) < 1e-12);
    }
  });

  it("publishes by policy on whichever replica holds the lease, and both serve it", async () => {
    await b.heads().unary("setHeadPolicy")({ head: "shared", policy: { continuous: true, publishEveryExamples: 10, promotion: Promotion.ALWAYS } });
    const more = await classifyAll(a, "shared", toyExamples(12, LABELS, "rc", 9));
    await b.heads().unary("feedback")({ items: more.map((s) => ({ predictionId: s.id, labels: [s.truth] })) });
    await until("both replicas to serve a version published by the policy", 30_000, async () => {
      const va = (await a.encoder().unary("classify")({ head: "shared", inputs: ["x"] })).headVersion;
      const vb = (await b.encoder().unary("classify")({ head: "shared", inputs: ["x"] })).headVersion;
      return va >= 2 && vb >= 2 ? true : undefined;
    }, 200);
  });
});
