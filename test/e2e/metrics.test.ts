import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { after, before, describe, it } from "node:test";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

describe("Prometheus metrics", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer(["--metrics-max-heads", "1"]);
  });
  after(async () => {
    await server?.stop();
  });

  it("counts known traffic exactly and exposes queue, batch, model and process metrics", async () => {
    const before = await scrapeMetrics(server);
    const embed = server.encoder().unary("embed");
    const texts = ["a fast text editor", "a chess game for two players"];
    for (let i = 0; i < 3; i++) await embed({ inputs: texts });
    await assert.rejects(embed({ inputs: [] }));
    await server.encoder().unary("tokenize")({ inputs: ["x"] });
    const tokens = (await embed({ inputs: texts })).usage!.inputTokens;
    const after = await scrapeMetrics(server);

    assert.equal(after.count("bertd_requests_total", { service: "bertd.v1.Encoder", method: "/bertd.v1.Encoder/Embed", code: "OK" }), 4);
    assert.equal(after.count("bertd_requests_total", { service: "bertd.v1.Encoder", method: "/bertd.v1.Encoder/Embed", code: "INVALID_ARGUMENT" }), 1);
    assert.equal(after.count("bertd_requests_total", { service: "bertd.v1.Encoder", method: "/bertd.v1.Encoder/Tokenize", code: "OK" }), 1);
    assert.equal(after.count("bertd_request_duration_seconds_count", { method: "/bertd.v1.Encoder/Embed" }), 5);
    assert.equal(after.count("bertd_input_tokens_total") - before.count("bertd_input_tokens_total"), 4 * tokens);
    const batches = after.count("bertd_batches_total", { priority: "interactive" }) - before.count("bertd_batches_total", { priority: "interactive" });
    assert.ok(batches >= 4 && batches <= 8, `batches ${batches}`);
    assert.equal(after.count("bertd_batch_size_sum") - before.count("bertd_batch_size_sum"), 8);
    assert.ok(after.count("bertd_batch_padding_ratio_bucket", { le: "+Inf" }) >= 4);
    assert.equal(after.count("bertd_stage_duration_seconds_count", { method: "/bertd.v1.Encoder/Embed", stage: "tokenize" }), 4);
    assert.equal(after.count("bertd_stage_duration_seconds_count", { method: "/bertd.v1.Encoder/Embed", stage: "inference" }), 4);
    assert.match(after.text, /bertd_queue_requests 0\n/);
    assert.match(after.text, /bertd_queue_tokens 0\n/);
    assert.match(after.text, /bertd_model_info\{model="random-tiny",provider="cpu",onnxruntime_version="1\.29\.0"\} 1/);
    // prom-client's process and Node.js metrics under their standard names, not ours.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes"]) {
      assert.match(after.text, new RegExp(`^${name} \\d`, "m"), name);
    }
    assert.match(after.text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
    assert.doesNotMatch(after.text, /^bertd_(process|nodejs)_/m, "no bertd_ prefix on the default metrics");
    assert.deepEqual([...new Set([...after.text.matchAll(/^# TYPE ([a-z]+)_/gm)].map(([, prefix]) => prefix))].sort(), ["bertd", "nodejs", "process"]);
    assert.ok(!/chess|editor/.test(after.text), "no input text in metrics");
    const missing = await fetch(`http://127.0.0.1:${server.metricsPort}/other`);
    assert.equal(missing.status, 404);
  });

  it("reports adaptation by head, with bounded head labels", async () => {
    const examples = [...toyExamples(30, ["sport", "food"], "m"), { id: "m-0", text: "dup", labels: ["sport"] }, { id: "bad", text: "", labels: ["sport"] }];
    const run = await adapt(server.heads(), { head: "first", labels: ["sport", "food"], hyperparameters: { seed: 1n, holdoutFraction: 0.2 } }, examples);
    await adapt(server.heads(), { head: "second", labels: ["sport", "food"] }, toyExamples(10, ["sport", "food"], "s"));
    await server.heads().unary("setActiveVersion")({ head: "first", version: 1 });
    const page = await scrapeMetrics(server);
    assert.equal(page.count("bertd_adapt_examples_total", { head: "first", outcome: "accepted" }), 30);
    assert.equal(page.count("bertd_adapt_examples_total", { head: "first", outcome: "duplicate" }), 1);
    assert.equal(page.count("bertd_adapt_examples_total", { head: "first", outcome: "rejected" }), 1);
    assert.equal(page.count("bertd_adapt_examples_total", { head: "_other", outcome: "accepted" }), 10, "the second head is past --metrics-max-heads");
    assert.equal(page.count("bertd_head_commits_total", { head: "first", promoted: "true" }), 1);
    assert.equal(page.count("bertd_head_active_version", { head: "first" }), 1);
    assert.equal(page.count("bertd_head_active_changes_total", { head: "first" }), 1);
    assert.equal(page.count("bertd_head_holdout_accuracy", { head: "first" }), run.committed[0].holdout!.accuracy);
    assert.ok(page.count("bertd_adapt_prequential_accuracy", { head: "first" }) > 0);
    assert.equal(page.count("bertd_requests_total", { service: "bertd.v1.Heads", method: "/bertd.v1.Heads/Adapt", code: "OK" }), 2);
    await server.encoder().unary("classify")({ head: "first", inputs: ["goal"] });
    const later = await scrapeMetrics(server);
    assert.equal(later.count("bertd_stage_duration_seconds_count", { method: "/bertd.v1.Encoder/Classify", stage: "head" }), 1);
  });

  it("has a Grafana dashboard and alert rules that parse and use only metrics the server exports", async () => {
    const page = await scrapeMetrics(server);
    const exported = new Set([...page.text.matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, name, type]) => (type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
    const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana-dashboard.json`, "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
    const rules = parse(readFileSync(`${ROOT}deploy/prometheus-alerts.yaml`, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const exprs = [
      ...dashboard.panels.flatMap((panel) => panel.targets.map((t) => [panel.title, t.expr])),
      ...rules.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.expr])),
    ];
    assert.ok(dashboard.panels.length >= 10 && rules.groups[0].rules.length >= 4);
    for (const [where, expr] of exprs) {
      assert.match(expr, /bertd_[a-z0-9_]+/, `${where} uses a bertd metric (the standard process and Node.js ones are selected by joining bertd_model_info)`);
      const names = expr.match(/\b(?:bertd|process|nodejs)_[a-z0-9_]+/g) ?? [];
      for (const name of names) assert.ok(exported.has(name), `${where}: ${name} is not exported`);
    }
  });

  it("labels methods by full name, /package.Service/Method, which the alert rules and dashboard match", async () => {
    await server.encoder().unary("embed")({ inputs: ["x"] });
    const page = await scrapeMetrics(server);
    const methods = new Set([...page.text.matchAll(/^bertd_request_duration_seconds_count\{method="([^"]+)"\}/gm)].map(([, method]) => method));
    assert.ok(methods.has("/bertd.v1.Encoder/Embed"), [...methods].join(", "));
    for (const method of methods) assert.match(method, /^\/bertd\.v1\.(Encoder|Heads)\/[A-Z]\w+$/);
    const dashboard = readFileSync(`${ROOT}deploy/grafana-dashboard.json`, "utf8");
    const rules = readFileSync(`${ROOT}deploy/prometheus-alerts.yaml`, "utf8");
    const matchers = [...`${dashboard}\n${rules}`.matchAll(/method(=~?)\\?"([^"\\]+)\\?"/g)];
    assert.ok(matchers.length > 0, "the rules select methods");
    for (const [, op, pattern] of matchers) {
      const matches = (method: string): boolean => (op === "=" ? method === pattern : new RegExp(`^(?:${pattern})$`).test(method));
      assert.ok([...methods].some(matches), `method${op}"${pattern}" matches no exported method (${[...methods].join(", ")})`);
    }
  });
});
