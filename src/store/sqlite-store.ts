import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { failedPrecondition, notFound, resourceExhausted, unavailable } from "../core/errors.js";
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
  ScoredFeedback,
  StoredExample,
  StoredHeadType,
  StoredPolicy,
  StoredVersion,
  VersionSummary,
} from "./head-store.js";
import { LocalLeases, headBeingAdapted } from "./local-leases.js";
import { type HeadRow, toHead } from "./head-rows.js";

const MIGRATIONS = [
  `CREATE TABLE heads (
     name TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     model_hash TEXT NOT NULL,
     active_version INTEGER NOT NULL DEFAULT 0,
     latest_version INTEGER NOT NULL DEFAULT 0,
     created_at_ms INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE versions (
     head TEXT NOT NULL REFERENCES heads(name) ON DELETE CASCADE,
     version INTEGER NOT NULL,
     created_at_ms INTEGER NOT NULL,
     labels TEXT NOT NULL,
     config BLOB NOT NULL,
     metrics TEXT NOT NULL,
     state BLOB NOT NULL,
     trained_examples INTEGER NOT NULL,
     steps INTEGER NOT NULL,
     PRIMARY KEY (head, version)
   ) STRICT;
   CREATE TABLE examples (
     head TEXT NOT NULL REFERENCES heads(name) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     id TEXT NOT NULL,
     text TEXT NOT NULL,
     labels TEXT NOT NULL,
     weight REAL NOT NULL,
     holdout INTEGER NOT NULL,
     PRIMARY KEY (head, seq),
     UNIQUE (head, id)
   ) STRICT;`,
  // Pair heads: 'pair' (examples and inputs are sentence pairs) or 'text'.
  `ALTER TABLE heads ADD COLUMN input TEXT NOT NULL DEFAULT 'text';`,
  // Feedback: what was served for an answered prediction, and continuous-learning policies.
  `ALTER TABLE examples ADD COLUMN served_version INTEGER;
   ALTER TABLE examples ADD COLUMN served_labels TEXT;
   CREATE INDEX examples_served ON examples (head, seq) WHERE served_version IS NOT NULL;
   CREATE TABLE head_policies (
     head TEXT PRIMARY KEY REFERENCES heads(name) ON DELETE CASCADE,
     policy TEXT NOT NULL,
     published_seq INTEGER NOT NULL,
     published_at_ms INTEGER NOT NULL
   ) STRICT;`,
];

/** Example-log rows read per turn of the event loop. */
const EXAMPLES_PAGE = 1000;

interface VersionRow {
  version: number;
  created_at_ms: number;
  labels: string;
  config: Buffer;
  metrics: string;
  state?: Buffer;
  trained_examples: number;
  steps: number;
}

interface ExampleRow {
  id: string;
  text: string;
  labels: string;
  weight: number;
  holdout: number;
}

/** The embedded store: one SQLite file in WAL mode under --data-dir; every write is one transaction. */
export class SqliteHeadStore implements HeadStore {
  readonly shared = false;
  private readonly db: Database.Database;
  private readonly leases = new LocalLeases();
  /** Prepared once per SQL text (a fixed, small set): a statement prepared per call holds native memory until GC. */
  private readonly statements = new Map<string, Database.Statement>();

  /** `maxExtraPages` (tests only): the file may grow by this many pages, then writes fail with SQLITE_FULL. */
  constructor(dataDir: string, options: { maxExtraPages?: number } = {}) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, "heads.sqlite"));
    this.db.pragma("journal_mode = WAL");
    // FULL: a commit is on disk before the example is acknowledged as durable.
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
    if (options.maxExtraPages) {
      const pages = this.db.pragma("page_count", { simple: true }) as number;
      this.db.pragma(`max_page_count = ${pages + options.maxExtraPages}`);
    }
  }

  private migrate(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    for (let version = current; version < MIGRATIONS.length; version++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[version]);
        this.db.pragma(`user_version = ${version + 1}`);
      })();
    }
  }

  /** SQLite's own check of the file, for tests and the torture script. */
  integrityCheck(): string {
    return this.db.pragma("integrity_check", { simple: true }) as string;
  }

  acquireLease(head: string, options: LeaseOptions): Promise<HeadLease> {
    return this.leases.acquire(head, options);
  }

  /** Only this process writes the file: nothing to follow. */
  watch(_listener: (change: HeadChange) => void): () => void {
    return () => {};
  }

  async listHeads(): Promise<HeadRecord[]> {
    return (this.statement("SELECT * FROM heads ORDER BY name").all() as HeadRow[]).map(toHead);
  }

  async getHead(name: string): Promise<HeadRecord | undefined> {
    const row = this.statement("SELECT * FROM heads WHERE name = ?").get(name) as HeadRow | undefined;
    return row && toHead(row);
  }

  async ensureHead(name: string, type: StoredHeadType, modelHash: string, input: HeadInput = "text"): Promise<HeadRecord> {
    return this.write(() => {
      this
        .statement("INSERT INTO heads (name, type, model_hash, created_at_ms, input) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING")
        .run(name, type, modelHash, Date.now(), input);
      return toHead(this.statement("SELECT * FROM heads WHERE name = ?").get(name) as HeadRow);
    });
  }

  async listVersions(name: string): Promise<VersionSummary[]> {
    const rows = this
      .statement("SELECT version, created_at_ms, labels, config, metrics, trained_examples, steps FROM versions WHERE head = ? ORDER BY version")
      .all(name) as VersionRow[];
    return rows.map(toSummary);
  }

  async loadVersion(name: string, version: number): Promise<StoredVersion | undefined> {
    const row = this.statement("SELECT * FROM versions WHERE head = ? AND version = ?").get(name, version) as VersionRow | undefined;
    return row && { ...toSummary(row), state: new Uint8Array(row.state!) };
  }

  async appendExamples(lease: HeadLease, examples: readonly StoredExample[]): Promise<Set<string>> {
    this.leases.check(lease);
    return this.write(() => this.insertExamples(lease.head, examples));
  }

  async appendFeedback(head: string, examples: readonly FeedbackExample[]): Promise<Set<string>> {
    return this.write(() => {
      if (!this.statement("SELECT 1 FROM heads WHERE name = ?").get(head)) throw notFound(`head "${head}" does not exist`);
      return this.insertExamples(head, examples);
    });
  }

  private insertExamples(name: string, examples: readonly FeedbackExample[]): Set<string> {
    const next = (this.statement("SELECT COALESCE(MAX(seq), 0) AS seq FROM examples WHERE head = ?").get(name) as { seq: number }).seq;
    const insert = this.statement(
      "INSERT INTO examples (head, seq, id, text, labels, weight, holdout, served_version, served_labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (head, id) DO NOTHING",
    );
    const inserted = new Set<string>();
    let seq = next;
    for (const example of examples) {
      const served = example.served;
      const result = insert.run(name, seq + 1, example.id, example.text, JSON.stringify(example.labels), example.weight, example.holdout ? 1 : 0, served?.version ?? null, served ? JSON.stringify(served.labels) : null);
      if (result.changes > 0) {
        seq++;
        inserted.add(example.id);
      }
    }
    return inserted;
  }

  async examplesAfter(head: string, seq: number, limit: number): Promise<LoggedExample[]> {
    const rows = this
      .statement("SELECT seq, id, text, labels, weight, holdout, served_version, served_labels FROM examples WHERE head = ? AND seq > ? ORDER BY seq LIMIT ?")
      .all(head, seq, limit) as (ExampleRow & { seq: number; served_version: number | null; served_labels: string | null })[];
    return rows.map((row) => ({
      seq: row.seq,
      id: row.id,
      text: row.text,
      labels: JSON.parse(row.labels) as string[],
      weight: row.weight,
      holdout: row.holdout === 1,
      served: row.served_version === null ? undefined : { version: row.served_version, labels: JSON.parse(row.served_labels!) as string[] },
    }));
  }

  async lastExampleSeq(head: string): Promise<number> {
    return (this.statement("SELECT COALESCE(MAX(seq), 0) AS seq FROM examples WHERE head = ?").get(head) as { seq: number }).seq;
  }

  async scoredFeedback(head: string, limit: number): Promise<ScoredFeedback[]> {
    const rows = this
      .statement("SELECT seq, labels, served_version, served_labels FROM examples WHERE head = ? AND served_version IS NOT NULL ORDER BY seq DESC LIMIT ?")
      .all(head, limit) as { seq: number; labels: string; served_version: number; served_labels: string }[];
    return rows.reverse().map((row) => ({ seq: row.seq, labels: JSON.parse(row.labels) as string[], served: { version: row.served_version, labels: JSON.parse(row.served_labels) as string[] } }));
  }

  async getPolicy(head: string): Promise<StoredPolicy | undefined> {
    const row = this.statement("SELECT * FROM head_policies WHERE head = ?").get(head) as PolicyRow | undefined;
    return row && toPolicy(row);
  }

  async setPolicy(head: string, policy: HeadPolicy): Promise<StoredPolicy> {
    return this.write(() => {
      if (!this.statement("SELECT 1 FROM heads WHERE name = ?").get(head)) throw notFound(`head "${head}" does not exist`);
      const seq = (this.statement("SELECT COALESCE(MAX(seq), 0) AS seq FROM examples WHERE head = ?").get(head) as { seq: number }).seq;
      this
        .statement(
          "INSERT INTO head_policies (head, policy, published_seq, published_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (head) DO UPDATE SET policy = excluded.policy, published_seq = excluded.published_seq, published_at_ms = excluded.published_at_ms",
        )
        .run(head, JSON.stringify(policy), seq, Date.now());
      return toPolicy(this.statement("SELECT * FROM head_policies WHERE head = ?").get(head) as PolicyRow);
    });
  }

  async markPublished(head: string, seq: number, atMs: number): Promise<void> {
    this.write(() => this.statement("UPDATE head_policies SET published_seq = MAX(published_seq, ?), published_at_ms = ? WHERE head = ?").run(seq, atMs, head));
  }

  async continuousHeads(): Promise<StoredPolicy[]> {
    return (this.statement("SELECT * FROM head_policies ORDER BY head").all() as PolicyRow[]).map(toPolicy).filter((p) => p.policy.continuous);
  }

  /** Reads the log in pages, letting the event loop run between them: a long log is read while calls are served. */
  async examples(name: string): Promise<StoredExample[]> {
    const page = this.statement("SELECT seq, id, text, labels, weight, holdout FROM examples WHERE head = ? AND seq > ? ORDER BY seq LIMIT ?");
    const examples: StoredExample[] = [];
    for (let after = 0; ; await nextTurn()) {
      const rows = page.all(name, after, EXAMPLES_PAGE) as (ExampleRow & { seq: number })[];
      for (const row of rows) examples.push({ id: row.id, text: row.text, labels: JSON.parse(row.labels) as string[], weight: row.weight, holdout: row.holdout === 1 });
      if (rows.length < EXAMPLES_PAGE) return examples;
      after = rows[rows.length - 1].seq;
    }
  }

  async countExamples(name: string): Promise<number> {
    return (this.statement("SELECT COUNT(*) AS n FROM examples WHERE head = ?").get(name) as { n: number }).n;
  }

  async lastExampleId(name: string): Promise<string | undefined> {
    return (this.statement("SELECT id FROM examples WHERE head = ? ORDER BY seq DESC LIMIT 1").get(name) as { id: string } | undefined)?.id;
  }

  async commitVersion(lease: HeadLease, version: NewVersion, promote: boolean): Promise<number> {
    const name = lease.head;
    this.leases.check(lease);
    return this.write(() => {
      const head = this.statement("SELECT * FROM heads WHERE name = ?").get(name) as HeadRow | undefined;
      if (!head) throw notFound(`head "${name}" does not exist`);
      const number = head.latest_version + 1;
      this
        .statement(
          "INSERT INTO versions (head, version, created_at_ms, labels, config, metrics, state, trained_examples, steps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(name, number, Date.now(), JSON.stringify(version.labels), Buffer.from(version.config), JSON.stringify(version.metrics), Buffer.from(version.state), version.trainedExamples, version.steps);
      this.statement(`UPDATE heads SET latest_version = ?${promote ? ", active_version = ?" : ""} WHERE name = ?`).run(...(promote ? [number, number, name] : [number, name]));
      return number;
    });
  }

  async setActiveVersion(name: string, version: number): Promise<number> {
    return this.write(() => {
      const head = this.statement("SELECT * FROM heads WHERE name = ?").get(name) as HeadRow | undefined;
      if (!head) throw notFound(`head "${name}" does not exist`);
      const exists = this.statement("SELECT 1 FROM versions WHERE head = ? AND version = ?").get(name, version);
      if (!exists) throw failedPrecondition(`head "${name}" has no version ${version} (latest is ${head.latest_version})`);
      this.statement("UPDATE heads SET active_version = ? WHERE name = ?").run(version, name);
      return head.active_version;
    });
  }

  async deleteHead(name: string): Promise<boolean> {
    if (this.leases.isHeld(name)) throw headBeingAdapted(name);
    return this.write(() => this.statement("DELETE FROM heads WHERE name = ?").run(name).changes > 0);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs a write transaction. A full disk becomes RESOURCE_EXHAUSTED, a read-only, failing or busy
   * store UNAVAILABLE, both with SQLite's code and reason; the transaction left nothing behind.
   */
  private write<T>(body: () => T): T {
    try {
      return this.db.transaction(body)();
    } catch (error) {
      const code = (error as { code?: string }).code ?? "";
      const reason = `(${code}: ${(error as Error).message})`;
      if (code.startsWith("SQLITE_FULL")) throw resourceExhausted(`the head store is full ${reason}: free disk space, then retry`);
      if (/^SQLITE_(READONLY|IOERR|CANTOPEN|BUSY)/.test(code)) throw unavailable(`the head store cannot write ${reason}: Embed and Classify still serve`);
      throw error;
    }
  }
}

interface PolicyRow {
  head: string;
  policy: string;
  published_seq: number;
  published_at_ms: number;
}

function toPolicy(row: PolicyRow): StoredPolicy {
  return { head: row.head, policy: JSON.parse(row.policy) as HeadPolicy, publishedSeq: row.published_seq, publishedAtMs: row.published_at_ms };
}

function toSummary(row: VersionRow): VersionSummary {
  return {
    version: row.version,
    createdAtMs: row.created_at_ms,
    labels: JSON.parse(row.labels) as string[],
    config: new Uint8Array(row.config),
    metrics: JSON.parse(row.metrics) as VersionSummary["metrics"],
    trainedExamples: row.trained_examples,
    steps: row.steps,
  };
}
