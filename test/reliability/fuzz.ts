import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import fc from "fast-check";
import { Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";
import { Heads } from "../../src/gen/bertd/v1/heads_pb.js";
import { Embed, Info, Predict, Rerank, Tokenize } from "../../src/gen/tei/v1/tei_pb.js";
import { randomBytes, randomMessageBytes } from "./random-messages.js";

export const FUZZED_SERVICES: readonly DescService[] = [Encoder, Heads, Info, Embed, Predict, Rerank, Tokenize];

export interface FuzzOptions {
  /** Calls in all, spread evenly over every RPC, half well-formed messages and half broken bytes. */
  readonly cases: number;
  readonly seed: number;
  readonly concurrency?: number;
  /** A call without a status after this long counts as hung. */
  readonly timeoutMs?: number;
}

export interface FuzzReport {
  readonly cases: number;
  readonly methods: number;
  /** Status name → calls that ended with it. */
  readonly statuses: Record<string, number>;
  /** Calls that hung or answered a status that means a server bug. */
  readonly failures: string[];
}

interface Case {
  readonly method: DescMethod;
  readonly path: string;
  readonly wellFormed: boolean;
  /** One request, or several frames for a streaming method. */
  readonly frames: Uint8Array[];
}

const passthrough = (bytes: Uint8Array): Buffer => Buffer.from(bytes);
const keep = (bytes: Buffer): Buffer => bytes;

/** Generates the cases up front (deterministic for a seed). */
function cases(options: FuzzOptions): Case[] {
  const methods = FUZZED_SERVICES.flatMap((service) => service.methods.map((method) => ({ method, path: `/${service.typeName}/${method.name}` })));
  const perMethod = Math.ceil(options.cases / methods.length);
  const out: Case[] = [];
  methods.forEach(({ method, path }, m) => {
    const streaming = method.methodKind !== "unary";
    for (const wellFormed of [true, false]) {
      const count = Math.ceil(perMethod / 2);
      const one = wellFormed ? randomMessageBytes(method.input) : randomBytes(method.input);
      const frames = streaming ? fc.array(one, { minLength: 1, maxLength: 6 }) : one.map((bytes) => [bytes]);
      for (const sample of fc.sample(frames, { numRuns: count, seed: options.seed * 1000 + m * 2 + (wellFormed ? 0 : 1) })) {
        out.push({ method, path, wellFormed, frames: sample });
      }
    }
  });
  return out.slice(0, options.cases);
}

/** Sends one case over a raw grpc-js client; resolves with its final status. */
function send(client: Client, c: Case, timeoutMs: number): Promise<{ code: status; details: string }> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const done = (error: ServiceError | null): void => resolve(error ? { code: error.code, details: error.details } : { code: status.OK, details: "" });
    if (c.method.methodKind === "unary") {
      client.makeUnaryRequest(c.path, passthrough, keep, c.frames[0], new Metadata(), { deadline }, done);
      return;
    }
    const call = client.makeBidiStreamRequest(c.path, passthrough, keep, new Metadata(), { deadline });
    call.on("data", () => {});
    call.on("error", (error: ServiceError) => done(error));
    call.on("status", (s: { code: status; details: string }) => {
      if (s.code === status.OK) resolve({ code: s.code, details: s.details });
    });
    for (const frame of c.frames) call.write(frame);
    call.end();
  });
}

/**
 * Random well-formed messages and random bytes to every RPC of bertd.v1. A server bug shows as a
 * hang (DEADLINE_EXCEEDED), UNKNOWN, or INTERNAL for a message that decoded (grpc-js itself answers
 * INTERNAL "Error deserializing request" for bytes that are not the message, which is the gRPC rule).
 */
export async function fuzzRpcs(address: string, options: FuzzOptions): Promise<FuzzReport> {
  const client = new Client(address, credentials.createInsecure());
  const statuses: Record<string, number> = {};
  const failures: string[] = [];
  const all = cases(options);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length) {
      const c = all[next++];
      const { code, details } = await send(client, c, options.timeoutMs ?? 30_000);
      const name = status[code] ?? String(code);
      statuses[name] = (statuses[name] ?? 0) + 1;
      const parseError = code === status.INTERNAL && details.startsWith("Error deserializing request");
      const bug = code === status.DEADLINE_EXCEEDED || code === status.UNKNOWN || (code === status.INTERNAL && (c.wellFormed || !parseError));
      if (bug && failures.length < 20) failures.push(`${c.path} (${c.wellFormed ? "message" : "bytes"} ${Buffer.concat(c.frames).toString("hex").slice(0, 200)}): ${name} ${details}`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  client.close();
  return { cases: all.length, methods: FUZZED_SERVICES.reduce((n, s) => n + s.methods.length, 0), statuses, failures };
}
