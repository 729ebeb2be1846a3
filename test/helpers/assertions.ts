import assert from "node:assert/strict";
import { join } from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import Database from "better-sqlite3";

/** Asserts that a call fails with this gRPC status and a message matching the pattern. */
export async function rejectsWithStatus(promise: Promise<unknown>, expected: status, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: ServiceError) => {
    assert.equal(error.code, expected, `expected ${status[expected]}, got ${status[error.code]}: ${error.details}`);
    assert.match(error.details, pattern);
    return true;
  });
}

/** The ids a head's example log holds in the embedded store, in order (read straight from SQLite). */
export function loggedIds(dataDir: string, head: string): string[] {
  const db = new Database(join(dataDir, "heads.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT id FROM examples WHERE head = ? ORDER BY seq").all(head) as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}
