import { readFileSync } from "node:fs";
import { status, type ServiceError } from "@grpc/grpc-js";
import { Encoding } from "../../src/gen/bertd/v1/encoder_pb.js";
import type { ServerProcess } from "../helpers/server-process.js";

/** Resident memory of a process (the server with its worker threads), in MiB. */
export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return line ? Number(line[1]) / 1024 : NaN;
}

/** Samples a process's RSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs: number): { samples: { atMs: number; mb: number }[]; stop(): void } {
  const started = performance.now();
  const samples: { atMs: number; mb: number }[] = [];
  const take = (): void => {
    samples.push({ atMs: performance.now() - started, mb: rssMb(pid) });
  };
  take();
  const timer = setInterval(take, everyMs);
  return { samples, stop: () => clearInterval(timer) };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex jolly bumpkins near old ports".split(" ");

/** Inputs of about `words` words each, different per call so nothing is cached. */
export function inputs(count: number, words: number, salt: number): string[] {
  return Array.from({ length: count }, (_, i) => Array.from({ length: words }, (_, w) => WORDS[(salt * 7 + i * 13 + w * 3) % WORDS.length]).join(" ") + ` ${salt}-${i}`);
}

export interface CallOutcome {
  readonly code: status;
  readonly ms: number;
}

/** One channel per server, shared by every call, as a real client would (a channel per call costs a handshake). */
const embedders = new WeakMap<ServerProcess, ReturnType<ReturnType<ServerProcess["encoder"]>["unary"]>>();

/** One Embed call; resolves with its status and latency, never rejects. */
export async function timedEmbed(server: ServerProcess, texts: string[], timeoutMs = 60_000): Promise<CallOutcome> {
  let embed = embedders.get(server);
  if (!embed) embedders.set(server, (embed = server.encoder().unary("embed")));
  const started = performance.now();
  try {
    await embed({ inputs: texts, encoding: Encoding.BYTES }, { deadline: Date.now() + timeoutMs });
    return { code: status.OK, ms: performance.now() - started };
  } catch (error) {
    return { code: (error as ServiceError).code ?? status.UNKNOWN, ms: performance.now() - started };
  }
}

/** Calls per second the server sustains with `concurrency` callers in a closed loop. */
export async function closedLoopRps(server: ServerProcess, seconds: number, concurrency: number, perCall: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let salt = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const outcome = await timedEmbed(server, inputs(perCall, 24, salt++));
        if (outcome.code === status.OK) done++;
      }
    }),
  );
  return done / seconds;
}
