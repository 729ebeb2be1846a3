import { type Metadata, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";
import type { Span } from "@opentelemetry/api";
import { callLines, type Logger } from "../telemetry/logger.js";
import { Cancellation, type CancelSignal } from "../core/cancellation.js";
import type { CallOptions, StageTimes } from "../core/encoder.js";
import { serviceOf, type CallObserver, type MethodPath } from "../telemetry/call-observer.js";
import type { Tracing } from "../telemetry/tracing.js";
import { keyNameOf } from "./auth/interceptor.js";
import { toStatus, statusName } from "./status.js";

/** What a handler knows about its call, whatever its kind. */
export interface CallContext {
  readonly method: MethodPath;
  readonly metadata: Metadata;
  readonly signal: CancelSignal;
  /** Epoch milliseconds, when the client set a deadline. */
  readonly deadline?: number;
  /** The call's server span, when tracing is on. */
  readonly span?: Span;
  /** The name of the API key that authenticated the call (never the key); undefined with --auth none. */
  readonly keyName?: string;
  /** Marks the call answered: from then on a "cancelled" event no longer aborts `signal`. */
  readonly answered?: () => void;
}

/** A stream's context: its signal is an AbortSignal, which a stream combines with others (AbortSignal.any). */
export interface StreamContext extends CallContext {
  readonly signal: AbortSignal;
}

/** What the engine takes of a call: its deadline and cancellation. */
export function callOptionsOf(context: CallContext): CallOptions {
  return { deadline: context.deadline, signal: context.signal };
}

interface Cancellable {
  readonly metadata: Metadata;
  getDeadline(): Date | number;
  on(event: "cancelled", listener: () => void): unknown;
}

/**
 * `cancel`: what a "cancelled" event before the answer triggers. grpc-js emits "cancelled" whenever the
 * HTTP/2 stream closes, after an answered call too: cancelling then would cost the listeners' work on
 * every call, for nothing. `keyNames`: whether the auth interceptor ran, so that the key-name header is
 * its own and not the client's.
 */
function contextOf<S extends CancelSignal>(method: MethodPath, call: Cancellable, signal: S, cancel: () => void, span: Span | undefined, keyNames: boolean) {
  let open = true;
  call.on("cancelled", () => {
    if (open) cancel();
  });
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? raw : undefined;
  const keyName = keyNames ? keyNameOf(call.metadata) : undefined;
  if (keyName !== undefined) span?.setAttribute("bertd.api_key.name", keyName);
  return { method, metadata: call.metadata, signal, deadline, span, keyName, answered: () => (open = false) };
}

export class CallLogger {
  private active = 0;
  private drained: (() => void) | undefined;
  /** The per-call lines: every field is named below, so none needs the redaction's scan. */
  private readonly lines: Logger;

  constructor(
    private readonly log: Logger,
    private readonly observer?: CallObserver,
    readonly tracing?: Tracing,
    /** Whether calls are authenticated (their key names are logged); false with --auth none. */
    private readonly keyNames = false,
  ) {
    this.lines = callLines(log);
  }

  /** The context of a new stream: cancellation, deadline and (with tracing) its server span. */
  context(method: MethodPath, call: Cancellable): StreamContext {
    const controller = new AbortController();
    return contextOf(method, call, controller.signal, () => controller.abort(), this.span(method, call), this.keyNames);
  }

  /** A unary call's context, with a Cancellation for a signal. */
  private unaryContext(method: MethodPath, call: Cancellable): CallContext {
    const cancellation = new Cancellation();
    return contextOf(method, call, cancellation, () => cancellation.cancel(), this.span(method, call), this.keyNames);
  }

  private span(method: MethodPath, call: Cancellable): Span | undefined {
    if (!this.tracing) return undefined;
    const service = serviceOf(method);
    return this.tracing.startCall(method.slice(service.length + 2), service, call.metadata);
  }

  /** Counts a call as in flight until `finished`; shutdown waits for these, not for health watches. */
  started(): number {
    this.active++;
    return performance.now();
  }

  /** Reports a call's stages: child spans in its trace, durations in the metrics. */
  stages(context: CallContext, times: StageTimes): void {
    this.tracing?.stages(context.span, times);
    this.observer?.stages?.(context.method, times);
  }

  /** Resolves once no counted call is in flight. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  finished(context: CallContext, started: number, error: unknown, fields: Record<string, unknown> = {}): void {
    context.answered?.();
    if (--this.active === 0 && this.drained) {
      this.drained();
      this.drained = undefined;
    }
    const seconds = (performance.now() - started) / 1000;
    const { code, details } = error === undefined ? { code: 0 as status, details: undefined } : toStatus(error);
    this.observer?.finished(context.method, statusName(code), seconds);
    this.tracing?.endCall(context.span, code, details);
    const spanContext = context.span?.spanContext();
    const trace = spanContext ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
    const key = context.keyName === undefined ? {} : { key: context.keyName };
    const line = { method: context.method, status: statusName(code), durationMs: Math.round(seconds * 1e6) / 1e3, ...key, ...trace, ...fields };
    if (code === status.INTERNAL) this.log.error({ ...line, err: error }, "call failed");
    else this.lines.info(details ? { ...line, details } : line, "call");
  }

  /** Wraps an async handler as a grpc-js unary handler with status mapping and one log line. */
  unary<Req, Res>(method: MethodPath, handler: (request: Req, context: CallContext) => Promise<{ response: Res; fields?: Record<string, unknown>; headers?: Metadata }>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = this.started();
      const context = this.unaryContext(method, call);
      handler(call.request, context).then(
        ({ response, fields, headers }) => {
          this.finished(context, started, undefined, fields);
          // Response headers (initial metadata) go out before the message.
          if (headers) call.sendMetadata(headers);
          callback(null, response);
        },
        (error: unknown) => {
          this.finished(context, started, error);
          const { code, details } = toStatus(error);
          callback({ code, details });
        },
      );
    };
  }
}
