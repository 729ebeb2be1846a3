import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import { Promotion } from "../../src/gen/bertd/v1/heads_pb.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { openAdapt, until } from "../helpers/adapt-stream.js";
import { throwawayDatabase, type ThrowawayDatabase } from "../helpers/postgres.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { rejectsWithStatus as code } from "../helpers/assertions.js";

const HYPER = { seed: 3n, replayPasses: 1, holdoutFraction: 0.2 };
const LEASE_TTL_MS = 3000;
const LABELS = ["sport", "food"];

/** The version a replica serves for the head now (0 = none). */
async function served(server: ServerProcess, head: string): Promise<number> {
  try {
    return (await server.encoder().unary("classify")({ head, inputs: ["goal"] })).headVersion;
  } catch (error) {
    if ((error as ServiceError).code === status.NOT_FOUND) return 0;
    throw error;
  }
}

/** Retries while the store is UNAVAILABLE (what a client does while the database comes back). */
async function retryUnavailable<T>(attempt: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if ((error as ServiceError).code !== status.UNAVAILABLE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

describe("replicas sharing heads through PostgreSQL", () => {
  let db: ThrowawayDatabase;
  // Replicas reach PostgreSQL through a proxy the test can cut, as a network or database outage would.
  let proxy: TcpProxy;
  let a: ServerProcess;
  let b: ServerProcess;
  let c: ServerProcess;
  const start = (): Promise<ServerProcess> => {
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    // A one-minute poll: propagation within the tests' bounds comes from LISTEN/NOTIFY.
    return startServer(["--store", url.toString(), "--lease-ttl-ms", String(LEASE_TTL_MS), "--store-poll-interval-ms", "60000", "--min-version-wait-ms", "1500", "--no-warmup"]);
  };

  /** A head committed on a and served by b and c. Each test makes its own, so that each passes alone. */
  const headOnEveryReplica = async (head: string): Promise<void> => {
    await adapt(a.heads(), { head, labels: LABELS, hyperparameters: HYPER }, toyExamples(60, LABELS, head));
    await until(`b and c to serve ${head} version 1`, 5000, async () => ((await served(b, head)) === 1 && (await served(c, head)) === 1 ? true : undefined));
  };

  before(async () => {
    db = await throwawayDatabase();
    const target = new URL(db.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    [a, b, c] = await Promise.all([start(), start(), start()]);
  });
  after(async () => {
    for (const server of [a, b, c]) {
      if (server?.process.exitCode === null && server.process.signalCode === null) server.process.kill("SIGCONT");
      await server?.stop();
    }
    await proxy?.cut();
    await db?.drop();
  });

  it("serves a commit made on one replica on the others within a bounded time", async () => {
    const committed = await adapt(a.heads(), { head: "shared", labels: LABELS, hyperparameters: HYPER }, toyExamples(60, LABELS, "s1"));
    assert.equal(committed.committed[0].version, 1);
    const started = Date.now();
    await until("replicas b and c to serve version 1", 3000, async () => ((await served(b, "shared")) === 1 && (await served(c, "shared")) === 1 ? true : undefined));
    const delay = Date.now() - started;
    assert.ok(delay < 3000, `propagated in ${delay} ms`);
    const list = await c.heads().unary("listHeads")({});
    assert.ok(list.heads.some((h) => h.name === "shared" && h.activeVersion === 1));
  });

  it("gives read-your-writes with min_version, and FAILED_PRECONDITION when that version never comes", async () => {
    await headOnEveryReplica("read-your-writes");
    const result = await adapt(b.heads(), { head: "read-your-writes", promotion: Promotion.ALWAYS, hyperparameters: HYPER }, toyExamples(20, LABELS, "s2"));
    const version = result.committed[0].version;
    assert.equal(version, 2);
    // Right after the commit on b, c answers with at least that version (or waits for it).
    const response = await c.encoder().unary("classify")({ head: "read-your-writes", inputs: ["bake"], minVersion: version });
    assert.ok(response.headVersion >= version);
    const waited = Date.now();
    await code(c.encoder().unary("classify")({ head: "read-your-writes", inputs: ["bake"], minVersion: 99 }), status.FAILED_PRECONDITION, /serves version 2, older than min_version 99/);
    assert.ok(Date.now() - waited >= 1400, "it waited --min-version-wait-ms first");
  });

  it("propagates SetActiveVersion (a rollback) to every replica", async () => {
    await headOnEveryReplica("rollback");
    await adapt(a.heads(), { head: "rollback", promotion: Promotion.ALWAYS, hyperparameters: HYPER }, toyExamples(20, LABELS, "r2"));
    await until("a and b to serve version 2", 3000, async () => ((await served(a, "rollback")) === 2 && (await served(b, "rollback")) === 2 ? true : undefined));
    const answer = await c.heads().unary("setActiveVersion")({ head: "rollback", version: 1 });
    assert.equal(answer.previousVersion, 2);
    await until("a and b to serve version 1 again", 3000, async () => ((await served(a, "rollback")) === 1 && (await served(b, "rollback")) === 1 ? true : undefined));
  });

  it("lets exactly one of two concurrent Adapt streams on a head write; the other is ABORTED naming the owner", async () => {
    const attempts = await Promise.allSettled([a, b].map((server) => adapt(server.heads(), { head: "race", labels: LABELS, hyperparameters: HYPER }, toyExamples(30, LABELS, `race-${server.port}`))));
    const winners = attempts.filter((r) => r.status === "fulfilled");
    const losers = attempts.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    // Both may succeed one after the other if the first ended before the second began; never together.
    if (losers.length === 1) {
      const error = losers[0].reason as ServiceError;
      assert.equal(error.code, status.ABORTED, error.details);
      assert.match(error.details, /being adapted by another stream on replica [^ ]+\/\d+ \(lease epoch \d+/);
    }
    assert.ok(winners.length >= 1);

    // Deterministically: a holds the head (stream open), b and c are refused with a's pid in the message.
    const holder = openAdapt(a.heads(), { head: "race", hyperparameters: HYPER });
    holder.send(toyExamples(4, LABELS, "hold"));
    await until("a's stream to hold the lease", 5000, async () => {
      const rows = await db.sql("SELECT 1 FROM head_leases WHERE head = 'race' AND holder LIKE $1 AND expires_at > clock_timestamp()", [`%/${a.process.pid}`]);
      return rows.length === 1 ? true : undefined;
    });
    for (const other of [b, c]) {
      await code(adapt(other.heads(), { head: "race", hyperparameters: HYPER }, toyExamples(2, LABELS, "no")), status.ABORTED, new RegExp(`on replica [^ ]+/${a.process.pid} `));
    }
    await code(b.heads().unary("deleteHead")({ head: "race" }), status.INVALID_ARGUMENT, /being adapted/);
    // wait_for_lease: c waits until a's stream ends, then writes.
    const waiter = adapt(c.heads(), { head: "race", waitForLease: true, promotion: Promotion.ALWAYS, hyperparameters: HYPER }, toyExamples(10, LABELS, "after"));
    const waiting = await c.logLine((line) => line.msg === "waiting for the head's lease" && line.head === "race", 10_000);
    assert.match(String(waiting.holder), new RegExp(`/${a.process.pid}$`), "c waits on a's lease");
    holder.end();
    await holder.done;
    const first = holder.committed[0].version;
    const second = (await waiter).committed[0].version;
    assert.equal(second, first + 1, "the waiting stream committed after the holder, on the next version");
  });

  it("fences a paused writer: after its lease expired and another replica took over, it can never commit", async () => {
    const paused = openAdapt(a.heads(), { head: "fenced", labels: LABELS, hyperparameters: HYPER, progressEvery: 10 });
    paused.send(toyExamples(20, LABELS, "early"));
    await until("a to log the first examples", 10_000, () => (paused.durable().count >= 20 ? true : undefined));
    const [{ epoch: pausedEpoch }] = await db.sql<{ epoch: string }>("SELECT epoch FROM head_leases WHERE head = 'fenced'");
    a.process.kill("SIGSTOP");
    try {
      const takeover = await adapt(b.heads(), { head: "fenced", labels: LABELS, waitForLease: true, promotion: Promotion.ALWAYS, hyperparameters: HYPER }, toyExamples(20, LABELS, "takeover"));
      assert.equal(takeover.committed[0].version, 1);
    } finally {
      a.process.kill("SIGCONT");
    }
    paused.send(toyExamples(10, LABELS, "late"));
    paused.commit();
    paused.end();
    await assert.rejects(paused.done, (error: ServiceError) => {
      assert.equal(error.code, status.ABORTED, error.details);
      assert.match(error.details, /lost the lease on head "fenced"/);
      return true;
    });
    const versions = await db.sql<{ version: number; epoch: string }>("SELECT version, epoch FROM versions WHERE head = 'fenced' ORDER BY version");
    assert.deepEqual(
      versions.map((v) => v.version),
      [1],
      "only the replica holding the lease committed",
    );
    assert.ok(Number(versions[0].epoch) > Number(pausedEpoch));
    const late = await db.sql("SELECT id FROM examples WHERE head = 'fenced' AND id LIKE 'late-%'");
    assert.equal(late.length, 0, "nothing the fenced writer sent after losing its lease was logged");
    const early = await db.sql<{ epoch: string }>("SELECT epoch FROM examples WHERE head = 'fenced' AND id LIKE 'early-%'");
    assert.equal(early.length, 20, "what it logged while it held the lease stays");
    assert.ok(early.every((row) => row.epoch === pausedEpoch));
  });

  it("keeps serving while PostgreSQL's connections are terminated under load, and recovers without a restart", async () => {
    await headOnEveryReplica("under-load");
    let stop = false;
    const failures: string[] = [];
    let calls = 0;
    const load = [b, c].map(async (server) => {
      const embed = server.encoder().unary("embed");
      const classify = server.encoder().unary("classify");
      while (!stop) {
        await Promise.all([embed({ inputs: ["a chess game"] }), classify({ head: "under-load", inputs: ["goal"] })]).then(
          () => (calls += 2),
          (error: ServiceError) => failures.push(`${status[error.code]}: ${error.details}`),
        );
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const terminated = await db.terminateBackends();
    assert.ok(terminated >= 3, `terminated ${terminated} backends (pools and listeners)`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const result = await retryUnavailable(() => adapt(a.heads(), { head: "under-load", promotion: Promotion.ALWAYS, hyperparameters: HYPER }, toyExamples(10, LABELS, "s3")));
    const version = result.committed[0].version;
    await until(`b and c to serve version ${version} (LISTEN re-established)`, 8000, async () =>
      (await served(b, "under-load")) === version && (await served(c, "under-load")) === version ? true : undefined,
    );
    stop = true;
    await Promise.all(load);
    assert.deepEqual(failures, [], "Embed and Classify of a loaded head never failed");
    assert.ok(calls > 10);
  });

  it("when PostgreSQL is unreachable: Embed and loaded heads serve, Adapt is UNAVAILABLE; all recovers by itself", async () => {
    await headOnEveryReplica("outage");
    await proxy.cut();
    try {
      assert.equal((await b.encoder().unary("embed")({ inputs: ["still here"] })).embeddings.length, 1);
      assert.ok((await served(c, "outage")) > 0, "a loaded head still serves");
      await code(adapt(a.heads(), { head: "outage", hyperparameters: HYPER }, toyExamples(4, LABELS, "down")), status.UNAVAILABLE, /PostgreSQL\) is unreachable/);
      await code(b.heads().unary("listHeads")({}), status.UNAVAILABLE, /unreachable/);
    } finally {
      await proxy.restore();
    }
    const result = await retryUnavailable(() => adapt(a.heads(), { head: "outage", promotion: Promotion.ALWAYS, hyperparameters: HYPER }, toyExamples(10, LABELS, "s4")));
    const version = result.committed[0].version;
    await until(`b and c to serve version ${version} after the outage`, 15_000, async () =>
      (await served(b, "outage")) === version && (await served(c, "outage")) === version ? true : undefined,
    );
  });

  it("when the writer is killed mid-stream, another replica takes over and nothing committed or acknowledged is lost", async () => {
    await headOnEveryReplica("takeover");
    const before = (await b.heads().unary("getHead")({ head: "takeover" })).head!.latestVersion;
    const examples = toyExamples(400, LABELS, "crash");
    const doomed = openAdapt(a.heads(), { head: "takeover", hyperparameters: HYPER, progressEvery: 20 });
    doomed.send(examples);
    await until("some acknowledged examples", 20_000, () => (doomed.durable().count >= 40 ? true : undefined));
    a.process.kill("SIGKILL");
    const acked = doomed.durable();
    await doomed.done.catch(() => {});
    // c retries the whole batch; the log keeps what a acknowledged (duplicates are skipped).
    const resumed = await adapt(c.heads(), { head: "takeover", waitForLease: true, promotion: Promotion.ALWAYS, hyperparameters: HYPER }, examples);
    const last = resumed.progress.at(-1)!;
    assert.ok(Number(last.duplicate) >= acked.count, `${last.duplicate} duplicates ≥ ${acked.count} acknowledged by the killed writer`);
    const logged = new Set((await db.sql<{ id: string }>("SELECT id FROM examples WHERE head = 'takeover' AND id LIKE 'crash-%'")).map((r) => r.id));
    assert.equal(logged.size, 400);
    assert.ok(logged.has(acked.lastId));
    const versions = (await b.heads().unary("getHead")({ head: "takeover" })).versions.map((v) => v.version);
    for (let v = 1; v <= before; v++) assert.ok(versions.includes(v), `committed version ${v} survived`);
    assert.equal(resumed.committed[0].version, before + 1);
    await until("b to serve the takeover's version", 3000, async () => ((await served(b, "takeover")) === before + 1 ? true : undefined));
  });
});

describe("a replica whose PostgreSQL is unreachable at start", () => {
  it("exits (non-zero, before serving) naming PostgreSQL, so that its orchestrator restarts it", async () => {
    // Port 1 on loopback: nothing listens there.
    await assert.rejects(
      startServer(["--store", "postgres://postgres@127.0.0.1:1/test", "--no-warmup"]),
      (error: Error) => {
        assert.match(error.message, /server exited with [1-9]\d* before serving/);
        assert.match(error.message, /PostgreSQL|ECONNREFUSED/);
        return true;
      },
    );
  });
});
