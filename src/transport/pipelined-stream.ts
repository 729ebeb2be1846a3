import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { CallLogger, StreamContext } from "./calls.js";
import type { MethodPath } from "../telemetry/call-observer.js";
import { toStatus } from "./status.js";

export interface FlowControl {
  /** Reading pauses once this many messages are held (received and not yet released)… */
  readonly pauseAt: number;
  /** …and resumes once fewer than this many are. */
  readonly resumeBelow: number;
}

/**
 * A server's bidirectional stream, read in order with bounded memory: messages wait in an inbox
 * until `next` takes them and count as held until `release`. The call is counted as in flight,
 * logged once and ended once: `succeed` ends it OK, `fail` with the error's status.
 */
export class PipelinedStream<Req, Res> {
  readonly context: StreamContext;
  private readonly started: number;
  private readonly inbox: Req[] = [];
  private held = 0;
  private ended = false;
  private finished = false;
  private wake: (() => void) | undefined;
  private allReleased: (() => void) | undefined;

  constructor(
    private readonly call: ServerDuplexStream<Req, Res>,
    private readonly calls: CallLogger,
    method: MethodPath,
    private readonly flow: FlowControl,
  ) {
    this.started = calls.started();
    this.context = calls.context(method, call);
    call.on("data", (message: Req) => {
      this.inbox.push(message);
      if (++this.held >= flow.pauseAt) call.pause();
      this.notify();
    });
    call.on("end", () => {
      this.ended = true;
      this.notify();
    });
    call.on("error", () => {});
    this.context.signal.addEventListener("abort", this.notify);
  }

  get cancelled(): boolean {
    return this.context.signal.aborted;
  }

  /** Messages received and not yet taken by `next`. */
  get queued(): number {
    return this.inbox.length;
  }

  /** Wakes a waiting `next`, so that it looks at its `stop` condition again. */
  readonly notify = (): void => {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  };

  /**
   * The next message, in order. Undefined once the call is cancelled, or when none is queued and the
   * client has ended the stream or `stop` holds.
   */
  async next(stop?: () => boolean): Promise<Req | undefined> {
    while (this.inbox.length === 0 && !this.ended && !this.cancelled && !stop?.()) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.cancelled) return undefined;
    return this.inbox.shift();
  }

  /** A message taken by `next` is done with. */
  release(): void {
    if (--this.held < this.flow.resumeBelow) this.call.resume();
    if (this.held === 0) {
      this.allReleased?.();
      this.allReleased = undefined;
    }
  }

  /** Resolves once every message received so far has been released. */
  settled(): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise((resolve) => (this.allReleased = resolve));
  }

  /** Writes a response, unless the call is cancelled. */
  write(message: Res): void {
    if (!this.cancelled) this.call.write(message);
  }

  /** Logs the call as OK and ends the stream (unless cancelled). Does nothing once the call has finished. */
  succeed(fields?: Record<string, unknown>): void {
    if (this.finished) return;
    this.finished = true;
    this.calls.finished(this.context, this.started, undefined, fields);
    if (!this.cancelled) this.call.end();
  }

  /**
   * Logs the call as failed and, unless cancelled, writes `last` and ends the stream with the
   * error's status. Does nothing once the call has finished.
   */
  fail(error: unknown, fields?: Record<string, unknown>, last?: Res): void {
    if (this.finished) return;
    this.finished = true;
    this.calls.finished(this.context, this.started, error, fields);
    if (this.cancelled) return;
    if (last !== undefined) this.call.write(last);
    const { code, details } = toStatus(error);
    // grpc-js turns an "error" event on a server stream into the call's final status.
    this.call.emit("error", Object.assign(new Error(details), { code, details }));
  }
}
