import assert from "node:assert/strict";
import { after, afterEach, before, describe, it, mock } from "node:test";
import { PredictionStore, type Lookup } from "../../src/feedback/prediction-store.js";
import type { PredictionRecord } from "../../src/store/head-store.js";
import { PostgresHeadStore } from "../../src/store/postgres-store.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { throwawayDatabase, type ThrowawayDatabase } from "../helpers/postgres.js";

const log = createLogger("silent", false);
const WINDOW_MS = 60_000;

/** A store on a clock the test moves. */
function storeAt(clock: { now: number }, options: { maxPredictions?: number; shared?: PostgresHeadStore["predictions"] } = {}): PredictionStore {
  return new PredictionStore({ windowMs: WINDOW_MS, maxPredictions: options.maxPredictions ?? 100, shared: options.shared, log, now: () => clock.now });
}

function prediction(store: PredictionStore, atMs: number, text = `text at ${atMs}`): PredictionRecord {
  return { id: store.newId(atMs), head: "h", type: "multiclass", version: 1, text, served: ["a"], scores: [0.75, 0.25], createdAtMs: atMs, expiresAtMs: atMs + WINDOW_MS };
}

function outcomeOf(lookup: Lookup): string {
  return "found" in lookup ? "found" : lookup.outcome;
}

describe("PredictionStore: bounds, expiry and eviction", () => {
  const stores: PredictionStore[] = [];
  const open = (clock: { now: number }, maxPredictions?: number): PredictionStore => {
    const store = storeAt(clock, { maxPredictions });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    mock.timers.reset();
    for (const store of stores.splice(0)) await store.close();
  });

  it("issues unguessable ids that carry their issue time, and finds what it keeps", async () => {
    const clock = { now: 1_000_000 };
    const store = open(clock);
    const ids = new Set(Array.from({ length: 1000 }, () => store.newId()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, new RegExp(`^p1\\.[0-9a-z]+\\.${(1_000_000).toString(36)}\\.[A-Za-z0-9_-]{16}$`));
    const record = prediction(store, clock.now);
    store.keep([record]);
    assert.deepEqual(await store.find(record.id), { found: record });
    assert.equal(store.size, 1);
  });

  it("keeps at most --feedback-max-predictions, pushing out the oldest first, and says so", async () => {
    const clock = { now: 1_000_000 };
    const store = open(clock, 3);
    const records = Array.from({ length: 5 }, (_, i) => prediction(store, clock.now + i));
    clock.now += 10;
    store.keep(records.slice(0, 2));
    store.keep(records.slice(2));
    assert.equal(store.size, 3);
    for (const old of records.slice(0, 2)) {
      const lookup = await store.find(old.id);
      assert.equal(outcomeOf(lookup), "expired");
      assert.match("detail" in lookup ? lookup.detail : "", /pushed out by newer ones \(--feedback-max-predictions 3\)/);
    }
    for (const kept of records.slice(2)) assert.equal(outcomeOf(await store.find(kept.id)), "found");
    // Never kept, issued before the evicted ones by this process: told apart as pushed out, not unknown.
    assert.equal(outcomeOf(await store.find(store.newId(records[0].createdAtMs - 1))), "expired");
  });

  it("answers a prediction EXPIRED once its age reaches --feedback-window, kept or not", async () => {
    const clock = { now: 1_000_000 };
    const store = open(clock);
    const record = prediction(store, clock.now);
    store.keep([record]);
    clock.now += WINDOW_MS - 1;
    assert.equal(outcomeOf(await store.find(record.id)), "found");
    clock.now += 1;
    const lookup = await store.find(record.id);
    assert.equal(outcomeOf(lookup), "expired");
    assert.match("detail" in lookup ? lookup.detail : "", /older than --feedback-window \(60 s\)/);
    assert.equal(outcomeOf(await store.find(store.newId(clock.now - WINDOW_MS))), "expired", "an id of this age is expired even if never kept");
  });

  it("drops expired predictions from memory every 10 s, oldest first, and keeps the rest", async () => {
    mock.timers.enable({ apis: ["setInterval"] });
    const clock = { now: 1_000_000 };
    const store = open(clock);
    const early = [prediction(store, clock.now), prediction(store, clock.now + 1000)];
    const late = prediction(store, clock.now + 5000);
    store.keep([...early, late]);
    clock.now += WINDOW_MS + 1000;
    mock.timers.tick(9_999);
    assert.equal(store.size, 3, "no sweep before 10 s");
    mock.timers.tick(1);
    assert.equal(store.size, 1);
    assert.equal(outcomeOf(await store.find(late.id)), "found");
    for (const gone of early) assert.equal(outcomeOf(await store.find(gone.id)), "expired");
  });

  it("tells ids it never issued from ids issued by another process before a restart", async () => {
    const clock = { now: 1_000_000 };
    const before = open(clock);
    const earlier = before.newId(clock.now - 1);
    clock.now += 5;
    const store = open(clock);
    const unknown = await store.find(`p1.zz.${clock.now.toString(36)}.AAAAAAAAAAAAAAAA`);
    assert.equal(outcomeOf(unknown), "unknown_id");
    assert.equal(outcomeOf(await store.find("not an id")), "unknown_id");
    const long = await store.find("x".repeat(200));
    assert.match("detail" in long ? long.detail : "", /^"x{61}…" is not a prediction id/, "long ids are clipped in the detail");
    const restarted = await store.find(earlier);
    assert.equal(outcomeOf(restarted), "expired");
    assert.match("detail" in restarted ? restarted.detail : "", /issued before this server restarted/);
    assert.equal(outcomeOf(await store.find(before.newId(clock.now + 1))), "unknown_id", "another process's id issued after this one started");
    assert.equal(outcomeOf(await store.find(store.newId())), "unknown_id", "this process's id that it never kept, with nothing evicted");
  });

  it("keeps nothing with --feedback-max-predictions 0", async () => {
    const clock = { now: 1_000_000 };
    const store = open(clock, 0);
    assert.equal(store.enabled, false);
    const record = prediction(store, clock.now);
    store.keep([record]);
    assert.equal(store.size, 0);
    assert.equal(outcomeOf(await store.find(record.id)), "unknown_id");
  });
});

describe("PredictionStore shared through PostgreSQL", () => {
  let db: ThrowawayDatabase;
  let shared: PostgresHeadStore;
  before(async () => {
    db = await throwawayDatabase();
    shared = await PostgresHeadStore.open(db.url, { leaseTtlMs: 1500, log });
  });
  after(async () => {
    await shared?.close();
    await db?.drop();
  });

  it("lets another replica answer a prediction, also one not yet written behind the call, and deletes expired rows", async () => {
    const clock = { now: Date.now() };
    const a = storeAt(clock, { shared: shared.predictions });
    const b = storeAt(clock, { shared: shared.predictions });
    try {
      const written = prediction(a, clock.now, "written first");
      a.keep([written]);
      await a.flush();
      assert.deepEqual(await b.find(written.id), { found: written });
      // Kept on a, still queued (flushed 20 ms later): b reads again for up to 2 s.
      const queued = prediction(a, clock.now, "still queued");
      a.keep([queued]);
      assert.deepEqual(await b.find(queued.id), { found: queued });
      const stale = { ...prediction(a, clock.now - WINDOW_MS - 1, "long gone"), expiresAtMs: clock.now - 1 };
      a.keep([stale]);
      await a.flush();
      assert.equal(await shared.predictions.deleteExpiredPredictions(clock.now), 1);
      assert.equal(await shared.predictions.loadPrediction(stale.id), undefined);
      assert.deepEqual(await shared.predictions.loadPrediction(written.id), written);
      assert.equal(outcomeOf(await b.find(a.newId(clock.now - 10))), "unknown_id", "no replica keeps it");
    } finally {
      await a.close();
      await b.close();
    }
  });
});
