/**
 * Where heads live: immutable versions, an active-version pointer, and the append-only log of
 * accepted examples. SQLite (embedded, the default, one process) and PostgreSQL (shared by replicas)
 * implement it. Writes to a head's log and versions need its lease: one writer per head.
 */
/** Stores keep the type as text, so a new head kind only extends this union. */
export type StoredHeadType = "multiclass" | "multilabel" | "token";
/** What a head takes, fixed at creation: one text, or a sentence pair (text, text_pair). */
export type HeadInput = "text" | "pair";

export interface HeadRecord {
  readonly name: string;
  readonly type: StoredHeadType;
  readonly modelHash: string;
  /** 0 = no version is active. */
  readonly activeVersion: number;
  readonly latestVersion: number;
  readonly createdAtMs: number;
  readonly input: HeadInput;
}

export interface VersionMetrics {
  readonly examples: number;
  readonly accuracy: number;
  readonly macroF1: number;
  readonly logLoss: number;
  /** TOKEN heads: entity-level metrics (kept with the others as they are, e.g. as JSON). */
  readonly spanPrecision?: number;
  readonly spanRecall?: number;
  readonly spanF1?: number;
}

export interface NewVersion {
  readonly labels: readonly string[];
  /** The AdaptConfig the version was trained with, protobuf-encoded. */
  readonly config: Uint8Array;
  readonly metrics: VersionMetrics;
  /** The trainer's full state (weights, optimizer, normalizer, labels): HeadTrainer.serialize(). */
  readonly state: Uint8Array;
  readonly trainedExamples: number;
  readonly steps: number;
}

export interface VersionSummary extends Omit<NewVersion, "state"> {
  readonly version: number;
  readonly createdAtMs: number;
}

export interface StoredVersion extends VersionSummary {
  readonly state: Uint8Array;
}

/**
 * One logged example. A TOKEN head's example keeps its words as a JSON array of strings in `text`
 * and its tags (one per word) in `labels`, and a pair head's its two texts as a JSON array
 * [text, text_pair], so stores need no other columns.
 */
export interface StoredExample {
  readonly id: string;
  readonly text: string;
  readonly labels: readonly string[];
  readonly weight: number;
  readonly holdout: boolean;
}

/** The right to write one head, held by one Adapt stream on one replica at a time. */
export interface HeadLease {
  readonly head: string;
  /** Who holds it: "hostname/pid" of the replica. */
  readonly holder: string;
  /** Grows with every new holder; every fenced write checks it in its own transaction. */
  readonly epoch: number;
  /** Aborted when the lease is lost (expired, taken over, or the store unreachable past its expiry). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** Wait for the current holder to finish instead of failing with ABORTED. */
  readonly wait: boolean;
  /** Ends a wait (CANCELLED). */
  readonly signal?: AbortSignal;
}

/** A head whose active version may have changed on another replica; no head = re-read all of them. */
export interface HeadChange {
  readonly head?: string;
}

export interface HeadStore {
  /** True when other processes write the same store (PostgreSQL): replicas must follow its changes. */
  readonly shared: boolean;
  /** Takes the head's lease, or fails ABORTED naming the holder (unless options.wait). */
  acquireLease(head: string, options: LeaseOptions): Promise<HeadLease>;
  /** Calls back on changes written by any replica (shared stores); returns the unsubscribe. */
  watch(listener: (change: HeadChange) => void): () => void;
  listHeads(): Promise<HeadRecord[]>;
  getHead(name: string): Promise<HeadRecord | undefined>;
  /** Creates the head if it does not exist (input default "text"); returns it either way. */
  ensureHead(name: string, type: StoredHeadType, modelHash: string, input?: HeadInput): Promise<HeadRecord>;
  listVersions(name: string): Promise<VersionSummary[]>;
  loadVersion(name: string, version: number): Promise<StoredVersion | undefined>;
  /** Appends examples whose ids the head has not seen; resolves, durably written, with the ids that were new. */
  appendExamples(lease: HeadLease, examples: readonly StoredExample[]): Promise<Set<string>>;
  /** Every logged example of the head, in the order they were accepted. */
  examples(name: string): Promise<StoredExample[]>;
  countExamples(name: string): Promise<number>;
  /** Id of the head's most recently logged example. */
  lastExampleId(name: string): Promise<string | undefined>;
  /** Stores a new immutable version (numbered latest + 1) and, if asked, makes it active. Fenced by the lease. */
  commitVersion(lease: HeadLease, version: NewVersion, promote: boolean): Promise<number>;
  /** Returns the previous active version. */
  setActiveVersion(name: string, version: number): Promise<number>;
  /** Fails while the head's lease is held. */
  deleteHead(name: string): Promise<boolean>;
  close(): Promise<void>;
}
