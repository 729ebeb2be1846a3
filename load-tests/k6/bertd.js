// k6 load test for bertd: the scenarios of ../scenarios.json, the same ones `npm run load` runs.
//   k6 run -e SCENARIO=embed-constant -e BERTD_ADDRESS=localhost:50051 load-tests/k6/bertd.js
// Environment: SCENARIO (default embed-constant), BERTD_ADDRESS, BERTD_API_KEY, BERTD_TLS=1 (TLS with
// the system's roots), DURATION (e.g. 10s: every workload lasts this long).
import grpc from "k6/net/grpc";
import exec from "k6/execution";
import { Rate, Trend } from "k6/metrics";
import { adaptHead, adaptMessages, classifyRequest, embedRequest, k6Options, parseDuration, scenario, teiEmbedRequest, teiEmbedStreamRequests, withDuration } from "../lib/scenarios.js";

const definitions = JSON.parse(open("../scenarios.json"));
const name = __ENV.SCENARIO || "embed-constant";
const selected = __ENV.DURATION ? withDuration(scenario(definitions, name), parseDuration(__ENV.DURATION)) : scenario(definitions, name);
const address = __ENV.BERTD_ADDRESS || "localhost:50051";
const params = __ENV.BERTD_API_KEY ? { metadata: { authorization: "Bearer " + __ENV.BERTD_API_KEY } } : {};

export const options = k6Options(selected);

// Every call's latency (a stream: open to end) and whether it failed, tagged with its scenario.
const latency = new Trend("bertd_latency", true);
const errors = new Rate("bertd_errors");

const client = new grpc.Client();
client.load(["../../proto"], "bertd/v1/encoder.proto", "bertd/v1/heads.proto", "tei/v1/tei.proto");
let connected = false;

function connect() {
  if (connected) return;
  client.connect(address, { plaintext: __ENV.BERTD_TLS !== "1" });
  connected = true;
}

function unary(method, request) {
  connect();
  const started = Date.now();
  const response = client.invoke(method, request, params);
  latency.add(Date.now() - started);
  errors.add(response.status !== grpc.StatusOK);
  return response;
}

function workload() {
  return selected.workloads[exec.scenario.name];
}

/** One Adapt stream; `done(ok)` runs when it ends. */
function adaptStream(head, count, vu, iteration, done) {
  connect();
  const started = Date.now();
  const stream = new grpc.Stream(client, "bertd.v1.Heads/Adapt", params);
  let committed = false;
  stream.on("data", (message) => {
    if (message.committed) committed = true;
  });
  stream.on("error", () => done(false, Date.now() - started));
  stream.on("end", () => done(committed, Date.now() - started));
  for (const message of adaptMessages(definitions, head, count, vu, iteration)) stream.write(message);
  stream.end();
}

export function setup() {
  if (!selected.setup) return;
  adaptStream(selected.setup.trainHead, selected.setup.examples, "setup", Date.now(), (ok) => {
    if (!ok) throw new Error("setup: the Adapt stream teaching " + selected.setup.trainHead + " did not commit");
  });
}

export function embed() {
  unary("bertd.v1.Encoder/Embed", embedRequest(definitions, workload(), exec.scenario.iterationInTest));
}

export function classify() {
  unary("bertd.v1.Encoder/Classify", classifyRequest(definitions, workload(), exec.scenario.iterationInTest));
}

export function adapt() {
  const spec = workload();
  adaptStream(adaptHead(spec, exec.vu.idInTest), spec.examplesPerStream, exec.vu.idInTest, exec.vu.iterationInScenario, (ok, ms) => {
    latency.add(ms);
    errors.add(!ok);
  });
}

// tei.v1 (Hugging Face TEI's API on bertd's port); load-tests/tei-embed.js is the same in TEI's own style.
export function teiEmbed() {
  unary("tei.v1.Embed/Embed", teiEmbedRequest(definitions, workload(), exec.scenario.iterationInTest));
}

/** One EmbedStream; OK when every message was answered. */
export function teiEmbedStream() {
  connect();
  const requests = teiEmbedStreamRequests(definitions, workload(), exec.scenario.iterationInTest);
  const started = Date.now();
  const stream = new grpc.Stream(client, "tei.v1.Embed/EmbedStream", params);
  let answered = 0;
  stream.on("data", () => answered++);
  stream.on("error", () => {
    latency.add(Date.now() - started);
    errors.add(true);
  });
  stream.on("end", () => {
    latency.add(Date.now() - started);
    errors.add(answered !== requests.length);
  });
  for (const request of requests) stream.write(request);
  stream.end();
}

export function teardown() {
  client.close();
}
