import * as hdr from "hdr-histogram-js";
import type { Thresholds } from "../lib/scenarios.js";

function histogram(): hdr.Histogram {
  // Microseconds from 1 µs to 10 min, 3 significant digits.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

interface Window {
  offered: number;
  ok: number;
  readonly latency: hdr.Histogram;
}

export interface WorkloadSummary {
  readonly workload: string;
  readonly calls: number;
  readonly ok: number;
  readonly dropped: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errorRate: number;
  /** Calls by final gRPC status name (OK included). */
  readonly codes: Record<string, number>;
  /** Open loop only: per time slice, what was offered and what came back (by scheduled send time). */
  readonly windows?: { startS: number; offeredPerS: number; okPerS: number; p95Ms: number }[];
  /** The highest offered rate the server still kept up with (ramping arrival only), and the p95 bound used. */
  readonly kneePerS?: number;
  readonly kneeP95Ms?: number;
}

/** Latency (HDR histogram), status codes and, for arrival-rate workloads, time slices. */
export class WorkloadStats {
  private readonly latency = histogram();
  private readonly codes = new Map<string, number>();
  private readonly windows: Window[] = [];
  private dropped = 0;

  constructor(
    readonly workload: string,
    private readonly windowSeconds = 0,
  ) {}

  /** One finished call; `scheduledS` is when (seconds into the run) an open-loop call was due. */
  record(latencyMs: number, code: string, scheduledS?: number): void {
    const micros = Math.max(1, Math.round(latencyMs * 1000));
    this.latency.recordValue(micros);
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    if (scheduledS !== undefined && this.windowSeconds > 0) {
      const window = this.window(scheduledS);
      window.latency.recordValue(micros);
      if (code === "OK") window.ok++;
    }
  }

  offered(scheduledS: number): void {
    if (this.windowSeconds > 0) this.window(scheduledS).offered++;
  }

  /** An arrival that found every allowed client busy (k6 counts these as dropped_iterations). */
  drop(): void {
    this.dropped++;
  }

  summary(seconds: number, p95LimitMs?: number): WorkloadSummary {
    const calls = this.latency.totalCount;
    const ok = this.codes.get("OK") ?? 0;
    const ms = (percentile: number): number => this.latency.getValueAtPercentile(percentile) / 1000;
    const windows = this.windowSeconds > 0 ? this.windows.map((w, i) => ({
      startS: i * this.windowSeconds,
      offeredPerS: w.offered / this.windowSeconds,
      okPerS: w.ok / this.windowSeconds,
      p95Ms: w.latency.getValueAtPercentile(95) / 1000,
    })) : undefined;
    return {
      workload: this.workload,
      calls,
      ok,
      dropped: this.dropped,
      seconds,
      throughput: ok / seconds,
      p50Ms: ms(50),
      p95Ms: ms(95),
      p99Ms: ms(99),
      maxMs: this.latency.maxValue / 1000,
      errorRate: calls === 0 ? 0 : (calls - ok) / calls,
      codes: Object.fromEntries(this.codes),
      windows,
      kneePerS: windows && knee(windows, p95LimitMs),
      kneeP95Ms: windows && p95LimitMs,
    };
  }

  private window(scheduledS: number): Window {
    const index = Math.floor(scheduledS / this.windowSeconds);
    while (this.windows.length <= index) this.windows.push({ offered: 0, ok: 0, latency: histogram() });
    return this.windows[index];
  }
}

/** The last slice before the server fell behind (under 90% of the offered rate answered OK) or p95 passed the limit. */
function knee(windows: NonNullable<WorkloadSummary["windows"]>, p95LimitMs = Infinity): number | undefined {
  let best: number | undefined;
  for (const w of windows) {
    if (w.offeredPerS === 0) continue;
    if (w.okPerS < 0.9 * w.offeredPerS || w.p95Ms > p95LimitMs) break;
    best = w.offeredPerS;
  }
  return best;
}

export interface ThresholdResult {
  readonly workload: string;
  readonly check: string;
  readonly passed: boolean;
}

export function checkThresholds(summary: WorkloadSummary, limits: Thresholds | undefined): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  if (limits?.p95Ms !== undefined) {
    results.push({ workload: summary.workload, check: `p95 ${summary.p95Ms.toFixed(1)} ms < ${limits.p95Ms} ms`, passed: summary.calls > 0 && summary.p95Ms < limits.p95Ms });
  }
  if (limits?.maxErrorRate !== undefined) {
    results.push({
      workload: summary.workload,
      check: `error rate ${(summary.errorRate * 100).toFixed(2)}% ≤ ${(limits.maxErrorRate * 100).toFixed(2)}%`,
      passed: summary.calls > 0 && summary.errorRate <= limits.maxErrorRate,
    });
  }
  return results;
}
