import type { ServerDuplexStream } from "@grpc/grpc-js";
import { ServiceError } from "../../core/errors.js";
import type { MethodPath } from "../../telemetry/call-observer.js";
import type { CallContext, CallLogger } from "../calls.js";
import { PipelinedStream } from "../pipelined-stream.js";

/** Messages of one stream in flight at once; past it the server stops reading the stream. */
export const STREAM_WINDOW = 32;

type Settled<Res> = { readonly ok: true; readonly response: Res } | { readonly ok: false; readonly error: unknown };

/**
 * A TEI stream: every message is answered as soon as it can be (up to STREAM_WINDOW at once, batched
 * with all other calls), and the answers go out in the order of the messages. The first message that
 * fails ends the stream with its status, after the answers before it (as TEI's streams do); the work
 * still in flight for later messages is cancelled.
 */
export function serveOrdered<Req, Res>(call: ServerDuplexStream<Req, Res>, calls: CallLogger, method: MethodPath, answer: (request: Req, context: CallContext) => Promise<Res>): void {
  const stream = new PipelinedStream(call, calls, method, { pauseAt: STREAM_WINDOW, resumeBelow: STREAM_WINDOW });
  const work = new AbortController();
  const context: CallContext = { ...stream.context, signal: work.signal };
  let requests = 0;
  let failed = false;
  stream.context.signal.addEventListener("abort", () => {
    work.abort();
    stream.fail(new ServiceError("cancelled", "the stream ended before its requests finished"), { requests });
  });
  const fail = (error: unknown): void => {
    failed = true;
    work.abort();
    stream.fail(error, { requests, failedAt: requests });
    stream.notify();
  };
  let tail = Promise.resolve();
  void (async () => {
    for (let message = await stream.next(() => failed); message; message = await stream.next(() => failed)) {
      requests++;
      const settled: Promise<Settled<Res>> = answer(message, context).then(
        (response) => ({ ok: true, response }),
        (error: unknown) => ({ ok: false, error }),
      );
      tail = tail.then(async () => {
        const result = await settled;
        if (failed) return;
        if (!result.ok) return fail(result.error);
        stream.write(result.response);
        stream.release();
      });
    }
    await tail;
    if (!failed) stream.succeed({ requests });
  })();
}
