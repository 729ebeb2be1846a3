import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import type { ServiceClient } from "../../client/grpc-client.js";
import {
  AdaptRequestSchema,
  type AdaptCommitted,
  type AdaptConfigSchema,
  type AdaptProgress,
  type AdaptResponse,
  type AdaptStarted,
  type Heads,
} from "../../gen/bertd/v1/heads_pb.js";
import type { FileExample } from "./examples.js";

export interface AdaptOutcome {
  readonly committed: AdaptCommitted[];
  readonly last?: AdaptProgress;
}

/** Given what the head's example log already holds, the examples to send. */
export type Plan = (started: AdaptStarted) => readonly FileExample[];

/**
 * One Adapt stream: config; once the server holds the head and says what its log holds, the
 * examples `plan` picks (waiting for the transport to drain when its buffer is full); a commit; end.
 * A head still held by a stream that just died answers ABORTED before `started`: nothing was
 * processed, so it is retried for up to `busyRetryMs`.
 */
export async function adaptExamples(
  heads: ServiceClient<typeof Heads>,
  config: MessageInitShape<typeof AdaptConfigSchema>,
  plan: Plan,
  onProgress: (progress: AdaptProgress) => void,
  options: { signal?: AbortSignal; busyRetryMs?: number } = {},
): Promise<AdaptOutcome> {
  const deadline = Date.now() + (options.busyRetryMs ?? 15_000);
  for (;;) {
    const attempt = new AdaptAttempt(heads, config, plan, onProgress, options.signal);
    try {
      return await attempt.result;
    } catch (error) {
      if ((error as ServiceError).code !== status.ABORTED || attempt.started || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

class AdaptAttempt {
  started = false;
  readonly result: Promise<AdaptOutcome>;
  private failed = false;
  private wake?: () => void;

  constructor(
    heads: ServiceClient<typeof Heads>,
    config: MessageInitShape<typeof AdaptConfigSchema>,
    plan: Plan,
    onProgress: (progress: AdaptProgress) => void,
    signal?: AbortSignal,
  ) {
    const call = heads.stream("adapt");
    signal?.addEventListener("abort", () => call.cancel(), { once: true });
    const committed: AdaptCommitted[] = [];
    let last: AdaptProgress | undefined;
    let onStarted: (value: AdaptStarted) => void = () => {};
    let onFailed: (error: Error) => void = () => {};
    const started = new Promise<AdaptStarted>((resolve, reject) => ((onStarted = resolve), (onFailed = reject)));
    started.catch(() => {});
    this.result = new Promise<AdaptOutcome>((resolve, reject) => {
      call.on("data", (response: AdaptResponse) => {
        const { case: kind, value } = response.response;
        if (kind === "started") {
          this.started = true;
          onStarted(value);
        } else if (kind === "progress") {
          last = value;
          onProgress(value);
        } else if (kind === "committed") committed.push(value);
      });
      call.on("error", (error: ServiceError) => {
        this.failed = true;
        this.wake?.();
        onFailed(error);
        reject(error);
      });
      call.on("status", (s: StatusObject) => {
        if (s.code === status.OK) resolve({ committed, last });
      });
      const send = async (): Promise<void> => {
        call.write(create(AdaptRequestSchema, { request: { case: "config", value: config } }));
        const examples = plan(await started);
        for (const example of examples) {
          if (this.failed) return;
          const { id, weight, content } = example;
          if (!call.write(create(AdaptRequestSchema, { request: { case: "example", value: { id, weight, ...content } } }))) {
            await new Promise<void>((resume) => {
              this.wake = resume;
              call.once("drain", resume);
            });
          }
        }
        if (this.failed) return;
        call.write(create(AdaptRequestSchema, { request: { case: "commit", value: {} } }));
        call.end();
      };
      send().catch((error: unknown) => {
        if (this.failed) return;
        reject(error instanceof Error ? error : new Error(String(error)));
        call.cancel();
      });
    });
  }
}
