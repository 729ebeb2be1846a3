/**
 * npm run bench:replicas — how long a commit on one replica takes to be served by another.
 * Two bertd processes share a throwaway PostgreSQL database. For each of N commits on replica A
 * (a small Adapt stream with promotion ALWAYS), the clock starts when A's client receives
 * `committed` and stops when a Classify on replica B first answers with that version (B is polled
 * back to back, so each sample includes one Classify round trip). The ceiling, measured in the same
 * run: PostgreSQL's own NOTIFY → LISTEN delivery between two plain connections, plus one Classify
 * round trip on B.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { Promotion } from "../src/gen/bertd/v1/heads_pb.js";
import { adapt, toyExamples } from "../test/helpers/adapt-client.js";
import { throwawayDatabase } from "../test/helpers/postgres.js";
import { startServer } from "../test/helpers/server-process.js";
import { Latencies } from "./lib/latency.js";

const { values: args } = parseArgs({ options: { commits: { type: "string", default: "50" } } });
const commits = Number(args.commits);
const db = await throwawayDatabase();
const common = ["--store", db.url, "--no-warmup", "--store-poll-interval-ms", "60000"];
const [a, b] = await Promise.all([startServer(common, {}, { captureLogs: false }), startServer(common, {}, { captureLogs: false })]);
const classifyB = b.encoder().unary("classify");
const ms = (from: number): number => performance.now() - from;

try {
  // Ceiling 1: NOTIFY on one connection → notification on another.
  const listener = new pg.Client({ connectionString: db.url });
  const notifier = new pg.Client({ connectionString: db.url });
  await Promise.all([listener.connect(), notifier.connect()]);
  await listener.query("LISTEN bench");
  const notify = new Latencies();
  for (let i = 0; i < commits; i++) {
    const received = new Promise<void>((resolve) => listener.once("notification", () => resolve()));
    const started = performance.now();
    await notifier.query("SELECT pg_notify('bench', $1)", [String(i)]);
    await received;
    notify.add(ms(started));
  }
  await Promise.all([listener.end(), notifier.end()]);

  // Our propagation.
  const propagation = new Latencies();
  const classifyRtt = new Latencies();
  for (let i = 0; i < commits; i++) {
    const result = await adapt(
      a.heads(),
      { head: "bench", labels: ["sport", "food"], promotion: Promotion.ALWAYS, hyperparameters: { replayPasses: 0, holdoutFraction: 0 } },
      toyExamples(4, ["sport", "food"], `c${i}`),
    );
    const version = result.committed[0].version;
    const started = performance.now();
    for (;;) {
      const asked = performance.now();
      const served = await classifyB({ head: "bench", inputs: ["goal"] }).then(
        (r) => r.headVersion,
        () => 0,
      );
      if (served >= version) {
        classifyRtt.add(ms(asked));
        break;
      }
    }
    propagation.add(ms(started));
  }

  // Ceiling 2: the probe itself, once B is current.
  for (let i = 0; i < commits; i++) {
    const asked = performance.now();
    await classifyB({ head: "bench", inputs: ["goal"] });
    classifyRtt.add(ms(asked));
  }

  const ours = propagation.summary();
  const n = notify.summary();
  const rtt = classifyRtt.summary();
  const ceiling = { p50: n.p50 + rtt.p50, p99: n.p99 + rtt.p99 };
  const f = (x: number): string => x.toFixed(1).padStart(7);
  console.log(`commit on replica A → served by replica B, ${commits} commits (ms)`);
  console.log(`                                      p50      p99`);
  console.log(`PostgreSQL NOTIFY → LISTEN       ${f(n.p50)}  ${f(n.p99)}`);
  console.log(`Classify round trip on B         ${f(rtt.p50)}  ${f(rtt.p99)}`);
  console.log(`ceiling (sum)                    ${f(ceiling.p50)}  ${f(ceiling.p99)}`);
  console.log(`bertd propagation                ${f(ours.p50)}  ${f(ours.p99)}`);
  console.log(`ratio bertd / ceiling            ${(ours.p50 / ceiling.p50).toFixed(2).padStart(7)}  ${(ours.p99 / ceiling.p99).toFixed(2).padStart(7)}`);
} finally {
  await Promise.all([a.stop(), b.stop()]);
  await db.drop();
}
