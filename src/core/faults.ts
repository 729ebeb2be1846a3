import type { WorkerFaults } from "../backends/onnx/worker-faults.js";

/**
 * Fault injection for the reliability tests, OFF unless the BERTD_TEST_FAULTS environment variable
 * is set (never in production; it is deliberately not a server option). Comma-separated:
 *   worker-exit=N        the first N inference batches holding FAULT_TEXT kill the worker thread
 *                        that runs them (process.exit inside the worker), across all workers
 *   store-max-pages=N    the head store may grow by N SQLite pages only, then writes fail with
 *                        SQLITE_FULL (SQLite's max_page_count)
 *   store-fail=KIND      from the first logged example whose text holds STORE_FAULT_TEXT on, every
 *                        write of the SQLite store fails: readonly (SQLite's query_only, a real
 *                        SQLITE_READONLY) or ioerr (an SQLITE_IOERR_WRITE raised at the write)
 *   start-delay-ms=N     the server waits N ms between listening and loading the model
 */
export const FAULT_TEXT = "bertd fault injection worker exit";
export const STORE_FAULT_TEXT = "bertd fault injection store failure";

export type StoreFailure = "readonly" | "ioerr";

export interface TestFaults {
  readonly workerExits: number;
  readonly storeMaxPages: number;
  readonly storeFail?: StoreFailure;
  readonly startDelayMs: number;
}

export function testFaults(env: NodeJS.ProcessEnv = process.env): TestFaults | undefined {
  const spec = env.BERTD_TEST_FAULTS;
  if (!spec) return undefined;
  const faults: { workerExits: number; storeMaxPages: number; storeFail?: StoreFailure; startDelayMs: number } = { workerExits: 0, storeMaxPages: 0, startDelayMs: 0 };
  for (const part of spec.split(",")) {
    const [name, value] = part.split("=");
    if (name === "store-fail") {
      if (value !== "readonly" && value !== "ioerr") throw new Error(`BERTD_TEST_FAULTS: ${part}: store-fail is readonly or ioerr`);
      faults.storeFail = value;
      continue;
    }
    const count = Number(value);
    if (!Number.isInteger(count) || count < 0) throw new Error(`BERTD_TEST_FAULTS: ${part} needs a count ≥ 0`);
    if (name === "worker-exit") faults.workerExits = count;
    else if (name === "store-max-pages") faults.storeMaxPages = count;
    else if (name === "start-delay-ms") faults.startDelayMs = count;
    else throw new Error(`BERTD_TEST_FAULTS: unknown fault "${name}"`);
  }
  return faults;
}

/** The worker-exit fault as the inference workers apply it; undefined when it is off. */
export function workerFaults(faults: TestFaults | undefined, encode: (text: string) => Int32Array): WorkerFaults | undefined {
  if (!faults?.workerExits) return undefined;
  const exitsLeft = new Int32Array(new SharedArrayBuffer(4));
  exitsLeft[0] = faults.workerExits;
  return { marker: encode(FAULT_TEXT), exitsLeft };
}
