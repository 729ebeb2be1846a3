import type pg from "pg";

/**
 * The PostgreSQL schema, one entry per version, applied in order and recorded in schema_migrations.
 * Never edit an entry that has shipped: add the next one.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE heads (
     name TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     model_hash TEXT NOT NULL,
     active_version INTEGER NOT NULL DEFAULT 0,
     latest_version INTEGER NOT NULL DEFAULT 0,
     created_at_ms BIGINT NOT NULL
   );
   CREATE TABLE versions (
     head TEXT NOT NULL REFERENCES heads(name) ON DELETE CASCADE,
     version INTEGER NOT NULL,
     epoch BIGINT NOT NULL,
     created_at_ms BIGINT NOT NULL,
     labels JSONB NOT NULL,
     config BYTEA NOT NULL,
     metrics JSONB NOT NULL,
     state BYTEA NOT NULL,
     trained_examples BIGINT NOT NULL,
     steps BIGINT NOT NULL,
     PRIMARY KEY (head, version)
   );
   CREATE TABLE examples (
     seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     head TEXT NOT NULL REFERENCES heads(name) ON DELETE CASCADE,
     epoch BIGINT NOT NULL,
     id TEXT NOT NULL,
     text TEXT NOT NULL,
     labels JSONB NOT NULL,
     weight DOUBLE PRECISION NOT NULL,
     holdout BOOLEAN NOT NULL,
     UNIQUE (head, id)
   );
   CREATE INDEX examples_by_head ON examples (head, seq);
   -- Rows are never deleted, so a head's epoch only grows, even across DeleteHead.
   CREATE TABLE head_leases (
     head TEXT PRIMARY KEY,
     holder TEXT NOT NULL,
     epoch BIGINT NOT NULL,
     expires_at TIMESTAMPTZ NOT NULL
   );`,
  // Pair heads: 'pair' (examples and inputs are sentence pairs) or 'text'.
  `ALTER TABLE heads ADD COLUMN input TEXT NOT NULL DEFAULT 'text';`,
  // Feedback: what was served for an answered prediction, continuous-learning policies, and the
  // predictions every replica can answer (rows expire; any replica deletes expired ones).
  `ALTER TABLE examples ADD COLUMN served_version INTEGER, ADD COLUMN served_labels JSONB;
   CREATE INDEX examples_served ON examples (head, seq) WHERE served_version IS NOT NULL;
   CREATE TABLE head_policies (
     head TEXT PRIMARY KEY REFERENCES heads(name) ON DELETE CASCADE,
     policy JSONB NOT NULL,
     published_seq BIGINT NOT NULL,
     published_at_ms BIGINT NOT NULL
   );
   CREATE TABLE predictions (
     id TEXT PRIMARY KEY,
     head TEXT NOT NULL,
     type TEXT NOT NULL,
     version INTEGER NOT NULL,
     text TEXT NOT NULL,
     served JSONB NOT NULL,
     scores JSONB NOT NULL,
     created_at_ms BIGINT NOT NULL,
     expires_at_ms BIGINT NOT NULL
   );
   CREATE INDEX predictions_by_expiry ON predictions (expires_at_ms);`,
];

/** Any fixed number: the advisory lock that lets one replica at a time migrate. */
const MIGRATION_LOCK = 0x62657274; // "bert"

/** Applies the missing migrations in one transaction, under a lock, so replicas starting together don't race. */
export async function migrate(client: pg.ClientBase): Promise<number> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    const { rows } = await client.query<{ version: number | null }>("SELECT MAX(version) AS version FROM schema_migrations");
    const current = rows[0].version ?? 0;
    for (let version = current; version < POSTGRES_MIGRATIONS.length; version++) {
      await client.query(POSTGRES_MIGRATIONS[version]);
      await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [version + 1]);
    }
    await client.query("COMMIT");
    return POSTGRES_MIGRATIONS.length - current;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
