import { register } from "node:module";

/**
 * k6's built-in modules, stubbed so a k6 script runs in Node: each call is recorded for a test to
 * check (which RPCs, which messages, which metrics). Importing a k6 module not listed here fails.
 */
const EXPORTS: Record<string, string[]> = {
  k6: ["check", "sleep", "group", "fail"],
  "k6/net/grpc": ["Client", "Stream", "StatusOK"],
  "k6/metrics": ["Trend", "Rate", "Counter", "Gauge"],
  "k6/execution": [],
};

const LOADER = `
const EXPORTS = ${JSON.stringify(EXPORTS)};
export async function resolve(specifier, context, next) {
  if (Object.hasOwn(EXPORTS, specifier)) return { url: "k6-stub:" + specifier, shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.startsWith("k6-stub:")) return next(url, context);
  const name = url.slice("k6-stub:".length);
  const lines = ["const m = globalThis.__k6stub[" + JSON.stringify(name) + "];", "export default m.default;"];
  for (const n of EXPORTS[name]) lines.push("export const " + n + " = m.default." + n + ";");
  return { format: "module", source: lines.join("\\n"), shortCircuit: true };
}`;

export interface Recorded {
  loaded: { importPaths: string[]; files: string[] }[];
  connects: { address: string; params: Record<string, unknown> }[];
  invokes: { method: string; request: unknown; params: unknown }[];
  streams: { method: string; params: unknown; written: unknown[] }[];
  metrics: Map<string, { type: string; values: unknown[] }>;
}

export interface Execution {
  scenario: { name: string; iterationInTest: number };
  vu: { idInTest: number; iterationInScenario: number };
}

export function installK6Stubs(): { recorded: Recorded; execution: Execution } {
  const recorded: Recorded = { loaded: [], connects: [], invokes: [], streams: [], metrics: new Map() };
  const execution: Execution = { scenario: { name: "", iterationInTest: 0 }, vu: { idInTest: 1, iterationInScenario: 0 } };

  class Client {
    load(importPaths: string[], ...files: string[]): void {
      recorded.loaded.push({ importPaths, files });
    }
    connect(address: string, params: Record<string, unknown> = {}): void {
      recorded.connects.push({ address, params });
    }
    invoke(method: string, request: unknown, params: unknown): { status: number; message: unknown } {
      recorded.invokes.push({ method, request, params });
      return { status: 0, message: {} };
    }
    close(): void {}
  }

  /** Answers like a server that commits: on end(), one `committed` message, then end. */
  class Stream {
    private readonly handlers = new Map<string, (value?: unknown) => void>();
    private readonly record: Recorded["streams"][number];
    constructor(_client: Client, method: string, params: unknown) {
      this.record = { method, params, written: [] };
      recorded.streams.push(this.record);
    }
    on(event: string, handler: (value?: unknown) => void): void {
      this.handlers.set(event, handler);
    }
    write(message: unknown): void {
      this.record.written.push(message);
    }
    end(): void {
      this.handlers.get("data")?.({ committed: { version: 1, promoted: true } });
      this.handlers.get("end")?.();
    }
  }

  const metric = (type: string) =>
    class {
      private readonly values: unknown[] = [];
      constructor(name: string) {
        recorded.metrics.set(name, { type, values: this.values });
      }
      add(value: unknown): void {
        this.values.push(value);
      }
    };

  (globalThis as Record<string, unknown>).__k6stub = {
    k6: { default: { check: () => true, sleep: () => {}, group: (_: string, fn: () => void) => fn(), fail: (m: string) => { throw new Error(m); } } },
    "k6/net/grpc": { default: { Client, Stream, StatusOK: 0 } },
    "k6/metrics": { default: { Trend: metric("trend"), Rate: metric("rate"), Counter: metric("counter"), Gauge: metric("gauge") } },
    "k6/execution": { default: execution },
  };
  register(`data:text/javascript,${encodeURIComponent(LOADER)}`);
  return { recorded, execution };
}
