// What k6 (load-tests/k6/bertd.js) and the Node runner (load-tests/runner) share: reading
// scenarios.json, the k6 options it stands for, and the exact messages each call sends.
// Plain ES2017 without imports, so k6's JavaScript runtime and Node both load it.

var EXECUTOR_FIELDS = {
  "constant-arrival-rate": ["rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"],
  "ramping-arrival-rate": ["startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"],
  "constant-vus": ["vus", "duration"],
};
var CALLS = ["embed", "classify", "adapt", "teiEmbed", "teiEmbedStream"];

/** "30s", "2m", "1m30s", "500ms" → seconds. */
export function parseDuration(text) {
  var match = /^(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/.exec(String(text));
  if (!match || text === "") throw new Error('bad duration "' + text + '" (use e.g. 30s, 2m, 500ms)');
  return Number(match[1] || 0) * 60 + Number(match[2] || 0) + Number(match[3] || 0) / 1000;
}

function formatSeconds(seconds) {
  return Math.round(seconds * 1000) + "ms";
}

/** The named scenario, checked; throws naming what is wrong. */
export function scenario(definitions, name) {
  var found = definitions.scenarios[name];
  if (!found) throw new Error('unknown scenario "' + name + '"; known: ' + Object.keys(definitions.scenarios).join(", "));
  Object.keys(found.workloads).forEach(function (key) {
    var workload = found.workloads[key];
    if (CALLS.indexOf(workload.call) === -1) throw new Error(name + "." + key + ": call must be one of " + CALLS.join(", "));
    if (!EXECUTOR_FIELDS[workload.executor]) throw new Error(name + "." + key + ": executor must be one of " + Object.keys(EXECUTOR_FIELDS).join(", "));
  });
  Object.keys(found.thresholds || {}).forEach(function (key) {
    if (!found.workloads[key]) throw new Error(name + ": threshold for unknown workload " + key);
  });
  return found;
}

/** Seconds a workload runs: its duration, or the sum of its stages. */
export function workloadSeconds(workload) {
  if (workload.stages) return workload.stages.reduce(function (sum, stage) { return sum + parseDuration(stage.duration); }, 0);
  return parseDuration(workload.duration);
}

/** A copy of the scenario whose workloads all last `seconds` (ramp stages scaled in proportion). */
export function withDuration(found, seconds) {
  var copy = JSON.parse(JSON.stringify(found));
  Object.keys(copy.workloads).forEach(function (key) {
    var workload = copy.workloads[key];
    if (workload.stages) {
      var scale = seconds / workloadSeconds(workload);
      workload.stages = workload.stages.map(function (stage) {
        return { target: stage.target, duration: formatSeconds(parseDuration(stage.duration) * scale) };
      });
    } else {
      workload.duration = formatSeconds(seconds);
    }
  });
  return copy;
}

/** k6's `options`: one k6 scenario per workload (exec = the call), thresholds on our two metrics. */
export function k6Options(found) {
  var scenarios = {};
  var thresholds = {};
  Object.keys(found.workloads).forEach(function (key) {
    var workload = found.workloads[key];
    var k6 = { executor: workload.executor, exec: workload.call };
    EXECUTOR_FIELDS[workload.executor].forEach(function (field) {
      if (workload[field] !== undefined) k6[field] = workload[field];
    });
    if (workload.executor !== "constant-vus" && k6.timeUnit === undefined) k6.timeUnit = "1s";
    scenarios[key] = k6;
    var limits = (found.thresholds || {})[key];
    if (limits && limits.p95Ms !== undefined) thresholds["bertd_latency{scenario:" + key + "}"] = ["p(95)<" + limits.p95Ms];
    if (limits && limits.maxErrorRate !== undefined) thresholds["bertd_errors{scenario:" + key + "}"] = ["rate<=" + limits.maxErrorRate];
  });
  return { scenarios: scenarios, thresholds: thresholds };
}

function inputs(definitions, count, iteration) {
  var corpus = definitions.corpus;
  var picked = [];
  for (var i = 0; i < count; i++) picked.push(corpus[(iteration * count + i) % corpus.length]);
  return picked;
}

/** bertd.v1.EmbedRequest as protobuf JSON. */
export function embedRequest(definitions, workload, iteration) {
  return { inputs: inputs(definitions, workload.inputsPerCall || 1, iteration), normalize: true };
}

/** tei.v1.EmbedRequest as protobuf JSON: one input, truncated as TEI's load tests ask. */
export function teiEmbedRequest(definitions, workload, iteration) {
  return { inputs: inputs(definitions, 1, iteration)[0], truncate: true };
}

/** The tei.v1.EmbedRequests one EmbedStream sends. */
export function teiEmbedStreamRequests(definitions, workload, iteration) {
  var count = workload.messagesPerStream || 64;
  var out = [];
  for (var i = 0; i < count; i++) out.push(teiEmbedRequest(definitions, workload, iteration * count + i));
  return out;
}

/** bertd.v1.ClassifyRequest as protobuf JSON. */
export function classifyRequest(definitions, workload, iteration) {
  return { head: workload.head, inputs: inputs(definitions, workload.inputsPerCall || 1, iteration), topK: 1 };
}

/** Labelled examples built from the topics' words; ids unique per (prefix, index). */
export function examples(definitions, count, prefix) {
  var labels = Object.keys(definitions.topics);
  var out = [];
  for (var i = 0; i < count; i++) {
    var label = labels[i % labels.length];
    var words = definitions.topics[label];
    var text = [0, 1, 2, 3].map(function (k) { return words[(i * 3 + k * 5) % words.length]; }).join(" ");
    out.push({ id: prefix + "-" + i, text: text, labels: [label] });
  }
  return out;
}

/**
 * One Adapt stream as protobuf JSON messages: config, examples, commit. Each client (vu) trains its
 * own head (Adapt allows one stream per head); ids are new each iteration so every example counts.
 */
export function adaptMessages(definitions, head, count, vu, iteration) {
  var messages = [{ config: { head: head, labels: Object.keys(definitions.topics), progressEvery: 32 } }];
  examples(definitions, count, vu + "-" + iteration).forEach(function (example) {
    messages.push({ example: example });
  });
  messages.push({ commit: {} });
  return messages;
}

/** The head one Adapt client trains. */
export function adaptHead(workload, vu) {
  return workload.head + "-" + vu;
}
