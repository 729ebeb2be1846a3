import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc's utime and stime. */
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime + stime in seconds from a /proc stat line (the command name may hold spaces: fields count from its closing paren). */
function statSeconds(line: string): { name: string; seconds: number } {
  const close = line.lastIndexOf(")");
  const name = line.slice(line.indexOf("(") + 1, close);
  const fields = line.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15.
  return { name, seconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
}

/** CPU seconds a process has used so far, all its threads (live and exited) together. */
export function processCpuSeconds(pid: number): number {
  return statSeconds(readFileSync(`/proc/${pid}/stat`, "utf8")).seconds;
}

/** CPU seconds per live thread of a process, summed by thread name (main "node", V8's GC workers, ONNX Runtime's pool, …). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { name, seconds } = statSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
      // Node names neither its worker threads nor ONNX Runtime's pool: "node" is all threads but the main one.
      const key = Number(tid) === pid ? "main thread" : name === "node" ? "other threads" : name;
      byName.set(key, (byName.get(key) ?? 0) + seconds);
    } catch {
      // the thread exited
    }
  }
  return byName;
}

/** Per-name differences of two threadCpuSeconds readings. */
export function threadDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, seconds] of after) delta.set(name, seconds - (before.get(name) ?? 0));
  return delta;
}

export function median(values: readonly number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
