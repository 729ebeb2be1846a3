// The pretraining pipeline (pretraining/): its Python compiles, the corpus builders pass their own tests
// (WordNet kept out, pair extraction), check-export.ts accepts a faithful model and rejects a wrong one,
// and, where Debian's python3-torch is installed, a two-minute run of the real trainer on made-up data
// trains, resumes, exports, and builds into a model.onnx that matches PyTorch.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { buildFromWeights, generateBertModel } from "../../tools/generator/index.js";
import { ROOT } from "../helpers/server-process.js";

const run = promisify(execFile);
const PRETRAINING = join(ROOT, "pretraining");
const PYTHON_FILES = ["bert.py", "probe.py", "train.py", "export.py", "corpus/build_corpus.py", "corpus/build_pairs.py", "corpus/test_corpus.py"].map((f) => join(PRETRAINING, f));
/** Debian's interpreter, where python3-torch installs (a pyenv python3 on PATH may lack it). */
const TORCH_PYTHON = "/usr/bin/python3";
const hasTorch = await run(TORCH_PYTHON, ["-c", "import torch, scipy"]).then(
  () => true,
  () => false,
);

describe("pretraining scripts", () => {
  it("compile with Python 3", async () => {
    await run("python3", ["-m", "py_compile", ...PYTHON_FILES]);
  });

  it("corpus builders pass their unit tests (python3 -m unittest)", async () => {
    const { stderr } = await run("python3", ["-m", "unittest", join(PRETRAINING, "corpus", "test_corpus.py")]);
    assert.match(stderr, /^OK$/m);
  });

  it("build_corpus.py lists its sources and rejects unknown packages", async () => {
    const { stdout } = await run("python3", [join(PRETRAINING, "corpus", "build_corpus.py"), "--list"]);
    assert.match(stdout, /^dict-gcide\s+gcide/m);
    assert.doesNotMatch(stdout, /^dict-wn/m, "WordNet is held back for evaluation");
    await assert.rejects(run("python3", [join(PRETRAINING, "corpus", "build_corpus.py"), "--packages", "no-such-package", "--out", await mkdtemp(join(tmpdir(), "corpus-"))]), (e: { code: number; stderr: string }) => e.code === 2 && /unknown package\(s\) no-such-package/.test(e.stderr));
  });

  it("collect.sh cuts large files for the transfer back and --join restores them, checked by sha256", async () => {
    const root = await mkdtemp(join(tmpdir(), "bertd-collect-"));
    const big = Buffer.alloc(17 * 2 ** 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    await mkdir(join(root, "src", "1_Pooling"), { recursive: true });
    await writeFile(join(root, "src", "model.onnx"), big);
    await writeFile(join(root, "src", "1_Pooling", "config.json"), "{}\n");
    const script = join(ROOT, "scripts", "gpu", "collect.sh");
    await run("bash", [script, join(root, "src"), join(root, "out")]);
    assert.deepEqual((await readdir(join(root, "out"))).sort(), ["1_Pooling", "SHA256SUMS", "model.onnx.part-aa", "model.onnx.part-ab"]);
    await run("bash", [script, "--join", join(root, "out"), join(root, "back")]);
    assert.ok(big.equals(await readFile(join(root, "back", "model.onnx"))));
    await writeFile(join(root, "out", "model.onnx.part-ab"), "damaged");
    await assert.rejects(run("bash", [script, "--join", join(root, "out"), join(root, "back2")]));
  });

  it("check-export.ts passes a faithful export and fails a wrong reference", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bertd-export-"));
    await generateBertModel({ outDir: dir, layers: 1, hidden: 32, heads: 2, intermediate: 64, precision: "both" });
    const ids = [[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]];
    const mask = ids.map((r) => r.map((id) => (id === 0 ? 0 : 1)));
    const t = (m: number[][]) => new ort.Tensor("int64", BigInt64Array.from(m.flat(), (v) => BigInt(v)), [2, 5]);
    const session = await ort.InferenceSession.create(join(dir, "model.onnx"));
    const out = (await session.run({ input_ids: t(ids), attention_mask: t(mask), token_type_ids: t(ids.map((r) => r.map(() => 0))) })).last_hidden_state.data as Float32Array;
    const hidden: number[][][] = ids.map((_, b) => Array.from({ length: 5 }, (_, s) => Array.from(out.subarray((b * 5 + s) * 32, (b * 5 + s + 1) * 32))));
    await writeFile(join(dir, "reference.json"), JSON.stringify({ input_ids: ids, attention_mask: mask, last_hidden_state: hidden }));
    const check = () => run(process.execPath, ["--import", "tsx", join(PRETRAINING, "check-export.ts"), "--dir", dir, "--reference", join(dir, "reference.json")], { cwd: ROOT });
    const { stdout } = await check();
    assert.match(stdout, /^fp32 .* max abs diff from PyTorch fp32 over real tokens 0\.00e\+0 \(ok\)/m);
    assert.match(stdout, /^fp16 .*model_fp16\.onnx .*\(reported\)/m);

    const wrong = JSON.parse(await readFile(join(dir, "reference.json"), "utf8")) as { last_hidden_state: number[][][] };
    wrong.last_hidden_state[1][2][3] += 0.01;
    await writeFile(join(dir, "reference.json"), JSON.stringify(wrong));
    await assert.rejects(check(), (e: { code: number; stdout: string }) => e.code === 1 && /fp32 .*1\.00e-2 \(FAILED\)/.test(e.stdout));
  });

  it("train.py trains, resumes, and export.py writes a model that builds and matches PyTorch", { skip: hasTorch ? false : "Debian's python3-torch and python3-scipy are not both installed" }, async () => {
    const root = await mkdtemp(join(tmpdir(), "bertd-pretrain-"));
    const data = join(root, "data");
    await mkdir(join(data, "shards"), { recursive: true });
    let seed = 1;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const ids = (n: number, lo = 1000, hi = 3000) => Array.from({ length: n }, () => lo + (next() % (hi - lo)));
    const shard = (name: string, n: number) => writeFile(join(data, "shards", name), Buffer.from(Uint16Array.from(ids(n)).buffer));
    await shard("train-00000.u16", 30_000);
    await shard("heldout-00000.u16", 3_000);
    await writeFile(join(data, "shards", "index.json"), JSON.stringify({ train: { shards: [{ file: "train-00000.u16" }] }, heldout: { shards: [{ file: "heldout-00000.u16" }] } }));
    const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
    // Labels that the token ranges decide, so a probe has something to find.
    const labelled = (n: number) => Array.from({ length: n }, (_, i) => ({ label: i % 2 ? "odd" : "even", text: ids(8, i % 2 ? 1000 : 2000, i % 2 ? 2000 : 3000) }));
    await writeFile(join(data, "sections-train.ids.jsonl"), jsonl(labelled(60)));
    await writeFile(join(data, "sections-test.ids.jsonl"), jsonl(labelled(20)));
    await writeFile(join(data, "heldout-debian.ids.jsonl"), jsonl(Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, a: ids(5), b: ids(20) }))));
    await writeFile(join(data, "pairs.ids.jsonl"), jsonl(Array.from({ length: 80 }, (_, i) => ({ source: i % 3 ? "debian" : "dict", group: `g${i}`, a: ids(5), b: ids(20) }))));
    const out = join(root, "out");
    const train = (minutes: string) =>
      run(TORCH_PYTHON, [join(PRETRAINING, "train.py"), "--data", data, "--out", out, "--preset", "tiny", "--threads", "1", "--mlm-batch", "4", "--pair-batch", "8", "--mlm-minutes", minutes, "--contrastive-minutes", "0.05", "--checkpoint-minutes", "0.01", "--static-window", "2"], { timeout: 240_000 });
    const first = await train("0.1");
    assert.match(first.stdout, /^\[.*\] \| contrastive \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m, first.stdout);
    const metrics = JSON.parse(await readFile(join(out, "train-metrics.json"), "utf8")) as { mlm_steps: number; contrastive_steps: number };
    assert.ok(metrics.contrastive_steps > metrics.mlm_steps && metrics.mlm_steps > 0, JSON.stringify(metrics));
    // A rerun of a finished run resumes at its end: no stage trains again.
    const again = await train("0.1");
    assert.match(again.stdout, /resume: done/);
    assert.doesNotMatch(again.stdout, /mlm: .* budget/);

    const modelDir = join(root, "model");
    await mkdir(modelDir);
    for (const file of ["vocab.txt", "tokenizer.json", "tokenizer_config.json"]) await writeFile(join(modelDir, file), await readFile(join(ROOT, "models", "default", file)));
    await run(TORCH_PYTHON, [join(PRETRAINING, "export.py"), "--data", data, "--out", out, "--model-dir", modelDir, "--fixture", join(root, "fixture.json")]);
    const config = JSON.parse(await readFile(join(modelDir, "config.json"), "utf8")) as { hidden_size: number; bertd: { weights: string } };
    assert.deepEqual([config.hidden_size, config.bertd.weights], [128, "trained"]);
    const pooling = JSON.parse(await readFile(join(modelDir, "1_Pooling", "config.json"), "utf8")) as { pooling_mode_mean_tokens: boolean };
    assert.equal(pooling.pooling_mode_mean_tokens, true);
    await buildFromWeights(modelDir);
    for (const reference of [join(out, "reference.json"), join(root, "fixture.json")]) {
      const { stdout } = await run(process.execPath, ["--import", "tsx", join(PRETRAINING, "check-export.ts"), "--dir", modelDir, "--reference", reference], { cwd: ROOT });
      assert.match(stdout, /^fp32 .* \(ok\); hidden 128/m);
    }
  });
});
