/** What a worker needs to apply the worker-exit test fault: the marker's token ids and a counter shared by all workers. */
export interface WorkerFaults {
  readonly marker: Int32Array;
  readonly exitsLeft: Int32Array;
}

/** True when this batch holds the marker and an exit is left (taking it). */
export function takeWorkerExit(faults: WorkerFaults | undefined, ids: Int32Array): boolean {
  if (!faults || !contains(ids, faults.marker)) return false;
  return Atomics.sub(faults.exitsLeft, 0, 1) > 0;
}

function contains(haystack: Int32Array, needle: Int32Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
