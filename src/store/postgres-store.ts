import pg from "pg";
import type { Logger } from "pino";
import { ServiceError, cancelled, failedPrecondition, notFound, unavailable } from "../core/errors.js";
import type {
  FeedbackExample,
  HeadChange,
  HeadInput,
  HeadLease,
  HeadPolicy,
  HeadRecord,
  HeadStore,
  LeaseOptions,
  LoggedExample,
  NewVersion,
  PredictionRecord,
  ScoredFeedback,
  SharedPredictions,
  StoredExample,
  StoredHeadType,
  StoredPolicy,
  StoredVersion,
  VersionSummary,
} from "./head-store.js";
import { headBeingAdapted, leaseHeld } from "./local-leases.js";
import { CHANGES_CHANNEL, ChangeListener } from "./postgres-listener.js";
import { migrate } from "./postgres-migrations.js";
import { replicaId } from "./replica-id.js";
import { type HeadRow, toHead } from "./head-rows.js";

export interface PostgresStoreOptions {
  /** How long a lease lives without a heartbeat; renewed every third of it. */
  readonly leaseTtlMs: number;
  readonly log: Logger;
}

/** How often a writer waiting for a lease tries again. */
const LEASE_RETRY_MS = 200;

interface VersionRow {
  version: number;
  created_at_ms: string;
  labels: string[];
  config: Buffer;
  metrics: VersionSummary["metrics"];
  state?: Buffer;
  trained_examples: string;
  steps: string;
}

/**
 * Heads shared by replicas through PostgreSQL.
 *
 * One writer per head: a lease row (holder, epoch, expires_at) per head. Taking it is one atomic
 * upsert that succeeds only when the row is absent or expired, and bumps the epoch. The holder renews
 * it by heartbeat. Every example-log write and version commit locks the lease row (FOR UPDATE) and
 * checks, in the same transaction, that the epoch is still its own and unexpired by the database's
 * clock. A writer paused or partitioned past the expiry therefore can never commit, even if it wakes
 * believing it holds the lease, and replicas' clocks never matter. A lease row is never deleted, so
 * epochs only grow. (A session advisory lock would vanish with a broken connection without the writer
 * knowing, and offers nothing to fence with; the row does both.)
 *
 * Commits, SetActiveVersion and deletes NOTIFY the change channel in their transaction.
 */
export class PostgresHeadStore implements HeadStore, SharedPredictions {
  readonly shared = true;
  readonly predictions: SharedPredictions = this;
  private readonly listener: ChangeListener;

  private constructor(
    private readonly pool: pg.Pool,
    config: pg.ClientConfig,
    private readonly options: PostgresStoreOptions,
  ) {
    this.listener = new ChangeListener(config, options.log);
  }

  /** Connects and migrates; fails (UNAVAILABLE) when the database cannot be reached. */
  static async open(url: string, options: PostgresStoreOptions): Promise<PostgresHeadStore> {
    const config: pg.PoolConfig = {
      connectionString: url,
      connectionTimeoutMillis: 5000,
      query_timeout: 30_000,
      keepAlive: true,
      max: 10,
      application_name: `bertd ${replicaId()}`,
    };
    const pool = new pg.Pool(config);
    // An idle pooled connection that breaks (database restarted) is dropped; the next query opens another.
    pool.on("error", (error) => options.log.warn({ err: error.message }, "an idle PostgreSQL connection broke; the pool replaces it"));
    const store = new PostgresHeadStore(pool, config, options);
    try {
      const applied = await store.withClient((client) => migrate(client));
      options.log.info({ applied, replica: replicaId() }, "PostgreSQL head store ready");
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
    return store;
  }

  async acquireLease(head: string, options: LeaseOptions): Promise<HeadLease> {
    const holder = replicaId();
    let waiting = false;
    for (;;) {
      if (options.signal?.aborted) throw cancelled(`gave up waiting for the lease on head "${head}"`);
      const { rows } = await this.query<{ epoch: string }>(
        `INSERT INTO head_leases (head, holder, epoch, expires_at)
         VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (head) DO UPDATE SET holder = EXCLUDED.holder, epoch = head_leases.epoch + 1, expires_at = EXCLUDED.expires_at
         WHERE head_leases.expires_at <= clock_timestamp()
         RETURNING epoch`,
        [head, holder, this.options.leaseTtlMs],
      );
      if (rows.length > 0) return new PostgresLease(this, head, holder, Number(rows[0].epoch), this.options);
      const current = await this.query<{ holder: string; epoch: string; remaining_ms: number }>(
        "SELECT holder, epoch, GREATEST(0, EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000)::float8 AS remaining_ms FROM head_leases WHERE head = $1",
        [head],
      );
      const row = current.rows[0];
      if (!options.wait) {
        if (!row) continue; // released and deleted in between: cannot happen (rows stay), but retrying is right
        throw leaseHeld(head, row.holder, Number(row.epoch), row.remaining_ms);
      }
      if (!waiting && row) {
        waiting = true;
        options.onWait?.(row.holder, Number(row.epoch));
      }
      await sleep(Math.min(LEASE_RETRY_MS, Math.max(10, row?.remaining_ms ?? 0)), options.signal);
    }
  }

  /** Extends the lease; false when it is no longer this holder's (expired or taken over). */
  async renewLease(lease: HeadLease): Promise<boolean> {
    const { rowCount } = await this.query(
      "UPDATE head_leases SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE head = $1 AND epoch = $2 AND expires_at > clock_timestamp()",
      [lease.head, lease.epoch, this.options.leaseTtlMs],
    );
    return rowCount === 1;
  }

  async releaseLease(lease: HeadLease): Promise<void> {
    await this.query("UPDATE head_leases SET expires_at = clock_timestamp() WHERE head = $1 AND epoch = $2 AND expires_at > clock_timestamp()", [
      lease.head,
      lease.epoch,
    ]);
  }

  watch(listener: (change: HeadChange) => void): () => void {
    return this.listener.subscribe(listener);
  }

  async listHeads(): Promise<HeadRecord[]> {
    return (await this.query<HeadRow>("SELECT * FROM heads ORDER BY name")).rows.map(toHead);
  }

  async getHead(name: string): Promise<HeadRecord | undefined> {
    const { rows } = await this.query<HeadRow>("SELECT * FROM heads WHERE name = $1", [name]);
    return rows[0] && toHead(rows[0]);
  }

  async ensureHead(name: string, type: StoredHeadType, modelHash: string, input: HeadInput = "text"): Promise<HeadRecord> {
    await this.query("INSERT INTO heads (name, type, model_hash, created_at_ms, input) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING", [
      name,
      type,
      modelHash,
      Date.now(),
      input,
    ]);
    return (await this.getHead(name))!;
  }

  async listVersions(name: string): Promise<VersionSummary[]> {
    const { rows } = await this.query<VersionRow>(
      "SELECT version, created_at_ms, labels, config, metrics, trained_examples, steps FROM versions WHERE head = $1 ORDER BY version",
      [name],
    );
    return rows.map(toSummary);
  }

  async loadVersion(name: string, version: number): Promise<StoredVersion | undefined> {
    const { rows } = await this.query<VersionRow>("SELECT * FROM versions WHERE head = $1 AND version = $2", [name, version]);
    return rows[0] && { ...toSummary(rows[0]), state: new Uint8Array(rows[0].state!) };
  }

  async appendExamples(lease: HeadLease, examples: readonly StoredExample[]): Promise<Set<string>> {
    return this.fenced(lease, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO examples (head, epoch, id, text, labels, weight, holdout)
         SELECT $1, $2, e.id, e.text, e.labels, e.weight, e.holdout
         FROM ROWS FROM (jsonb_to_recordset($3::jsonb) AS (id TEXT, text TEXT, labels JSONB, weight FLOAT8, holdout BOOLEAN))
           WITH ORDINALITY AS e(id, text, labels, weight, holdout, n)
         ORDER BY n
         ON CONFLICT (head, id) DO NOTHING
         RETURNING id`,
        [lease.head, lease.epoch, JSON.stringify(examples)],
      );
      return new Set(rows.map((row) => row.id));
    });
  }

  async appendFeedback(head: string, examples: readonly FeedbackExample[]): Promise<Set<string>> {
    return this.transaction(async (client) => {
      const exists = await client.query("SELECT 1 FROM heads WHERE name = $1", [head]);
      if (exists.rowCount === 0) throw notFound(`head "${head}" does not exist`);
      // Unfenced (epoch 0): feedback may be logged by any replica; the lease holder learns it.
      const rows = examples.map((e) => ({ ...e, served_version: e.served?.version ?? null, served_labels: e.served?.labels ?? null }));
      const { rows: inserted } = await client.query<{ id: string }>(
        `INSERT INTO examples (head, epoch, id, text, labels, weight, holdout, served_version, served_labels)
         SELECT $1, 0, e.id, e.text, e.labels, e.weight, e.holdout, e.served_version, e.served_labels
         FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (id TEXT, text TEXT, labels JSONB, weight FLOAT8, holdout BOOLEAN, served_version INTEGER, served_labels JSONB))
           WITH ORDINALITY AS e(id, text, labels, weight, holdout, served_version, served_labels, n)
         ORDER BY n
         ON CONFLICT (head, id) DO NOTHING
         RETURNING id`,
        [head, JSON.stringify(rows)],
      );
      return new Set(inserted.map((row) => row.id));
    });
  }

  async examplesAfter(head: string, seq: number, limit: number): Promise<LoggedExample[]> {
    const { rows } = await this.query<StoredExample & { seq: string; served_version: number | null; served_labels: string[] | null }>(
      "SELECT seq, id, text, labels, weight, holdout, served_version, served_labels FROM examples WHERE head = $1 AND seq > $2 ORDER BY seq LIMIT $3",
      [head, seq, limit],
    );
    return rows.map(({ served_version, served_labels, ...row }) => ({
      ...row,
      seq: Number(row.seq),
      served: served_version === null ? undefined : { version: served_version, labels: served_labels! },
    }));
  }

  async hasExample(head: string, id: string): Promise<boolean> {
    return ((await this.query("SELECT 1 FROM examples WHERE head = $1 AND id = $2", [head, id])).rowCount ?? 0) > 0;
  }

  async lastExampleSeq(head: string): Promise<number> {
    const { rows } = await this.query<{ seq: string | null }>("SELECT MAX(seq) AS seq FROM examples WHERE head = $1", [head]);
    return Number(rows[0].seq ?? 0);
  }

  async scoredFeedback(head: string, limit: number): Promise<ScoredFeedback[]> {
    const { rows } = await this.query<{ seq: string; labels: string[]; served_version: number; served_labels: string[] }>(
      "SELECT seq, labels, served_version, served_labels FROM examples WHERE head = $1 AND served_version IS NOT NULL ORDER BY seq DESC LIMIT $2",
      [head, limit],
    );
    return rows.reverse().map((row) => ({ seq: Number(row.seq), labels: row.labels, served: { version: row.served_version, labels: row.served_labels } }));
  }

  async getPolicy(head: string): Promise<StoredPolicy | undefined> {
    const { rows } = await this.query<PolicyRow>("SELECT * FROM head_policies WHERE head = $1", [head]);
    return rows[0] && toPolicy(rows[0]);
  }

  async setPolicy(head: string, policy: HeadPolicy): Promise<StoredPolicy> {
    return this.transaction(async (client) => {
      const exists = await client.query("SELECT 1 FROM heads WHERE name = $1", [head]);
      if (exists.rowCount === 0) throw notFound(`head "${head}" does not exist`);
      const { rows } = await client.query<PolicyRow>(
        `INSERT INTO head_policies (head, policy, published_seq, published_at_ms)
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) FROM examples WHERE head = $1), $3)
         ON CONFLICT (head) DO UPDATE SET policy = EXCLUDED.policy, published_seq = EXCLUDED.published_seq, published_at_ms = EXCLUDED.published_at_ms
         RETURNING *`,
        [head, JSON.stringify(policy), Date.now()],
      );
      return toPolicy(rows[0]);
    });
  }

  async markPublished(head: string, seq: number, atMs: number): Promise<void> {
    await this.query("UPDATE head_policies SET published_seq = GREATEST(published_seq, $2), published_at_ms = $3 WHERE head = $1", [head, seq, atMs]);
  }

  async continuousHeads(): Promise<StoredPolicy[]> {
    const { rows } = await this.query<PolicyRow>("SELECT * FROM head_policies WHERE (policy->>'continuous')::boolean ORDER BY head");
    return rows.map(toPolicy);
  }

  async savePredictions(records: readonly PredictionRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.query(
      `INSERT INTO predictions (id, head, type, version, text, served, scores, created_at_ms, expires_at_ms)
       SELECT p.id, p.head, p.type, p.version, p.text, p.served, p.scores, p."createdAtMs", p."expiresAtMs"
       FROM jsonb_to_recordset($1::jsonb) AS p(id TEXT, head TEXT, type TEXT, version INTEGER, text TEXT, served JSONB, scores JSONB, "createdAtMs" BIGINT, "expiresAtMs" BIGINT)
       ON CONFLICT (id) DO NOTHING`,
      [JSON.stringify(records)],
    );
  }

  async loadPrediction(id: string): Promise<PredictionRecord | undefined> {
    const { rows } = await this.query<{ id: string; head: string; type: StoredHeadType; version: number; text: string; served: string[]; scores: number[]; created_at_ms: string; expires_at_ms: string }>(
      "SELECT * FROM predictions WHERE id = $1",
      [id],
    );
    const row = rows[0];
    return row && { id: row.id, head: row.head, type: row.type, version: row.version, text: row.text, served: row.served, scores: row.scores, createdAtMs: Number(row.created_at_ms), expiresAtMs: Number(row.expires_at_ms) };
  }

  async deleteExpiredPredictions(nowMs: number): Promise<number> {
    const { rowCount } = await this.query("DELETE FROM predictions WHERE expires_at_ms <= $1", [nowMs]);
    return rowCount ?? 0;
  }

  async examples(name: string): Promise<StoredExample[]> {
    const { rows } = await this.query<StoredExample>("SELECT id, text, labels, weight, holdout FROM examples WHERE head = $1 ORDER BY seq", [name]);
    return rows;
  }

  async countExamples(name: string): Promise<number> {
    const { rows } = await this.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM examples WHERE head = $1", [name]);
    return rows[0].n;
  }

  async lastExampleId(name: string): Promise<string | undefined> {
    const { rows } = await this.query<{ id: string }>("SELECT id FROM examples WHERE head = $1 ORDER BY seq DESC LIMIT 1", [name]);
    return rows[0]?.id;
  }

  async commitVersion(lease: HeadLease, version: NewVersion, promote: boolean): Promise<number> {
    const name = lease.head;
    return this.fenced(lease, async (client) => {
      const { rows } = await client.query<HeadRow>("SELECT * FROM heads WHERE name = $1 FOR UPDATE", [name]);
      if (!rows[0]) throw notFound(`head "${name}" does not exist`);
      const number = rows[0].latest_version + 1;
      await client.query(
        `INSERT INTO versions (head, version, epoch, created_at_ms, labels, config, metrics, state, trained_examples, steps)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          name,
          number,
          lease.epoch,
          Date.now(),
          JSON.stringify(version.labels),
          Buffer.from(version.config),
          JSON.stringify(version.metrics),
          Buffer.from(version.state),
          version.trainedExamples,
          version.steps,
        ],
      );
      await client.query(`UPDATE heads SET latest_version = $2${promote ? ", active_version = $2" : ""} WHERE name = $1`, [name, number]);
      await notifyChange(client, name);
      return number;
    });
  }

  async setActiveVersion(name: string, version: number): Promise<number> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<HeadRow>("SELECT * FROM heads WHERE name = $1 FOR UPDATE", [name]);
      const head = rows[0];
      if (!head) throw notFound(`head "${name}" does not exist`);
      const exists = await client.query("SELECT 1 FROM versions WHERE head = $1 AND version = $2", [name, version]);
      if (exists.rowCount === 0) throw failedPrecondition(`head "${name}" has no version ${version} (latest is ${head.latest_version})`);
      await client.query("UPDATE heads SET active_version = $2 WHERE name = $1", [name, version]);
      await notifyChange(client, name);
      return head.active_version;
    });
  }

  async deleteHead(name: string): Promise<boolean> {
    return this.transaction(async (client) => {
      const lease = await client.query("SELECT 1 FROM head_leases WHERE head = $1 AND expires_at > clock_timestamp() FOR UPDATE", [name]);
      if (lease.rowCount !== 0) throw headBeingAdapted(name);
      const { rowCount } = await client.query("DELETE FROM heads WHERE name = $1", [name]);
      if (rowCount !== 0) await notifyChange(client, name);
      return rowCount !== 0;
    });
  }

  async close(): Promise<void> {
    await this.listener.stop();
    await this.pool.end();
  }

  /** A transaction that first checks, under the lease row's lock, that the lease is still this writer's. */
  private fenced<T>(lease: HeadLease, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<{ holder: string; epoch: string; live: boolean }>(
        "SELECT holder, epoch, expires_at > clock_timestamp() AS live FROM head_leases WHERE head = $1 FOR UPDATE",
        [lease.head],
      );
      const row = rows[0];
      if (!row || Number(row.epoch) !== lease.epoch || !row.live) {
        (lease as PostgresLease).markLost?.();
        const now = row && Number(row.epoch) !== lease.epoch ? `; replica ${row.holder} holds it now (epoch ${row.epoch})` : "; it expired";
        throw new ServiceError("aborted", `this stream lost the lease on head "${lease.head}" (epoch ${lease.epoch}${now}): nothing more is written`);
      }
      return body(client);
    });
  }

  private transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query("BEGIN");
      try {
        const result = await body(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  private async withClient<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(error);
    }
    let broken: Error | undefined;
    // The pool listens for errors only on idle connections: one that breaks while checked out, between
    // two queries, would otherwise emit an unhandled 'error' and end the process.
    const onError = (error: Error): void => {
      broken ??= error;
    };
    client.on("error", onError);
    try {
      return await body(client);
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      throw storeError(error);
    } finally {
      client.off("error", onError);
      // A connection that failed is destroyed rather than returned to the pool.
      client.release(broken);
    }
  }

  private query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.withClient((client) => client.query<R>(text, values));
  }
}

/** A lease kept alive by a heartbeat every third of its lifetime until released or lost. */
class PostgresLease implements HeadLease {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private lastRenewed = performance.now();
  private released = false;

  constructor(
    private readonly store: PostgresHeadStore,
    readonly head: string,
    readonly holder: string,
    readonly epoch: number,
    private readonly options: PostgresStoreOptions,
  ) {
    this.timer = setInterval(() => void this.heartbeat(), Math.max(50, Math.floor(options.leaseTtlMs / 3)));
    this.timer.unref();
  }

  get lost(): AbortSignal {
    return this.controller.signal;
  }

  markLost(reason = "lease lost"): void {
    clearInterval(this.timer);
    if (!this.controller.signal.aborted) {
      this.options.log.warn({ head: this.head, epoch: this.epoch, reason }, "head lease lost: this stream can no longer write");
      this.controller.abort(new ServiceError("aborted", `this stream lost the lease on head "${this.head}" (epoch ${this.epoch}): ${reason}`));
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.controller.signal.aborted) return;
    // If this fails the lease simply expires.
    await this.store.releaseLease(this).catch(() => {});
  }

  private async heartbeat(): Promise<void> {
    if (this.released || this.controller.signal.aborted) return;
    try {
      if (await this.store.renewLease(this)) this.lastRenewed = performance.now();
      else this.markLost("it expired or another replica took it over");
    } catch {
      // The database is unreachable: past the expiry another replica may hold the head.
      if (performance.now() - this.lastRenewed > this.options.leaseTtlMs) this.markLost("PostgreSQL unreachable past the lease's expiry");
    }
  }
}

async function notifyChange(client: pg.ClientBase, head: string): Promise<void> {
  await client.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, JSON.stringify({ head })]);
}

const CONNECTION_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/** Lost or refused connections, server shutdown, too many clients: the database is away, not the request wrong. */
function isConnectionError(error: unknown): boolean {
  if (error instanceof ServiceError) return false;
  const code = (error as { code?: string }).code ?? "";
  const message = (error as Error)?.message ?? "";
  return (
    CONNECTION_ERRNO.has(code) ||
    code.startsWith("08") ||
    ["57P01", "57P02", "57P03", "53300", "3D000"].includes(code) ||
    /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable/i.test(message)
  );
}

function storeError(error: unknown): unknown {
  if (isConnectionError(error)) return unavailable(`the head store (PostgreSQL) is unreachable: ${(error as Error).message}`);
  return error;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

interface PolicyRow {
  head: string;
  policy: HeadPolicy;
  published_seq: string;
  published_at_ms: string;
}

function toPolicy(row: PolicyRow): StoredPolicy {
  return { head: row.head, policy: row.policy, publishedSeq: Number(row.published_seq), publishedAtMs: Number(row.published_at_ms) };
}

function toSummary(row: VersionRow): VersionSummary {
  return {
    version: row.version,
    createdAtMs: Number(row.created_at_ms),
    labels: row.labels,
    config: new Uint8Array(row.config),
    metrics: row.metrics,
    trainedExamples: Number(row.trained_examples),
    steps: Number(row.steps),
  };
}
