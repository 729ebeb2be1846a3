import { create } from "@bufbuild/protobuf";
import { Metadata as GrpcMetadata } from "@grpc/grpc-js";
import type { StageTimes, TruncationSide } from "../../core/encoder.js";
import { InputTooLongError, invalidArgument } from "../../core/errors.js";
import { MetadataSchema, TruncationDirection, type Metadata } from "../../gen/tei/v1/tei_pb.js";

/** TEI's `truncate` and `truncation_direction` as bertd's truncation: false rejects over-long inputs. */
export function truncationOf(truncate: boolean, direction: TruncationDirection): TruncationSide {
  if (direction !== TruncationDirection.RIGHT && direction !== TruncationDirection.LEFT) throw invalidArgument(`truncation_direction: unknown value ${String(direction)}`);
  if (!truncate) return "none";
  return direction === TruncationDirection.LEFT ? "left" : "right";
}

/** TEI rejects an empty input before anything else. */
export function requireText(text: string, field = "inputs"): void {
  if (text.length === 0) throw invalidArgument(`Input validation error: \`${field}\` cannot be empty`);
}

/** Characters as TEI counts them (Unicode scalar values, not UTF-16 units). */
export function charCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Rewords errors whose text TEI's clients may know: an over-long input with truncate false. */
export function teiError(error: unknown): unknown {
  if (error instanceof InputTooLongError) return invalidArgument(`Input validation error: \`inputs\` must have less than ${error.maxTokens} tokens. Given: ${error.tokens}`);
  return error;
}

/** Runs `work`, rewording its error for TEI's clients. */
export async function teiCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw teiError(error);
  }
}

/** What a call cost, for the response's Metadata and the x-* response headers. */
export interface Cost {
  readonly chars: number;
  readonly tokens: number;
  /** performance.now() when the call started. */
  readonly started: number;
  readonly times: StageTimes;
}

const NS_PER_MS = 1e6;

function rangeMs(range: readonly [number, number] | undefined): number {
  return range ? Math.max(0, range[1] - range[0]) : 0;
}

/** tei.v1.Metadata: characters, tokens, and total, tokenization, queue and inference time in ns. */
export function metadataOf(cost: Cost): Metadata {
  const ns = (ms: number): bigint => BigInt(Math.round(ms * NS_PER_MS));
  return create(MetadataSchema, {
    computeChars: cost.chars,
    computeTokens: cost.tokens,
    totalTimeNs: ns(performance.now() - cost.started),
    tokenizationTimeNs: ns(rangeMs(cost.times.tokenize)),
    queueTimeNs: ns(rangeMs(cost.times.queue)),
    inferenceTimeNs: ns(rangeMs(cost.times.inference)),
  });
}

/** TEI's response headers (initial metadata) on unary calls: the same figures, times in whole milliseconds. */
export function headersOf(cost: Cost, computeType: string): GrpcMetadata {
  const headers = new GrpcMetadata();
  const total = String(Math.floor(performance.now() - cost.started));
  headers.set("x-compute-type", computeType);
  headers.set("x-compute-time", total);
  headers.set("x-compute-characters", String(cost.chars));
  headers.set("x-compute-tokens", String(cost.tokens));
  headers.set("x-total-time", total);
  headers.set("x-tokenization-time", String(Math.floor(rangeMs(cost.times.tokenize))));
  headers.set("x-queue-time", String(Math.floor(rangeMs(cost.times.queue))));
  headers.set("x-inference-time", String(Math.floor(rangeMs(cost.times.inference))));
  return headers;
}

/** x-compute-type: where inference ran (TEI always says "gpu+optimized"). */
export function computeTypeOf(provider: string): string {
  return provider.startsWith("cuda") ? "gpu" : "cpu";
}

/** A unary handler's result: the response, its log fields and TEI's headers. */
export interface Answer<Res> {
  readonly response: Res;
  readonly fields?: Record<string, unknown>;
  readonly headers?: GrpcMetadata;
}
