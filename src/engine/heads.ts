import type { AdaptDeps } from "../adaptation/adapt-run.js";
import { invalidArgument, notFound } from "../core/errors.js";
import type { HeadRecord, HeadStore, StoredHeadType, StoredPolicy, VersionSummary } from "../store/head-store.js";
import { headLiveMetrics } from "../feedback/live-gauges.js";
import { NO_LIVE_METRICS, type LiveMetrics } from "../feedback/live-metrics.js";
import { MODEL_HEAD } from "./head-resolution.js";

/** The loaded model and heads that Classify, Tag and head administration read. */
export type ServedHeads = Pick<AdaptDeps, "encoder" | "registry" | "store" | "predictions" | "onLive"> & Partial<Pick<AdaptDeps, "cache">>;

export interface HeadSummary {
  readonly name: string;
  readonly type: StoredHeadType;
  /** The latest version's labels (none before the first commit). */
  readonly labels: string[];
  readonly activeVersion: number;
  readonly latestVersion: number;
  /** Head "model", the model's own classifier. */
  readonly readOnly: boolean;
  /** A pair head: it classifies sentence pairs (fixed at creation). */
  readonly pair: boolean;
}

export interface HeadDetails {
  readonly summary: HeadSummary;
  readonly modelHash: string;
  readonly versions: VersionSummary[];
  /** Feedback scored against what was served: the whole window, and per served version. */
  readonly live: { all: LiveMetrics; versions: Map<number, LiveMetrics> };
  readonly policy?: StoredPolicy;
}

/** Every stored head, after the model's own classifier when it has one. */
export async function listHeads(heads: ServedHeads): Promise<HeadSummary[]> {
  const stored = await heads.store.listHeads();
  const summaries = await Promise.all(stored.map((head) => summaryOf(heads.store, head)));
  const classifier = heads.encoder.info.classifier;
  if (classifier) {
    summaries.unshift({
      name: MODEL_HEAD,
      type: classifier.multilabel ? "multilabel" : "multiclass",
      labels: [...classifier.labels],
      activeVersion: 1,
      latestVersion: 1,
      readOnly: true,
      pair: false,
    });
  }
  return summaries;
}

export async function getHead(heads: ServedHeads, name: string, liveWindow: number): Promise<HeadDetails> {
  const head = await heads.store.getHead(name);
  if (!head) throw notFound(`head "${name}" does not exist`);
  const versions = await heads.store.listVersions(head.name);
  const live = (await headLiveMetrics(heads.store, name, liveWindow)) ?? { all: NO_LIVE_METRICS, versions: new Map() };
  heads.onLive?.(name, live.all);
  return { summary: await summaryOf(heads.store, head), modelHash: head.modelHash, versions, live, policy: await heads.store.getPolicy(name) };
}

export async function deleteHead(heads: ServedHeads, name: string): Promise<void> {
  if (!(await heads.store.deleteHead(name))) throw notFound(`head "${name}" does not exist`);
  heads.registry.forget(name);
}

/** Points the head at `version` and serves it; returns the version active before. */
export async function setActiveVersion(heads: ServedHeads, name: string, version: number): Promise<number> {
  if (version === 0) throw invalidArgument("version must be ≥ 1");
  const previous = await heads.store.setActiveVersion(name, version);
  await heads.registry.refresh(name);
  return previous;
}

async function summaryOf(store: HeadStore, head: HeadRecord): Promise<HeadSummary> {
  const latest = head.latestVersion > 0 ? await store.loadVersion(head.name, head.latestVersion) : undefined;
  return {
    name: head.name,
    type: head.type,
    labels: latest ? [...latest.labels] : [],
    activeVersion: head.activeVersion,
    latestVersion: head.latestVersion,
    readOnly: false,
    pair: head.input === "pair",
  };
}
