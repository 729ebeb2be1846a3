import { status } from "@grpc/grpc-js";
import type { ServerProcess } from "../helpers/server-process.js";
import { closedLoopRps, inputs, percentile, rssMb, sampleRss, timedEmbed, type CallOutcome } from "./load.js";

export interface OverloadOptions {
  /** Offered load as a multiple of the measured capacity. */
  readonly factor: number;
  readonly seconds: number;
  /** Inputs per Embed call. */
  readonly perCall: number;
  /** Capacity to assume instead of measuring it (calls/s). */
  readonly capacityRps?: number;
}

export interface OverloadReport {
  readonly capacityRps: number;
  readonly offeredRps: number;
  readonly sent: number;
  readonly ok: number;
  readonly rejected: number;
  /** Status name → count, for anything but OK and RESOURCE_EXHAUSTED. */
  readonly other: Record<string, number>;
  readonly okP50Ms: number;
  readonly okP99Ms: number;
  readonly okMaxMs: number;
  readonly rejectP99Ms: number;
  /** The same, as the server logged them (handler start to status): without client and network queueing. */
  readonly serverOkP99Ms: number;
  readonly serverRejectP99Ms: number;
  readonly rssBeforeMb: number;
  readonly rssPeakMb: number;
  readonly rssAfterMb: number;
  /** Closed-loop calls/s right after the burst, as a fraction of capacity. */
  readonly recovery: number;
}

/** An open-loop burst of Embed calls at `factor` × capacity, then a closed-loop recovery check. */
export async function overloadBurst(server: ServerProcess, options: OverloadOptions): Promise<OverloadReport> {
  const pid = server.process.pid!;
  const capacityRps = options.capacityRps ?? (await closedLoopRps(server, 3, 8, options.perCall));
  const rssBeforeMb = rssMb(pid);
  const offeredRps = capacityRps * options.factor;
  const loggedBefore = server.logs.length;
  const rss = sampleRss(pid, 100);
  const calls: Promise<CallOutcome>[] = [];
  const started = performance.now();
  let salt = 1e6;
  // Open loop: calls go out on schedule whatever the server answers, as independent clients would send them.
  while (performance.now() - started < options.seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * offeredRps);
    while (calls.length < due) calls.push(timedEmbed(server, inputs(options.perCall, 24, salt++)));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const outcomes = await Promise.all(calls);
  rss.stop();
  const ok = outcomes.filter((o) => o.code === status.OK);
  const rejected = outcomes.filter((o) => o.code === status.RESOURCE_EXHAUSTED);
  const other: Record<string, number> = {};
  for (const o of outcomes) if (o.code !== status.OK && o.code !== status.RESOURCE_EXHAUSTED) other[status[o.code]] = (other[status[o.code]] ?? 0) + 1;
  const embedLines = (): Record<string, unknown>[] => server.logs.slice(loggedBefore).filter((line) => line.msg === "call" && line.method === "/bertd.v1.Encoder/Embed");
  // Call lines are buffered for up to 100 ms (src/telemetry/logger.ts): wait for the last ones.
  for (let waited = 0; embedLines().length < outcomes.length && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  const logged = embedLines();
  const serverMs = (code: string): number[] => logged.filter((line) => line.status === code).map((line) => line.durationMs as number);
  const recoveredRps = await closedLoopRps(server, 2, 8, options.perCall);
  return {
    capacityRps,
    offeredRps,
    sent: outcomes.length,
    ok: ok.length,
    rejected: rejected.length,
    other,
    okP50Ms: percentile(ok.map((o) => o.ms), 50),
    okP99Ms: percentile(ok.map((o) => o.ms), 99),
    okMaxMs: Math.max(...ok.map((o) => o.ms)),
    rejectP99Ms: percentile(rejected.map((o) => o.ms), 99),
    serverOkP99Ms: percentile(serverMs("OK"), 99),
    serverRejectP99Ms: percentile(serverMs("RESOURCE_EXHAUSTED"), 99),
    rssBeforeMb,
    rssPeakMb: Math.max(...rss.samples.map((s) => s.mb)),
    rssAfterMb: rssMb(pid),
    recovery: recoveredRps / capacityRps,
  };
}
