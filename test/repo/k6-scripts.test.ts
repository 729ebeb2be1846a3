import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { fromJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";
import { Heads } from "../../src/gen/bertd/v1/heads_pb.js";
import { Embed as TeiEmbed, Info as TeiInfo, Predict as TeiPredict, Rerank as TeiRerank, Tokenize as TeiTokenize } from "../../src/gen/tei/v1/tei_pb.js";
import { k6Options, scenario, type Definitions } from "../../load-tests/lib/scenarios.js";
import { installK6Stubs } from "../helpers/k6-stubs.js";
import { ROOT } from "../helpers/server-process.js";

const K6_DIR = `${ROOT}load-tests/k6`;
const SCRIPTS = readdirSync(K6_DIR).filter((name) => name.endsWith(".js"));
/** load-tests/tei-embed.js: TEI's own load test, pointed at bertd (its own options, not scenarios.json). */
const TEI_SCRIPT = `${ROOT}load-tests/tei-embed.js`;
const definitions = JSON.parse(readFileSync(`${ROOT}load-tests/scenarios.json`, "utf8")) as Definitions;
const { recorded, execution } = installK6Stubs();

/** Every RPC the proto files declare, as k6 names them: "package.Service/Method". */
function rpcsIn(protoFile: string): Set<string> {
  const text = readFileSync(protoFile, "utf8");
  const pkg = /^package\s+([\w.]+);/m.exec(text)?.[1];
  const rpcs = new Set<string>();
  for (const service of text.matchAll(/service\s+(\w+)\s*\{([\s\S]*?)\n\}/g)) {
    for (const rpc of service[2].matchAll(/rpc\s+(\w+)\s*\(/g)) rpcs.add(`${pkg}.${service[1]}/${rpc[1]}`);
  }
  return rpcs;
}

const METHODS = new Map<string, DescMethod>([Encoder, Heads, TeiInfo, TeiEmbed, TeiPredict, TeiRerank, TeiTokenize].flatMap((service) => service.methods).map((m) => [`${m.parent.typeName}/${m.name}`, m]));

let loads = 0;
/** Imports a fresh copy of the script (k6's init stage) with these environment variables. */
async function load(script: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const g = globalThis as Record<string, unknown>;
  g.__ENV = env;
  g.open = (path: string) => readFileSync(join(K6_DIR, path), "utf8");
  return (await import(`${pathToFileURL(join(K6_DIR, script)).href}?load=${loads++}`)) as Record<string, unknown>;
}

describe("k6 scripts, run with k6's modules stubbed", () => {
  it("exist", () => assert.ok(SCRIPTS.length > 0));

  for (const script of SCRIPTS) {
    for (const name of Object.keys(definitions.scenarios)) {
      it(`${script} -e SCENARIO=${name}: options from scenarios.json, and only RPCs and fields of proto/`, async () => {
        const before = { invokes: recorded.invokes.length, streams: recorded.streams.length, loaded: recorded.loaded.length };
        const module = await load(script, { SCENARIO: name, BERTD_ADDRESS: "bertd:50051", BERTD_API_KEY: "k" });
        const selected = scenario(definitions, name);
        assert.deepEqual(module.options, k6Options(selected));

        // The proto files it loads exist, relative to the script as k6 resolves them.
        const protoRpcs = new Set<string>();
        for (const { importPaths, files } of recorded.loaded.slice(before.loaded)) {
          for (const file of files) {
            const path = join(K6_DIR, importPaths[0] ?? ".", file);
            assert.ok(existsSync(path), `${script} loads ${path}, which does not exist`);
            for (const rpc of rpcsIn(path)) protoRpcs.add(rpc);
          }
        }

        if (selected.setup) (module.setup as () => void)();
        for (const [key, workload] of Object.entries(selected.workloads)) {
          const exec = module[workload.call];
          assert.equal(typeof exec, "function", `${script} exports no function "${workload.call}" for workload ${key}`);
          execution.scenario.name = key;
          for (let i = 0; i < 3; i++) {
            execution.scenario.iterationInTest = i;
            execution.vu.iterationInScenario = i;
            (exec as () => void)();
          }
        }

        const calls = [
          ...recorded.invokes.slice(before.invokes).map((c) => ({ method: c.method, messages: [c.request], params: c.params })),
          ...recorded.streams.slice(before.streams).map((s) => ({ method: s.method, messages: s.written, params: s.params })),
        ];
        assert.ok(calls.length >= Object.keys(selected.workloads).length * 3);
        for (const call of calls) {
          assert.ok(protoRpcs.has(call.method), `${call.method} is not an RPC of the proto files the script loads`);
          const method = METHODS.get(call.method);
          assert.ok(method, `${call.method} has no generated descriptor`);
          for (const message of call.messages) fromJson(method.input, message as JsonValue); // throws on unknown fields or bad values
          assert.deepEqual(call.params, { metadata: { authorization: "Bearer k" } });
        }
        const calledMethods = new Set(calls.map((c) => c.method));
        for (const workload of Object.values(selected.workloads)) {
          const expected = {
            embed: "bertd.v1.Encoder/Embed",
            classify: "bertd.v1.Encoder/Classify",
            adapt: "bertd.v1.Heads/Adapt",
            teiEmbed: "tei.v1.Embed/Embed",
            teiEmbedStream: "tei.v1.Embed/EmbedStream",
          }[workload.call];
          assert.ok(calledMethods.has(expected), `workload ${workload.call} never called ${expected}`);
        }

        // Thresholds name metrics the script records.
        for (const threshold of Object.keys((module.options as { thresholds: Record<string, unknown> }).thresholds)) {
          const metric = threshold.split("{")[0];
          assert.ok(recorded.metrics.get(metric)?.values.length, `threshold ${threshold} names ${metric}, which the script never records`);
        }
      });
    }

    it(`${script} -e DURATION=3s shortens every workload`, async () => {
      const module = await load(script, { SCENARIO: "embed-ramp", DURATION: "3s" });
      const { scenarios } = module.options as { scenarios: Record<string, { stages: { duration: string }[] }> };
      assert.deepEqual(scenarios.embed.stages.map((s) => s.duration), ["3000ms"]);
    });

    it(`${script} names an unknown scenario in its error`, async () => {
      await assert.rejects(load(script, { SCENARIO: "nope" }), /unknown scenario "nope"; known: embed-constant/);
    });
  }

  for (const mode of ["unary", "stream"]) {
    it(`load-tests/tei-embed.js -e MODE=${mode}: TEI's style, only tei.v1 RPCs and fields of proto/tei/v1`, async () => {
      const before = { invokes: recorded.invokes.length, streams: recorded.streams.length, loaded: recorded.loaded.length };
      const g = globalThis as Record<string, unknown>;
      g.__ENV = { MODE: mode, HOST: "bertd:50051", BERTD_API_KEY: "k", MESSAGES: "5" };
      const module = (await import(`${pathToFileURL(TEI_SCRIPT).href}?load=${loads++}`)) as { default: () => void; options: { scenarios: Record<string, { executor: string }> } };
      const executor = Object.values(module.options.scenarios)[0].executor;
      assert.equal(executor, mode === "stream" ? "constant-vus" : "constant-arrival-rate");
      for (const { importPaths, files } of recorded.loaded.slice(before.loaded)) {
        for (const file of files) assert.ok(existsSync(join(dirname(TEI_SCRIPT), importPaths[0], file)), file);
      }
      module.default();
      module.default();
      const calls = [
        ...recorded.invokes.slice(before.invokes).map((c) => ({ method: c.method, messages: [c.request], params: c.params })),
        ...recorded.streams.slice(before.streams).map((s) => ({ method: s.method, messages: s.written, params: s.params })),
      ];
      assert.equal(calls.length, 2);
      for (const call of calls) {
        assert.equal(call.method, mode === "stream" ? "tei.v1.Embed/EmbedStream" : "tei.v1.Embed/Embed");
        assert.equal(call.messages.length, mode === "stream" ? 5 : 1);
        for (const message of call.messages) fromJson(METHODS.get(call.method)!.input, message as JsonValue);
        assert.deepEqual(call.params, { metadata: { authorization: "Bearer k" } });
      }
    });
  }

  it("runs from load-tests/k6, where its relative paths point", () => {
    for (const script of SCRIPTS) {
      const source = readFileSync(join(K6_DIR, script), "utf8");
      const opened = [...source.matchAll(/open\("([^"]+)"\)/g)].map((m) => m[1]);
      const protoRoots = [...source.matchAll(/client\.load\(\[([^\]]+)\]/g)].flatMap((m) => [...m[1].matchAll(/"([^"]+)"/g)].map((p) => p[1]));
      assert.ok(opened.length > 0 && protoRoots.length > 0, `${script} opens its scenarios and loads the protos`);
      for (const path of opened) assert.ok(existsSync(join(K6_DIR, path)), `${script}: open("${path}") from load-tests/k6`);
      for (const root of protoRoots) assert.ok(existsSync(join(K6_DIR, root, "bertd", "v1", "encoder.proto")), `${script}: proto root ${root}`);
    }
  });
});
