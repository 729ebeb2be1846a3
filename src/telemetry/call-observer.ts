import type { StageTimes } from "../core/encoder.js";

/** A gRPC method's full name, `/package.Service/Method`: what metrics and logs label a call with. */
export type MethodPath = `/${string}/${string}`;

/** What the wire layer tells telemetry about its calls. */
export interface CallObserver {
  /** Called once per finished call, with its gRPC status name (OK, INVALID_ARGUMENT, …). */
  finished(method: MethodPath, status: string, seconds: number): void;
  /** Stage durations of a call (tokenize, queue, inference, head), in seconds. */
  stages?(method: MethodPath, times: StageTimes): void;
}

/** The package-qualified service of a method path: `bertd.v1.Encoder` for `/bertd.v1.Encoder/Embed`. */
export function serviceOf(method: string): string {
  return method.slice(1, method.lastIndexOf("/"));
}
