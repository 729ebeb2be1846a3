import { create } from "@bufbuild/protobuf";
import { once } from "node:events";
import { SqliteHeadStore } from "../../src/store/sqlite-store.js";
import { AdaptRequestSchema, type AdaptResponse } from "../../src/gen/bertd/v1/heads_pb.js";
import { toyExamples } from "../helpers/adapt-client.js";
import { startServer, type ServerProcess } from "../helpers/server-process.js";

export interface CrashOptions {
  readonly kills: number;
  readonly seed: number;
  readonly dataDir: string;
  /** Adapt streams writing at once (each on its own head). */
  readonly writers?: number;
  /** The kill comes at a uniformly random moment in [minMs, maxMs] after the writers start. */
  readonly minMs?: number;
  readonly maxMs?: number;
}

export interface CrashReport {
  readonly kills: number;
  /** Examples the server acknowledged as durable (progress.durable_examples), all checked after restarts. */
  readonly ackedExamples: number;
  /** Versions the server acknowledged (a `committed` message), all checked after restarts. */
  readonly ackedVersions: number;
  /** What the server acknowledged and the store lacked after a restart (empty = nothing lost). */
  readonly lost: string[];
  /** integrity_check results other than "ok". */
  readonly corrupt: string[];
  /** Milliseconds from restart to SERVING, per restart. */
  readonly restartMs: number[];
}

/** A seeded PRNG (mulberry32): each run's kill times are reproducible from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Acked {
  examples: Map<string, Set<string>>;
  versions: Map<string, Set<number>>;
}

const LABELS = ["sport", "food", "music"];

/** Streams examples (committing now and then) into one head until the server dies; records what was acked. */
async function writer(server: ServerProcess, head: string, prefix: string, random: () => number, acked: Acked, stop: AbortSignal): Promise<void> {
  const examples = acked.examples.get(head) ?? new Set<string>();
  const versions = acked.versions.get(head) ?? new Set<number>();
  acked.examples.set(head, examples);
  acked.versions.set(head, versions);
  const heads = server.heads();
  let stream = 0;
  while (!stop.aborted) {
    const call = heads.stream("adapt");
    const sent: string[] = [];
    const closed = new Promise<void>((resolve) => {
      call.on("error", () => resolve());
      call.on("end", () => resolve());
    });
    call.on("data", (message: AdaptResponse) => {
      const { response } = message;
      if (response.case === "progress") {
        const durable = Number(response.value.durableExamples);
        for (let i = 0; i < durable; i++) examples.add(sent[i]);
        if (durable > 0 && response.value.lastDurableId !== sent[durable - 1]) examples.add(`${response.value.lastDurableId} (reported last durable, not the ${durable}th sent)`);
      } else if (response.case === "committed") {
        versions.add(response.value.version);
      }
    });
    call.write(create(AdaptRequestSchema, { request: { case: "config", value: { head, labels: LABELS, progressEvery: 8, hyperparameters: { replayPasses: 1, seed: 1n } } } }));
    const count = 40 + Math.floor(random() * 200);
    const batch = toyExamples(count, LABELS, `${prefix}-s${stream++}`, Math.floor(random() * 1e6));
    for (let i = 0; i < batch.length && !stop.aborted; i++) {
      sent.push(batch[i].id);
      call.write(create(AdaptRequestSchema, { request: { case: "example", value: batch[i] } }));
      if (random() < 0.02) call.write(create(AdaptRequestSchema, { request: { case: "commit", value: {} } }));
      if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 5 + random() * 30));
    }
    call.end();
    await Promise.race([closed, once(stop, "abort")]);
  }
}

/** Checks the store as a restarting server opens it: integrity, every acked example and version. */
function verify(dataDir: string, acked: Acked, lost: string[], corrupt: string[]): Promise<void> {
  const store = new SqliteHeadStore(dataDir);
  return (async () => {
    try {
      const integrity = store.integrityCheck();
      if (integrity !== "ok") corrupt.push(integrity);
      for (const [head, ids] of acked.examples) {
        const logged = new Set((await store.examples(head)).map((e) => e.id));
        for (const id of ids) if (!logged.has(id)) lost.push(`${head}: example ${id}`);
      }
      for (const [head, numbers] of acked.versions) {
        const stored = new Set((await store.listVersions(head)).map((v) => v.version));
        for (const version of numbers) if (!stored.has(version)) lost.push(`${head}: version ${version}`);
        const record = await store.getHead(head);
        if (record && record.activeVersion > 0 && !stored.has(record.activeVersion)) lost.push(`${head}: active version ${record.activeVersion} is not stored`);
      }
    } finally {
      await store.close();
    }
  })();
}

/**
 * kill -9 the server at random moments while Adapt streams write, restart it on the same data dir,
 * and check that every acknowledged example and version survived and the file is sound.
 */
export async function crashLoop(options: CrashOptions): Promise<CrashReport> {
  const random = prng(options.seed);
  const acked: Acked = { examples: new Map(), versions: new Map() };
  const lost: string[] = [];
  const corrupt: string[] = [];
  const restartMs: number[] = [];
  const args = ["--data-dir", options.dataDir, "--no-warmup"];
  const [minMs, maxMs] = [options.minMs ?? 300, options.maxMs ?? 2500];
  for (let kill = 0; kill < options.kills; kill++) {
    const starting = performance.now();
    const server = await startServer(args, {}, { captureLogs: false });
    restartMs.push(performance.now() - starting);
    const stop = new AbortController();
    const writers = Array.from({ length: options.writers ?? 2 }, (_, w) => writer(server, `crash-${w}`, `k${kill}-w${w}`, random, acked, stop.signal));
    await new Promise((resolve) => setTimeout(resolve, minMs + random() * (maxMs - minMs)));
    server.process.kill("SIGKILL");
    await once(server.process, "exit");
    stop.abort();
    await Promise.all(writers);
    await server.stop();
    await verify(options.dataDir, acked, lost, corrupt);
  }
  const count = <T>(map: Map<string, Set<T>>): number => [...map.values()].reduce((n, s) => n + s.size, 0);
  return { kills: options.kills, ackedExamples: count(acked.examples), ackedVersions: count(acked.versions), lost, corrupt, restartMs };
}
