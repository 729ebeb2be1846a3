// The pretraining pipeline's parts that run without a GPU: the Python scripts compile, the torch-free
// shard reader passes its own tests, and check-export.ts accepts a faithful export and rejects a wrong one.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { generateBertModel } from "../../models/generator/index.js";
import { ROOT } from "../helpers/server-process.js";

const run = promisify(execFile);
const PRETRAINING = join(ROOT, "pretraining");
const PYTHON_FILES = ["pretrain.py", "export_onnx.py", "shards.py", "test_shards.py", "corpus/build_corpus.py"].map((f) => join(PRETRAINING, f));

describe("pretraining scripts", () => {
  it("compile with Python 3", async () => {
    await run("python3", ["-m", "py_compile", ...PYTHON_FILES]);
  });

  it("read shards without torch (python3 -m unittest)", async () => {
    const { stderr } = await run("python3", ["-m", "unittest", join(PRETRAINING, "test_shards.py")]);
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
    const check = () => run(process.execPath, ["--import", "tsx", join(PRETRAINING, "check-export.ts"), "--dir", dir], { cwd: ROOT });
    const { stdout } = await check();
    assert.match(stdout, /^fp32 .* max abs diff from PyTorch fp32 over real tokens 0\.00e\+0 \(ok\)/m);
    assert.match(stdout, /^fp16 .*model_fp16\.onnx .*\(reported\)/m);

    const wrong = JSON.parse(await readFile(join(dir, "reference.json"), "utf8")) as { last_hidden_state: number[][][] };
    wrong.last_hidden_state[1][2][3] += 0.01;
    await writeFile(join(dir, "reference.json"), JSON.stringify(wrong));
    await assert.rejects(check(), (e: { code: number; stdout: string }) => e.code === 1 && /fp32 .*1\.00e-2 \(FAILED\)/.test(e.stdout));
  });
});
