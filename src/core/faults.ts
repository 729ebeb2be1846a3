/**
 * Fault injection for the reliability tests, OFF unless the BERTD_TEST_FAULTS environment variable
 * is set (never in production; it is deliberately not a server option). Comma-separated:
 *   worker-exit=N        the first N inference batches holding FAULT_TEXT kill the worker thread
 *                        that runs them (process.exit inside the worker), across all workers
 *   store-max-pages=N    the head store may grow by N SQLite pages only, then writes fail with
 *                        SQLITE_FULL (SQLite's max_page_count)
 */
export const FAULT_TEXT = "bertd fault injection worker exit";

export interface TestFaults {
  readonly workerExits: number;
  readonly storeMaxPages: number;
}

export function testFaults(env: NodeJS.ProcessEnv = process.env): TestFaults | undefined {
  const spec = env.BERTD_TEST_FAULTS;
  if (!spec) return undefined;
  const faults = { workerExits: 0, storeMaxPages: 0 };
  for (const part of spec.split(",")) {
    const [name, value] = part.split("=");
    const count = Number(value);
    if (!Number.isInteger(count) || count < 0) throw new Error(`BERTD_TEST_FAULTS: ${part} needs a count ≥ 0`);
    if (name === "worker-exit") faults.workerExits = count;
    else if (name === "store-max-pages") faults.storeMaxPages = count;
    else throw new Error(`BERTD_TEST_FAULTS: unknown fault "${name}"`);
  }
  return faults;
}

/** What a worker needs to apply worker-exit: the marker's token ids and a counter shared by all workers. */
export interface WorkerFaults {
  readonly marker: Int32Array;
  readonly exitsLeft: Int32Array;
}

export function workerFaults(faults: TestFaults | undefined, encode: (text: string) => Int32Array): WorkerFaults | undefined {
  if (!faults?.workerExits) return undefined;
  const exitsLeft = new Int32Array(new SharedArrayBuffer(4));
  exitsLeft[0] = faults.workerExits;
  return { marker: encode(FAULT_TEXT), exitsLeft };
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
