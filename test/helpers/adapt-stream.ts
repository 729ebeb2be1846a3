import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceError } from "@grpc/grpc-js";
import type { ServiceClient } from "../../src/client/grpc-client.js";
import { AdaptRequestSchema, type AdaptCommitted, type AdaptConfigSchema, type AdaptProgress, type AdaptResponse, type Heads } from "../../src/gen/bertd/v1/heads_pb.js";
import type { ToyExample } from "./adapt-client.js";

/** An Adapt stream the test drives step by step (to pause or kill the server in the middle). */
export interface OpenAdapt {
  readonly progress: AdaptProgress[];
  readonly committed: AdaptCommitted[];
  /** Resolves when the server ends the stream; rejects with its status. */
  readonly done: Promise<void>;
  send(examples: ToyExample[]): void;
  commit(): void;
  end(): void;
  /** The highest durable count and the last durable id the server acknowledged so far. */
  durable(): { count: number; lastId: string };
}

export function openAdapt(client: ServiceClient<typeof Heads>, config: MessageInitShape<typeof AdaptConfigSchema>): OpenAdapt {
  const call = client.stream("adapt");
  const progress: AdaptProgress[] = [];
  const committed: AdaptCommitted[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on("data", (response: AdaptResponse) => {
      if (response.response.case === "progress") progress.push(response.response.value);
      if (response.response.case === "committed") committed.push(response.response.value);
    });
    call.on("error", (error: ServiceError) => reject(error));
    call.on("end", () => resolve());
  });
  done.catch(() => {});
  call.write(create(AdaptRequestSchema, { request: { case: "config", value: config } }));
  return {
    progress,
    committed,
    done,
    send(examples) {
      for (const example of examples) call.write(create(AdaptRequestSchema, { request: { case: "example", value: example } }));
    },
    commit() {
      call.write(create(AdaptRequestSchema, { request: { case: "commit", value: {} } }));
    },
    end() {
      call.end();
    },
    durable() {
      const last = progress.reduce<AdaptProgress | undefined>((best, p) => (!best || p.durableExamples > best.durableExamples ? p : best), undefined);
      return { count: Number(last?.durableExamples ?? 0n), lastId: last?.lastDurableId ?? "" };
    },
  };
}

/** Polls until the check returns a value (not undefined), or fails naming what it waited for. */
export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
