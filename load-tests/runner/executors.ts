import { parseDuration, workloadSeconds, type Workload } from "../lib/scenarios.js";
import type { WorkloadStats } from "./stats.js";

/** One call: resolves with its final gRPC status name ("OK", "UNAVAILABLE", …); never rejects. */
export type Call = (vu: number, iteration: number) => Promise<string>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Arrivals per second at `t` seconds into the workload. */
function rateAt(workload: Workload, t: number): number {
  const perSecond = 1 / parseDuration(workload.timeUnit ?? "1s");
  if (workload.executor === "constant-arrival-rate") return (workload.rate ?? 0) * perSecond;
  let from = workload.startRate ?? 0;
  let start = 0;
  for (const stage of workload.stages ?? []) {
    const length = parseDuration(stage.duration);
    if (t < start + length) return (from + ((stage.target - from) * (t - start)) / length) * perSecond;
    from = stage.target;
    start += length;
  }
  return from * perSecond;
}

/** Send times (seconds from the start) of an arrival-rate workload, integrating its rate in 1 ms steps. */
export function arrivalSchedule(workload: Workload): number[] {
  const total = workloadSeconds(workload);
  const times: number[] = [];
  let due = 0;
  for (let t = 0; t < total; t += 0.001) {
    due += rateAt(workload, t) * 0.001;
    while (due >= 1) {
      times.push(t);
      due -= 1;
    }
  }
  return times;
}

/**
 * Open loop: calls start at their scheduled times whatever the server does, and latency runs from the
 * scheduled time, so a stalled server (or a stalled runner) shows as latency instead of hiding as
 * fewer requests (coordinated omission). At most maxVUs calls are in flight; an arrival beyond that is
 * dropped and counted, as k6 does.
 */
export async function openLoop(workload: Workload, call: Call, stats: WorkloadStats): Promise<void> {
  const schedule = arrivalSchedule(workload);
  const maxInFlight = workload.maxVUs ?? workload.preAllocatedVUs ?? 100;
  const pending = new Set<Promise<void>>();
  // Like k6's VUs: a client id is reused, never by two calls at once.
  const idle: number[] = [];
  let clients = 0;
  const start = performance.now();
  for (let i = 0; i < schedule.length; i++) {
    const dueAt = start + schedule[i] * 1000;
    const wait = dueAt - performance.now();
    if (wait > 1) await sleep(wait);
    stats.offered(schedule[i]);
    if (pending.size >= maxInFlight) {
      stats.drop();
      continue;
    }
    const vu = idle.pop() ?? clients++;
    const done = call(vu, i).then((code) => {
      stats.record(performance.now() - dueAt, code, schedule[i]);
      idle.push(vu);
    });
    pending.add(done);
    void done.finally(() => pending.delete(done));
  }
  await Promise.all(pending);
}

/** Closed loop: `vus` clients, each sending its next call when the previous one returns. */
export async function closedLoop(workload: Workload, call: Call, stats: WorkloadStats): Promise<void> {
  const end = performance.now() + workloadSeconds(workload) * 1000;
  const client = async (vu: number): Promise<void> => {
    for (let iteration = 0; performance.now() < end; iteration++) {
      const started = performance.now();
      const code = await call(vu, iteration);
      stats.record(performance.now() - started, code);
    }
  };
  await Promise.all(Array.from({ length: workload.vus ?? 1 }, (_, vu) => client(vu)));
}
