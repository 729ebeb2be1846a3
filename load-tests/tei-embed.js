// tei.v1.Embed load test in the style of Hugging Face text-embeddings-inference's own load tests
// (its load_tests/load_grpc.js and load_grpc_stream.js), pointed at bertd: a TEI client that does not
// know it talks to bertd. It reads TEI's timing headers (unary) and Metadata (stream) into Trends.
//   k6 run -e HOST=localhost:50051 load-tests/tei-embed.js                 # unary Embed, constant rate
//   k6 run -e HOST=localhost:50051 -e MODE=stream load-tests/tei-embed.js  # one EmbedStream per iteration
// Environment: HOST (default 127.0.0.1:50051), MODE (unary | stream), RATE (calls/s, default 100),
// DURATION (default 1m), VUS (default 64), MESSAGES (per stream, default 1000), BERTD_API_KEY.
// The same calls run from scenarios.json (tei-embed, tei-embed-stream) with k6/bertd.js or `npm run load`.
import { check } from "k6";
import grpc from "k6/net/grpc";
import { Counter, Trend } from "k6/metrics";

const host = __ENV.HOST || "127.0.0.1:50051";
const mode = __ENV.MODE || "unary";
const params = __ENV.BERTD_API_KEY ? { metadata: { authorization: "Bearer " + __ENV.BERTD_API_KEY } } : {};

const totalTime = new Trend("total_time", true);
const tokenizationTime = new Trend("tokenization_time", true);
const queueTime = new Trend("queue_time", true);
const inferenceTime = new Trend("inference_time", true);
const streamMessages = new Counter("stream_messages");

// One long input, as TEI's tests use (theirs is a ~2,000-character legal text; ours a package description).
export const inputs =
  "A multi-protocol instant messaging client with plugins for many networks and a plain terminal interface, " +
  "which keeps logs of every conversation, supports end-to-end encryption where the network allows it, " +
  "and can be scripted; it runs on small machines and over slow links, and its configuration is a text file.";

export const options =
  mode === "stream"
    ? {
        scenarios: {
          throughput: { executor: "constant-vus", vus: Number(__ENV.VUS || 4), duration: __ENV.DURATION || "1m", gracefulStop: "1s" },
        },
      }
    : {
        thresholds: { checks: ["rate==1"] },
        scenarios: {
          load_test: {
            executor: "constant-arrival-rate",
            duration: __ENV.DURATION || "1m",
            preAllocatedVUs: Number(__ENV.VUS || 64),
            rate: Number(__ENV.RATE || 100),
            timeUnit: "1s",
            gracefulStop: "1s",
          },
        },
      };

const client = new grpc.Client();
client.load(["../proto"], "tei/v1/tei.proto");
let connected = false;

function connect() {
  if (connected) return;
  client.connect(host, { plaintext: true });
  connected = true;
}

function unary() {
  const res = client.invoke("tei.v1.Embed/Embed", { inputs: inputs, truncate: true }, params);
  check(res, { "status is OK": (r) => r && r.status === grpc.StatusOK });
  if (res.status === grpc.StatusOK && res.headers && res.headers["x-total-time"] !== undefined) {
    totalTime.add(Number(res.headers["x-total-time"]));
    tokenizationTime.add(Number(res.headers["x-tokenization-time"]));
    queueTime.add(Number(res.headers["x-queue-time"]));
    inferenceTime.add(Number(res.headers["x-inference-time"]));
  } else if (res.status !== grpc.StatusOK) {
    console.log(res.error);
  }
}

function stream() {
  const messages = Number(__ENV.MESSAGES || 1000);
  const s = new grpc.Stream(client, "tei.v1.Embed/EmbedStream", params);
  s.on("data", (res) => {
    streamMessages.add(1);
    if (!res.metadata) return;
    totalTime.add(Number(res.metadata.totalTimeNs) / 1e6);
    tokenizationTime.add(Number(res.metadata.tokenizationTimeNs) / 1e6);
    queueTime.add(Number(res.metadata.queueTimeNs) / 1e6);
    inferenceTime.add(Number(res.metadata.inferenceTimeNs) / 1e6);
  });
  s.on("error", (err) => console.log("Stream Error: " + JSON.stringify(err)));
  for (let i = 0; i < messages; i++) s.write({ inputs: inputs, truncate: true });
  s.end();
}

export default function () {
  connect();
  if (mode === "stream") stream();
  else unary();
}
