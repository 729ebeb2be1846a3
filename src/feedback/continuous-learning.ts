import type { Logger } from "pino";
import { AdaptRun, type AdaptDeps, type AdaptSettings } from "../adaptation/adapt-run.js";
import { featuresFor, pairFeaturesFor, pairOfStored } from "../adaptation/features.js";
import { ServiceError } from "../core/errors.js";
import type { PoolingMode } from "../core/pooling.js";
import type { HeadSnapshot } from "../heads/index.js";
import type { HeadPolicy, LoggedExample, StoredPolicy } from "../store/head-store.js";
import { servedCorrect } from "./live-metrics.js";
import { ShadowTrial } from "./shadow-trial.js";

export interface ContinuousOptions {
  /** How often every continuous head's log is checked for new feedback (any replica's). */
  readonly pollMs: number;
  /** The lease is let go after this long without new feedback, so an Adapt stream may take the head. */
  readonly idleReleaseMs: number;
  /** The Adapt settings a head continues with: its newest version's config, starting from the active version. */
  readonly settingsFor: (head: string, policy: HeadPolicy) => Promise<AdaptSettings>;
  readonly log: Logger;
}

/** Rows read from the log per turn. */
const PAGE = 512;

interface Shadow {
  readonly trial: ShadowTrial;
  readonly snapshot: HeadSnapshot;
  readonly pooling: PoolingMode;
}

/** A head this replica is learning: it holds the head's lease through its run. */
interface Learning {
  readonly run: AdaptRun;
  learnedSeq: number;
  sincePublished: number;
  publishedAtMs: number;
  lastNewAtMs: number;
  shadow?: Shadow;
}

/**
 * Continuous heads: each replica checks the logs of heads whose policy is continuous; the one that
 * takes a head's lease (one writer per head) learns the new examples as they arrive, prequentially,
 * and publishes a version — replay of the whole log, holdout evaluation, promotion by policy — when
 * the policy says so. It lets the lease go after each publication and when feedback stops, so any
 * replica (or an Adapt stream) may take over; what is pending is counted from the log, not memory.
 */
export class ContinuousLearning {
  private readonly learning = new Map<string, Learning>();
  private readonly busy = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private policies: StoredPolicy[] = [];

  constructor(
    private readonly deps: AdaptDeps,
    private readonly options: ContinuousOptions,
  ) {
    this.timer = setInterval(() => void this.tickAll(), options.pollMs);
    this.timer.unref();
  }

  /** New feedback was logged on this replica: look at the head now rather than at the next poll. */
  poke(head: string): void {
    const stored = this.policies.find((p) => p.head === head);
    if (stored) void this.tick(stored);
    else void this.tickAll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.busy.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const [head, learning] of this.learning) {
      this.learning.delete(head);
      await learning.run.release();
    }
  }

  private async tickAll(): Promise<void> {
    if (this.stopped) return;
    try {
      this.policies = await this.deps.store.continuousHeads();
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, "could not read continuous heads; the next poll retries");
      return;
    }
    const continuous = new Set(this.policies.map((p) => p.head));
    for (const [head, learning] of this.learning) {
      if (!continuous.has(head) && !this.busy.has(head)) {
        this.learning.delete(head);
        await learning.run.release();
      }
    }
    await Promise.all(this.policies.map((stored) => this.tick(stored)));
  }

  /** One turn for one head; turns of one head never overlap. */
  private async tick(stored: StoredPolicy): Promise<void> {
    const head = stored.head;
    if (this.stopped || this.busy.has(head)) return;
    this.busy.add(head);
    try {
      await this.turn(stored);
    } catch (error) {
      const learning = this.learning.get(head);
      this.learning.delete(head);
      await learning?.run.release();
      const kind = error instanceof ServiceError ? error.kind : "internal";
      // Another writer holds the head (an Adapt stream or another replica): not an error.
      if (kind !== "aborted") this.options.log.warn({ head, err: (error as Error).message }, "continuous learning turn failed; the next poll retries");
    } finally {
      this.busy.delete(head);
    }
  }

  private async turn(stored: StoredPolicy): Promise<void> {
    const { store } = this.deps;
    const head = stored.head;
    let learning = this.learning.get(head);
    if (!learning) {
      if ((await store.lastExampleSeq(head)) <= stored.publishedSeq) return;
      const run = await AdaptRun.open(this.deps, await this.options.settingsFor(head, stored.policy));
      // Another replica may have published since the policy was read: count from what the store says now.
      const fresh = (await store.getPolicy(head)) ?? stored;
      learning = { run, learnedSeq: fresh.publishedSeq, sincePublished: 0, publishedAtMs: fresh.publishedAtMs, lastNewAtMs: Date.now() };
      this.learning.set(head, learning);
    }
    const policy = stored.policy;
    for (;;) {
      const rows = await store.examplesAfter(head, learning.learnedSeq, PAGE);
      if (rows.length === 0) break;
      if (learning.shadow) await this.scoreShadow(head, learning, rows);
      await learning.run.learnLogged(rows);
      learning.learnedSeq = rows[rows.length - 1].seq;
      learning.sincePublished += rows.length;
      learning.lastNewAtMs = Date.now();
      if (this.due(policy, learning)) break;
    }
    if (this.due(policy, learning)) {
      await this.publish(head, policy, learning);
      return;
    }
    if (!learning.shadow && Date.now() - learning.lastNewAtMs > this.options.idleReleaseMs) {
      this.learning.delete(head);
      await learning.run.release();
    }
  }

  private due(policy: HeadPolicy, learning: Learning): boolean {
    if (learning.sincePublished === 0) return false;
    if (policy.publishEveryExamples > 0 && learning.sincePublished >= policy.publishEveryExamples) return true;
    return policy.publishEverySeconds > 0 && Date.now() - learning.publishedAtMs >= policy.publishEverySeconds * 1000;
  }

  private async publish(head: string, policy: HeadPolicy, learning: Learning): Promise<void> {
    const shadow = policy.shadowExamples > 0;
    const committed = await learning.run.commit(undefined, { holdBack: shadow });
    const now = Date.now();
    await this.deps.store.markPublished(head, learning.learnedSeq, now);
    this.options.log.info({ head, version: committed.version, promoted: committed.promoted, reason: committed.reason, examples: learning.sincePublished }, "continuous head published a version");
    learning.sincePublished = 0;
    learning.publishedAtMs = now;
    if (shadow && committed.passed) {
      learning.shadow = { trial: new ShadowTrial(committed.version, policy.shadowExamples), snapshot: learning.run.snapshot(), pooling: learning.run.settings.pooling };
      return;
    }
    learning.shadow = undefined;
    this.learning.delete(head);
    await learning.run.release();
  }

  /** Scores the held-back candidate on answered predictions (ShadowTrial: the shadow rule); promotes it or not once the trial is complete. */
  private async scoreShadow(head: string, learning: Learning, rows: readonly LoggedExample[]): Promise<void> {
    const { trial, snapshot, pooling } = learning.shadow!;
    const type = learning.run.settings.type;
    if (type === "token") return;
    const record = await this.deps.store.getHead(head);
    const answered = trial.eligible(rows, record?.activeVersion);
    if (answered.length === 0) return;
    const features = learning.run.settings.pair
      ? await pairFeaturesFor(this.deps.encoder, this.deps.cache, answered.map(pairOfStored), pooling, "background")
      : await featuresFor(this.deps.encoder, this.deps.cache, answered.map((row) => row.text), pooling, "background");
    answered.forEach((row, i) => trial.score(servedCorrect(type, row.labels, snapshot.predictLabels(features[i])), servedCorrect(type, row.labels, row.served!.labels)));
    if (!trial.complete) return;
    learning.shadow = undefined;
    const fields = { head, candidate: trial.version, active: record?.activeVersion, ...trial.tally };
    if (trial.promote) {
      await this.deps.store.setActiveVersion(head, trial.version);
      await this.deps.registry.refresh(head);
      this.options.log.info(fields, "shadow candidate promoted: at least as accurate on live feedback as the active version");
    } else {
      this.options.log.info(fields, "shadow candidate kept inactive: less accurate on live feedback than the active version");
    }
  }
}
