import { create } from "@bufbuild/protobuf";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { AdaptRun, type IncomingExample } from "../../adaptation/adapt-run.js";
import type { RateLimiter } from "../../adaptation/limits.js";
import { invalidArgument, resourceExhausted, unavailable } from "../../core/errors.js";
import type { Engine } from "../../engine/engine.js";
import { AdaptResponseSchema, type AdaptConfig, type AdaptRequest, type AdaptResponse, type Example } from "../../gen/bertd/v1/heads_pb.js";
import type { CallLogger } from "../calls.js";
import { PipelinedStream } from "../pipelined-stream.js";
import { settingsOf } from "./adapt-config.js";
import { policyOf } from "./feedback-messages.js";
import { checkPolicy } from "../../engine/policy.js";
import type { HeadPolicy } from "../../store/head-store.js";
import { metricsMessage, progressMessage } from "./heads-messages.js";

export interface AdaptStreamDeps {
  readonly engine: Engine;
  readonly calls: CallLogger;
  /** Aborted when the server starts draining: open Adapt streams stop reading, report and end. */
  readonly draining?: AbortSignal;
  /** Adapt examples per second per API key (--adapt-examples-per-second): the stream is paced to it. */
  readonly exampleRate?: RateLimiter;
  readonly openStreams: OpenAdaptStreams;
  /** Told how long each stream waited for the rate limit, when it ends. */
  readonly onPaced?: (examples: number, seconds: number) => void;
}

/** Adapt streams open at once, server-wide, against --max-adapt-streams. */
export class OpenAdaptStreams {
  private count = 0;

  constructor(private readonly max?: number) {}

  opened(): void {
    this.count++;
  }

  closed(): void {
    this.count--;
  }

  /** RESOURCE_EXHAUSTED when more streams are open than the limit, the caller's included. */
  check(): void {
    if (this.max !== undefined && this.count > this.max) {
      throw resourceExhausted(`${this.max} Adapt streams are open, the most this server takes at once (--max-adapt-streams): retry when one ends`);
    }
  }
}

/** Whose budget an Adapt example spends: its key's, or everyone's with --auth none. */
const ANONYMOUS = "anonymous";

/** Examples processed per chunk: logged in one transaction, embedded in one submission. */
const CHUNK = 64;

/** A wait for the rate limit at least this long first makes the examples already taken durable. */
const FLUSH_BEFORE_WAIT_MS = 50;

/**
 * One Adapt call: a config first, then examples (learned a chunk at a time) and commits; the end of
 * the stream commits what is uncommitted. Progress, commits and the final status go back on the stream.
 */
export class AdaptStream {
  private readonly stream: PipelinedStream<AdaptRequest, AdaptResponse>;
  private readonly rateKey: string;
  private run: AdaptRun | undefined;
  private readonly pending: IncomingExample[] = [];
  private progressEvery = 0;
  private sinceProgress = 0;
  private commits = 0;
  /** Examples that waited for the rate limit, and for how long in all. */
  private pacedExamples = 0;
  private pacedMs = 0;
  private policy: HeadPolicy | undefined;

  private constructor(
    call: ServerDuplexStream<AdaptRequest, AdaptResponse>,
    private readonly deps: AdaptStreamDeps,
  ) {
    deps.openStreams.opened();
    this.stream = new PipelinedStream(call, deps.calls, "/bertd.v1.Heads/Adapt", { pauseAt: 4 * CHUNK, resumeBelow: CHUNK });
    this.rateKey = this.stream.context.keyName ?? ANONYMOUS;
    deps.draining?.addEventListener("abort", this.stream.notify);
  }

  static serve(call: ServerDuplexStream<AdaptRequest, AdaptResponse>, deps: AdaptStreamDeps): void {
    const adaptStream = new AdaptStream(call, deps);
    adaptStream.adapt().then(
      (fields) => adaptStream.finish(undefined, fields),
      (error: unknown) => adaptStream.finish(error, { head: adaptStream.run?.settings.head }),
    );
  }

  private get draining(): boolean {
    return this.deps.draining?.aborted === true;
  }

  private get cancelled(): boolean {
    return this.stream.cancelled;
  }

  /** The stream's work, start to end; returns the fields of its log line. */
  private async adapt(): Promise<Record<string, unknown>> {
    this.deps.openStreams.check();
    const first = await this.next();
    if (!first) throw invalidArgument("the stream ended before its first message, which must be a config");
    if (first.request.case !== "config") throw invalidArgument(`the first message must be a config; got ${first.request.case ?? "an empty message"}`);
    const run = await this.open(first.request.value);
    for (;;) {
      const message = await this.next();
      if (this.cancelled) return { head: run.settings.head, cancelled: true };
      run.lease.lost.throwIfAborted();
      if (!message) break;
      switch (message.request.case) {
        case "example":
          await this.example(run, message.request.value);
          break;
        case "commit":
          await this.flush(run);
          await this.commit(run);
          break;
        case "config":
          throw invalidArgument("config may only be the first message of an Adapt stream");
        default:
          throw invalidArgument("an AdaptRequest must set config, example or commit");
      }
    }
    await this.flush(run);
    if (this.draining) throw shuttingDown(run);
    // A client's cancel can reach us as end-of-stream first and as cancellation just after:
    // let it arrive before treating the end as a commit.
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.cancelled) return { head: run.settings.head, cancelled: true };
    if (run.hasUncommitted || this.commits === 0) await this.commit(run);
    return { head: run.settings.head };
  }

  /** The next message; undefined at the end of the stream, and when cancelled or draining. A lost lease stops the wait. */
  private async next(): Promise<AdaptRequest | undefined> {
    const message = await this.stream.next(() => this.draining || this.run?.lease.lost.aborted === true);
    if (this.draining) return undefined;
    if (message) this.stream.release();
    return message;
  }

  private async open(config: AdaptConfig): Promise<AdaptRun> {
    const adaptDeps = this.deps.engine.adaptDeps();
    const settings = settingsOf(config, adaptDeps.encoder);
    this.policy = config.policy ? checkPolicy(policyOf(config.policy, "config.policy"), settings.type, "config.policy") : undefined;
    const run = await AdaptRun.open(adaptDeps, settings, this.stream.context.signal);
    this.run = run;
    run.lease.lost.addEventListener("abort", this.stream.notify);
    const log = await run.logState();
    this.stream.write(
      create(AdaptResponseSchema, {
        response: { case: "started", value: { loggedExamples: BigInt(log.loggedExamples), lastLoggedId: log.lastLoggedId, activeVersion: log.activeVersion } },
      }),
    );
    this.progressEvery = config.progressEvery || 100;
    return run;
  }

  private async example(run: AdaptRun, example: Example): Promise<void> {
    const { id, text, labels, weight, words, tags, textPair } = example;
    const wait = this.deps.exampleRate?.reserve(this.rateKey) ?? 0;
    if (wait > 0 && !(await this.pace(run, wait))) return;
    this.pending.push({ id, text, labels, weight, words, tags, textPair });
    // Examples already received arrive over the next turns of the event loop: let them join
    // this chunk, so a stream costs one durable transaction (fsync) per chunk, not per example.
    if (this.pending.length < CHUNK && this.stream.queued === 0) await nextTurn();
    if (this.pending.length >= CHUNK || this.stream.queued === 0) await this.flush(run);
  }

  /**
   * Over the rate limit the example waits, and so does the stream: nothing more is read, the inbox
   * fills to its pause point, and HTTP/2 flow control holds the client back. False when the wait
   * ended early (cancelled, draining, lease lost): the example is not taken.
   */
  private async pace(run: AdaptRun, ms: number): Promise<boolean> {
    if (ms >= FLUSH_BEFORE_WAIT_MS) await this.flush(run);
    const signals = [this.stream.context.signal, run.lease.lost, this.deps.draining].filter((s): s is AbortSignal => s !== undefined);
    const started = performance.now();
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any(signals) });
    } catch {
      return false;
    } finally {
      this.pacedExamples++;
      this.pacedMs += performance.now() - started;
    }
    return true;
  }

  private async flush(run: AdaptRun): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.splice(0, this.pending.length);
    await run.add(chunk, this.stream.context.signal);
    this.sinceProgress += chunk.length;
    if (this.sinceProgress >= this.progressEvery) {
      this.sinceProgress = 0;
      this.stream.write(progressMessage(run.progress()));
    }
  }

  private async commit(run: AdaptRun): Promise<void> {
    this.stream.write(progressMessage(run.progress()));
    const committed = await run.commit(this.stream.context.signal);
    if (this.policy) await this.deps.engine.setHeadPolicy(run.settings.head, this.policy);
    this.stream.write(
      create(AdaptResponseSchema, {
        response: {
          case: "committed",
          value: { version: committed.version, holdout: metricsMessage(committed.holdout), promoted: committed.promoted, promotionReason: committed.reason },
        },
      }),
    );
    this.commits++;
  }

  private async finish(error: unknown, fields: Record<string, unknown>): Promise<void> {
    this.deps.openStreams.closed();
    if (this.pacedExamples > 0) {
      Object.assign(fields, { pacedExamples: this.pacedExamples, pacedSeconds: Math.round(this.pacedMs) / 1000 });
      this.deps.onPaced?.(this.pacedExamples, this.pacedMs / 1000);
    }
    // The draining signal is the server's: a listener left on it would keep this stream (its run, trainer and features) alive.
    this.deps.draining?.removeEventListener("abort", this.stream.notify);
    await this.run?.release();
    if (error === undefined) this.stream.succeed(fields);
    // The last word on what is durable, whatever ended the stream.
    else this.stream.fail(error, fields, this.run ? progressMessage(this.run.progress()) : undefined);
  }
}

function shuttingDown(run: AdaptRun): Error {
  const { durableExamples, lastDurableId } = run.durability;
  return unavailable(
    `the server is shutting down: ${durableExamples} examples of this stream are durable (last "${lastDurableId}") and uncommitted training was not committed; ` +
      "reopen the stream (the log is kept) and commit",
  );
}
