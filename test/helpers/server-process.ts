import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";
import { Heads } from "../../src/gen/bertd/v1/heads_pb.js";
import { ServiceClient, type ClientOptions } from "../../src/client/grpc-client.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  readonly port: number;
  readonly metricsPort: number;
  /** The plaintext health-only port (--health-port), when there is one. */
  readonly healthPort?: number;
  readonly address: string;
  readonly process: ChildProcess;
  /** Every JSON log line the server printed so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the first log line (already printed or to come) that matches; rejects after timeoutMs or when the server exits. */
  logLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  encoder(options?: ClientOptions): ServiceClient<typeof Encoder>;
  heads(options?: ClientOptions): ServiceClient<typeof Heads>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `src/main.ts` on a free loopback port and waits until it logs "serving". */
export interface StartOptions {
  /** Keep parsing log lines after start-up (tests read them); benchmarks turn this off. */
  readonly captureLogs?: boolean;
  /** Another checkout of bertd to run src/main.ts from (benchmarks compare against a baseline). */
  readonly root?: string;
  /** Resolve once the server listens ("listening; loading the model"), before its model has loaded. */
  readonly untilListening?: boolean;
  /** Options for node itself, before the script (benchmarks profile with --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

/** The seeded random model the tests serve unless they ask for another (tools/generator's default output). */
export const RANDOM_MODEL_DIR = join(ROOT, "models", "random-tiny");

export async function startServer(args: string[] = [], env: NodeJS.ProcessEnv = {}, options: StartOptions = {}): Promise<ServerProcess> {
  const given = (flag: string): boolean => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const defaults = given("--data-dir") ? [] : ["--data-dir", mkdtempSync(join(tmpdir(), "bertd-test-"))];
  if (!given("--metrics-port")) defaults.push("--metrics-port", "0");
  // The tests serve the seeded random 2 × 128 model (fast, generated on install); tests of the trained
  // default pass --model-dir models/default.
  if (!given("--model-dir") && env.BERTD_MODEL_DIR === undefined) defaults.push("--model-dir", RANDOM_MODEL_DIR);
  // Tests that are not about authentication run without it; security tests pass --auth (or BERTD_AUTH).
  if (!given("--auth") && env.BERTD_AUTH === undefined) defaults.push("--auth", "none");
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", "src/main.ts", "--host", "127.0.0.1", "--port", "0", ...defaults, ...args], {
    cwd: options.root ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const logWaiters = new Set<() => void>();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const clients: { close(): void }[] = [];
  let metricsPort = 0;
  let healthPort: number | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          for (const wake of logWaiters) wake();
          if (options.untilListening && entry.msg === "listening; loading the model") resolve(entry.port as number);
          if (entry.msg === "serving") {
            metricsPort = entry.metricsPort as number;
            healthPort = entry.healthPort as number | undefined;
            if (options.captureLogs === false) child.stdout.off("data", onData).resume();
            resolve(entry.port as number);
          }
        } catch {
          // not a log line
        }
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before serving: ${stderr}`)));
  });
  const address = `127.0.0.1:${port}`;
  return {
    port,
    metricsPort,
    healthPort,
    address,
    process: child,
    logs,
    logLine(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = logs.find(match);
          if (found) done(() => resolve(found));
          else if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error("the server exited before logging the line waited for")));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no such log line within ${timeoutMs} ms`))), timeoutMs);
        const onExit = (): void => check();
        const done = (settle: () => void): void => {
          clearTimeout(timer);
          logWaiters.delete(check);
          child.off("exit", onExit);
          settle();
        };
        logWaiters.add(check);
        child.on("exit", onExit);
        check();
      });
    },
    encoder(options) {
      const client = new ServiceClient(Encoder, address, options);
      clients.push(client);
      return client;
    },
    heads(options) {
      const client = new ServiceClient(Heads, address, options);
      clients.push(client);
      return client;
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill(signal);
        await exited;
      }
      for (const client of clients) client.close();
      return child.exitCode;
    },
  };
}
