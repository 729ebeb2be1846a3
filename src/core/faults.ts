import type { WorkerFaults } from "../backends/onnx/worker-faults.js";

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

/** The worker-exit fault as the inference workers apply it; undefined when it is off. */
export function workerFaults(faults: TestFaults | undefined, encode: (text: string) => Int32Array): WorkerFaults | undefined {
  if (!faults?.workerExits) return undefined;
  const exitsLeft = new Int32Array(new SharedArrayBuffer(4));
  exitsLeft[0] = faults.workerExits;
  return { marker: encode(FAULT_TEXT), exitsLeft };
}
