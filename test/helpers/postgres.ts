import { randomBytes } from "node:crypto";
import pg from "pg";

/** The server tests may create databases on (.ci/run starts it): BERTD_TEST_POSTGRES_URL overrides. */
export const ADMIN_URL = process.env.BERTD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface ThrowawayDatabase {
  readonly name: string;
  readonly url: string;
  /** Runs one statement on the database (tests steal leases, count rows, terminate backends). */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Closes every connection to it (as a database restart would), bertd's included. */
  terminateBackends(): Promise<number>;
  drop(): Promise<void>;
}

/** CREATE DATABASE bertd_test_<random>; drop() removes it, forcing out whoever is still connected. */
export async function throwawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `bertd_test_${randomBytes(6).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on("error", () => {});
  return {
    name,
    url: url.toString(),
    async sql<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
      return (await pool.query<R>(text, values)).rows;
    },
    async terminateBackends() {
      const rows = await admin<{ n: number }>(
        "SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [name],
      );
      return rows[0].n;
    },
    async drop() {
      await pool.end();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function admin<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
