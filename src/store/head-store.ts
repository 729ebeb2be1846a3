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

/** What a head served for a prediction that feedback answered: scored against the true labels. */
export interface ServedPrediction {
  readonly version: number;
  /** The labels it predicted: the top label (MULTICLASS), those over the threshold (MULTILABEL), one tag per word (TOKEN). */
  readonly labels: readonly string[];
}

/** A feedback example for the log: an answered prediction carries what was served. */
export interface FeedbackExample extends StoredExample {
  readonly served?: ServedPrediction;
}

/** A logged example with its position in the head's log. */
export interface LoggedExample extends StoredExample {
  readonly seq: number;
  /** Answered predictions: what was served. */
  readonly served?: ServedPrediction;
}

/** An answered prediction as the live metrics read it back from the log. */
export interface ScoredFeedback {
  readonly seq: number;
  readonly labels: readonly string[];
  readonly served: ServedPrediction;
}

/** How a head learns from feedback (bertd.v1.HeadPolicy). */
export interface HeadPolicy {
  readonly continuous: boolean;
  readonly publishEveryExamples: number;
  readonly publishEverySeconds: number;
  readonly promotion: "always" | "if_better" | "never";
  readonly shadowExamples: number;
}

/** A head's policy and how far continuous learning has published. */
export interface StoredPolicy {
  readonly head: string;
  readonly policy: HeadPolicy;
  /** The log position the last publication covered (examples after it are pending). */
  readonly publishedSeq: number;
  readonly publishedAtMs: number;
}

/** A prediction kept so feedback can answer it (docs/feedback.md). */
export interface PredictionRecord {
  readonly id: string;
  readonly head: string;
  readonly type: StoredHeadType;
  readonly version: number;
  /** The text (TOKEN heads: the words as a JSON array), what learning needs. */
  readonly text: string;
  readonly served: readonly string[];
  /** The served version's label scores, in its label order (empty for TOKEN heads). */
  readonly scores: readonly number[];
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

/** Predictions shared by replicas (PostgreSQL), so feedback may reach any of them. */
export interface SharedPredictions {
  savePredictions(records: readonly PredictionRecord[]): Promise<void>;
  loadPrediction(id: string): Promise<PredictionRecord | undefined>;
  /** Deletes expired predictions; returns how many. */
  deleteExpiredPredictions(nowMs: number): Promise<number>;
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
  /** Called once, when a wait begins, with the lease's current holder and epoch. */
  readonly onWait?: (holder: string, epoch: number) => void;
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
  /**
   * Feedback: appends examples whose ids the head has not seen, durably, without the lease (the log is
   * append-only and ids are unique, so concurrent appends are safe); the lease holder learns them.
   */
  appendFeedback(head: string, examples: readonly FeedbackExample[]): Promise<Set<string>>;
  /** Logged examples after position `seq`, in order, at most `limit`. */
  examplesAfter(head: string, seq: number, limit: number): Promise<LoggedExample[]>;
  /** Whether the head's log holds an example with this id. */
  hasExample(head: string, id: string): Promise<boolean>;
  /** The position of the head's last logged example (0 = none). */
  lastExampleSeq(head: string): Promise<number>;
  /** The last `limit` answered predictions of the head, oldest first. */
  scoredFeedback(head: string, limit: number): Promise<ScoredFeedback[]>;
  getPolicy(head: string): Promise<StoredPolicy | undefined>;
  /** Sets the policy (the head must exist); a new policy starts counting from the log's end. */
  setPolicy(head: string, policy: HeadPolicy): Promise<StoredPolicy>;
  /** Records a publication by continuous learning. */
  markPublished(head: string, seq: number, atMs: number): Promise<void>;
  /** Heads whose policy is continuous. */
  continuousHeads(): Promise<StoredPolicy[]>;
  /** Shared stores keep predictions for every replica. */
  readonly predictions?: SharedPredictions;
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
