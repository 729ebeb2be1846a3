import type { HeadInput, HeadRecord, StoredHeadType } from "./head-store.js";

/** A `heads` row as both stores' drivers return it (PostgreSQL gives BIGINT columns as strings). */
export interface HeadRow {
  name: string;
  type: string;
  model_hash: string;
  active_version: number;
  latest_version: number;
  created_at_ms: number | string;
  input?: string;
}

export function toHead(row: HeadRow): HeadRecord {
  return {
    name: row.name,
    type: row.type as StoredHeadType,
    modelHash: row.model_hash,
    activeVersion: row.active_version,
    latestVersion: row.latest_version,
    createdAtMs: Number(row.created_at_ms),
    input: (row.input ?? "text") as HeadInput,
  };
}
