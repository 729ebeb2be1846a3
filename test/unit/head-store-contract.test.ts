import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ServiceError } from "../../src/core/errors.js";
import type { HeadChange, HeadStore, NewVersion } from "../../src/store/head-store.js";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres-migrations.js";
import { PostgresHeadStore } from "../../src/store/postgres-store.js";
import { SqliteHeadStore } from "../../src/store/sqlite-store.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { throwawayDatabase, type ThrowawayDatabase } from "../helpers/postgres.js";

const log = createLogger("silent", false);

function version(tag: number): NewVersion {
  return {
    labels: ["a", "b"],
    config: new Uint8Array([tag]),
    metrics: { examples: tag, accuracy: 0.5, macroF1: 0.5, logLoss: 0.7 },
    state: new Uint8Array([1, 2, 3, tag]),
    trainedExamples: 10 * tag,
    steps: tag,
  };
}

function example(id: string, holdout = false) {
  return { id, text: `text of ${id}`, labels: ["a"], weight: 1.5, holdout };
}

async function rejectsWith(promise: Promise<unknown>, kind: ServiceError["kind"], pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.ok(error instanceof ServiceError, `a ServiceError, not ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

/** What every HeadStore must do, whichever engine is under it. */
function contract(name: string, open: () => Promise<HeadStore>, close: () => Promise<void> = async () => {}): void {
  describe(`HeadStore contract: ${name}`, () => {
    let store: HeadStore;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close();
      await close();
    });

    it("creates heads once, logs examples in order, skips known ids, numbers versions", async () => {
      const created = await store.ensureHead("h1", "multiclass", "hash");
      assert.equal(created.activeVersion, 0);
      assert.equal((await store.ensureHead("h1", "multilabel", "other")).type, "multiclass", "ensureHead never changes a head");
      assert.equal(created.input, "text");
      assert.equal((await store.ensureHead("p1", "multiclass", "hash", "pair")).input, "pair");
      assert.equal((await store.ensureHead("p1", "multiclass", "hash")).input, "pair", "a head's input is fixed at creation");
      assert.equal((await store.listHeads()).find((h) => h.name === "p1")?.input, "pair");
      assert.equal((await store.getHead("p1"))?.input, "pair");
      assert.ok(await store.deleteHead("p1"));
      const lease = await store.acquireLease("h1", { wait: false });
      const first = await store.appendExamples(lease, [example("x1"), example("x2", true), example("x3")]);
      assert.deepEqual([...first].sort(), ["x1", "x2", "x3"]);
      const second = await store.appendExamples(lease, [example("x2"), example("x4")]);
      assert.deepEqual([...second], ["x4"]);
      assert.deepEqual((await store.examples("h1")).map((e) => e.id), ["x1", "x2", "x3", "x4"]);
      assert.deepEqual((await store.examples("h1"))[1], example("x2", true));
      assert.equal(await store.countExamples("h1"), 4);
      assert.equal(await store.lastExampleId("h1"), "x4");
      assert.equal(await store.lastExampleId("nothing logged"), undefined);
      assert.equal(await store.commitVersion(lease, version(1), true), 1);
      assert.equal(await store.commitVersion(lease, version(2), false), 2);
      await lease.release();
      const head = (await store.getHead("h1"))!;
      assert.equal(head.activeVersion, 1);
      assert.equal(head.latestVersion, 2);
      const stored = (await store.loadVersion("h1", 2))!;
      assert.deepEqual([...stored.state], [1, 2, 3, 2]);
      assert.deepEqual(stored.metrics, version(2).metrics);
      assert.equal(stored.trainedExamples, 20);
      assert.deepEqual((await store.listVersions("h1")).map((v) => v.version), [1, 2]);
      assert.equal(await store.setActiveVersion("h1", 2), 1);
      await rejectsWith(store.setActiveVersion("h1", 9), "failed_precondition", /no version 9/);
      await rejectsWith(store.setActiveVersion("nope", 1), "not_found", /does not exist/);
      assert.deepEqual((await store.listHeads()).map((h) => h.name), ["h1"]);
    });

    it("returns a long example log whole and in order (the SQLite store reads it in pages)", async () => {
      await store.ensureHead("long", "multiclass", "hash");
      const lease = await store.acquireLease("long", { wait: false });
      const ids = Array.from({ length: 2_345 }, (_, i) => `e${i}`);
      for (let start = 0; start < ids.length; start += 500) {
        await store.appendExamples(lease, ids.slice(start, start + 500).map((id, i) => example(id, i % 10 === 0)));
      }
      await lease.release();
      const logged = await store.examples("long");
      assert.deepEqual(logged.map((e) => e.id), ids);
      assert.deepEqual(logged[1000], example("e1000", true));
      assert.equal(await store.deleteHead("long"), true);
    });

    it("gives a head's lease to one writer: the second is ABORTED naming the holder, or waits", async () => {
      await store.ensureHead("h2", "multiclass", "hash");
      const lease = await store.acquireLease("h2", { wait: false });
      await rejectsWith(store.acquireLease("h2", { wait: false }), "aborted", new RegExp(`being adapted by another stream on replica .+/${process.pid} \\(lease epoch ${lease.epoch}`));
      let waitBegan!: (seen: { holder: string; epoch: number }) => void;
      const began = new Promise<{ holder: string; epoch: number }>((resolve) => (waitBegan = resolve));
      const waiting = store.acquireLease("h2", { wait: true, onWait: (holder, epoch) => waitBegan({ holder, epoch }) });
      let got = false;
      void waiting.then(() => (got = true));
      const seen = await began;
      assert.deepEqual(seen, { holder: lease.holder, epoch: lease.epoch }, "the wait names the lease it waits on");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(got, false, "the waiter waits while the lease is held");
      await rejectsWith(store.deleteHead("h2"), "invalid_argument", /being adapted/);
      await lease.release();
      const next = await waiting;
      assert.ok(next.epoch > lease.epoch, "a new holder gets a higher epoch");
      await rejectsWith(store.appendExamples(lease, [example("late")]), "aborted", /lease/);
      await rejectsWith(store.commitVersion(lease, version(1), true), "aborted", /lease/);
      assert.equal(await store.countExamples("h2"), 0, "the old holder wrote nothing");
      await next.release();
      const controller = new AbortController();
      const held = await store.acquireLease("h2", { wait: false });
      const cancelledWait = store.acquireLease("h2", { wait: true, signal: controller.signal });
      controller.abort();
      await rejectsWith(cancelledWait, "cancelled", /gave up waiting/);
      await held.release();
      assert.equal(await store.deleteHead("h2"), true);
      assert.equal(await store.getHead("h2"), undefined);
    });
  });
}

contract("SQLite", async () => new SqliteHeadStore(mkdtempSync(join(tmpdir(), "bertd-contract-"))));

let database: ThrowawayDatabase | undefined;
contract(
  "PostgreSQL",
  async () => {
    database = await throwawayDatabase();
    return PostgresHeadStore.open(database.url, { leaseTtlMs: 1500, log });
  },
  async () => database?.drop(),
);

describe("PostgreSQL store specifics", () => {
  let db: ThrowawayDatabase;
  const stores: PostgresHeadStore[] = [];
  const open = async (leaseTtlMs = 1500): Promise<PostgresHeadStore> => {
    const store = await PostgresHeadStore.open(db.url, { leaseTtlMs, log });
    stores.push(store);
    return store;
  };
  before(async () => {
    db = await throwawayDatabase();
  });
  after(async () => {
    for (const store of stores) await store.close();
    await db?.drop();
  });

  it("migrates once when replicas start together, and again is a no-op", async () => {
    await Promise.all([open(), open(), open()]);
    await open();
    const rows = await db.sql<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
    assert.deepEqual(rows.map((r) => r.version), POSTGRES_MIGRATIONS.map((_, i) => i + 1));
  });

  it("fences: a writer whose lease was taken over can neither log nor commit", async () => {
    const [a, b] = [await open(), await open()];
    await a.ensureHead("fenced", "multiclass", "hash");
    const old = await a.acquireLease("fenced", { wait: false });
    await a.appendExamples(old, [example("before")]);
    // The writer is "paused": its lease expires in the database and another replica takes it.
    await db.sql("UPDATE head_leases SET expires_at = clock_timestamp() - interval '1 second' WHERE head = 'fenced'");
    const taker = await b.acquireLease("fenced", { wait: false });
    assert.equal(taker.epoch, old.epoch + 1);
    await rejectsWith(a.appendExamples(old, [example("after")]), "aborted", /lost the lease on head "fenced" \(epoch 1; replica .+ holds it now \(epoch 2\)/);
    await rejectsWith(a.commitVersion(old, version(1), true), "aborted", /lost the lease/);
    assert.ok(old.lost.aborted, "the lost signal fired");
    assert.deepEqual((await db.sql<{ id: string; epoch: string }>("SELECT id, epoch FROM examples WHERE head = 'fenced'")).map((r) => [r.id, Number(r.epoch)]), [["before", 1]]);
    assert.equal(await b.commitVersion(taker, version(1), true), 1);
    assert.equal(Number((await db.sql("SELECT epoch FROM versions WHERE head = 'fenced'"))[0].epoch), 2);
    await taker.release();
  });

  it("keeps a lease alive by heartbeat, and frees it once the holder stops renewing", async () => {
    const a = await open(2000);
    const b = await open(2000);
    await a.ensureHead("beat", "multiclass", "hash");
    const lease = await a.acquireLease("beat", { wait: false });
    // By the database's clock, not the test's: wait until the lease's first expiry has passed; it is
    // still held only if the heartbeat renewed it.
    const [{ first }] = await db.sql<{ first: Date }>("SELECT expires_at AS first FROM head_leases WHERE head = 'beat'");
    for (;;) {
      const [{ passed }] = await db.sql<{ passed: boolean }>("SELECT clock_timestamp() > $1::timestamptz AS passed", [first]);
      if (passed) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [{ renewed }] = await db.sql<{ renewed: boolean }>("SELECT expires_at > clock_timestamp() AS renewed FROM head_leases WHERE head = 'beat'");
    assert.ok(renewed, "the heartbeat renewed the lease past its first expiry");
    await rejectsWith(b.acquireLease("beat", { wait: false }), "aborted", /expires in/);
    await a.appendExamples(lease, [example("still-mine")]);
    // The heartbeat stops as a dead process's would; the lease row then expires by itself.
    (lease as unknown as { timer: NodeJS.Timeout }).timer.close();
    const taken = await b.acquireLease("beat", { wait: true });
    assert.equal(taken.epoch, lease.epoch + 1);
    await rejectsWith(a.commitVersion(lease, version(1), true), "aborted", /lost the lease/);
    await taken.release();
  });

  it("notifies watchers of commits, SetActiveVersion and deletes", async () => {
    const a = await open();
    const b = await open();
    const changes: HeadChange[] = [];
    const unsubscribe = b.watch((change) => changes.push(change));
    const until = async (predicate: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(predicate(), `changes seen: ${JSON.stringify(changes)}`);
    };
    await until(() => changes.some((c) => c.head === undefined));
    await a.ensureHead("watched", "multiclass", "hash");
    const lease = await a.acquireLease("watched", { wait: false });
    await a.commitVersion(lease, version(1), true);
    await a.commitVersion(lease, version(2), false);
    await lease.release();
    await until(() => changes.filter((c) => c.head === "watched").length >= 2);
    await a.setActiveVersion("watched", 2);
    await until(() => changes.filter((c) => c.head === "watched").length >= 3);
    await a.deleteHead("watched");
    await until(() => changes.filter((c) => c.head === "watched").length >= 4);
    unsubscribe();
  });
});
