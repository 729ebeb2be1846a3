// The model generator writes a loadable, deterministic BERT: checked against ONNX Runtime, against a
// plain TypeScript BERT forward pass over the initializers read back from the file, and for the
// padding invariance that bertd's batching relies on.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { parseSafetensors } from "../../tools/onnx/safetensors.js";
import {
  DEFAULT_MODEL_DIR,
  RANDOM_MODEL_DIR,
  VOCAB_FILES,
  buildFromWeights,
  generateBertModel,
  type GenerateOptions,
  type GeneratedModel,
} from "../../tools/generator/index.js";
import { bertForward, erf, readOnnxModel, type ReadModel } from "../helpers/bert-reference.js";

const REPO = resolve(import.meta.dirname, "..", "..");

type Matrix = number[][];

function int64(rows: Matrix): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0].length]);
}

function feeds(session: ort.InferenceSession, ids: Matrix, mask: Matrix, types: Matrix | null): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(mask) };
  if (session.inputNames.includes("token_type_ids")) f.token_type_ids = int64(types ?? ids.map((r) => r.map(() => 0)));
  return f;
}

function floats(t: ort.Tensor): Float32Array {
  assert.equal(t.type, "float32");
  return t.data as Float32Array;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Deterministic token ids in [lo, hi) for tests. */
function tokens(count: number, lo: number, hi: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => lo + ((i * 7919 + salt * 104729) % (hi - lo)));
}

async function open(path: string, level: "all" | "disabled" = "all"): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
}

let workDir: string;
const generated: Record<string, GeneratedModel> = {};

async function gen(name: string, options: Omit<GenerateOptions, "outDir">): Promise<GeneratedModel> {
  const model = await generateBertModel({ outDir: join(workDir, name), ...options });
  generated[name] = model;
  return model;
}

/** Tiny shape for reference checks: no vocabulary files, 50 word embeddings. */
const TINY = { layers: 2, hidden: 32, heads: 4, intermediate: 64, maxPosition: 40, vocabSize: 50, vocabDir: null, seed: 7 } as const;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "bertd-model-generator-"));
});

after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

void describe("random test model (models/random-tiny)", () => {
  let model: GeneratedModel;
  let seconds: number;

  before(async () => {
    const started = performance.now();
    model = await gen("default", {});
    seconds = (performance.now() - started) / 1000;
  });

  // Its generation time is in the diagnostic only: a wall-clock bound would fail on a busy machine, not on a slow generator.
  void test("is identical to the one install wrote, with the vocabulary beside it", async (t) => {
    t.diagnostic(`default model: ${(model.modelBytes / 1e6).toFixed(1)} MB, ${model.parameters} parameters, ${seconds.toFixed(2)} s`);
    assert.equal(model.parameters, 4_385_920);
    const written = await readFile(model.configPath, "utf8");
    assert.equal(written, await readFile(join(RANDOM_MODEL_DIR, "config.json"), "utf8"), "models/random-tiny/config.json is stale");
    assert.ok((await readFile(model.modelPath)).equals(await readFile(join(RANDOM_MODEL_DIR, "model.onnx"))), "models/random-tiny/model.onnx is stale");
    const config = JSON.parse(written) as Record<string, unknown>;
    assert.equal(config.model_type, "bert");
    assert.equal(config.vocab_size, 30522);
    assert.deepEqual(config.bertd, {
      generator: "bertd-model-generator/1",
      seed: 42,
      weights: "random",
      inputs: ["input_ids", "attention_mask", "token_type_ids"],
      outputs: ["last_hidden_state", "pooler_output"],
    });
    for (const file of VOCAB_FILES) {
      assert.ok((await readFile(join(workDir, "default", file))).equals(await readFile(join(DEFAULT_MODEL_DIR, file))), file);
    }
  });

  void test("has BERT's initial weights and a well-formed graph", async () => {
    const onnx = readOnnxModel(await readFile(model.modelPath));
    assert.equal(onnx.irVersion, 8);
    assert.deepEqual(onnx.opsets, [{ domain: "", version: 17 }]);
    const words = onnx.initializers.get("embeddings.word_embeddings.weight");
    assert.deepEqual(words?.dims, [30522, 128]);
    const values = words.values;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    assert.ok(Math.abs(mean) < 1e-4, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.02) < 1e-4, `std ${std}`);
    assert.ok(onnx.initializers.get("encoder.layer.1.output.LayerNorm.weight")?.values.every((v) => v === 1));
    assert.ok(onnx.initializers.get("encoder.layer.1.output.dense.bias")?.values.every((v) => v === 0));
    assertWellFormed(onnx);
  });

  void test("loads in ONNX Runtime with the right inputs, outputs and shapes", async () => {
    const session = await open(model.modelPath);
    try {
      assert.deepEqual(session.inputNames, ["input_ids", "attention_mask", "token_type_ids"]);
      assert.deepEqual(session.outputNames, ["last_hidden_state", "pooler_output"]);
      for (const [batch, seq] of [[1, 1], [2, 7], [3, 64]]) {
        const ids = Array.from({ length: batch }, (_, b) => tokens(seq, 1000, 30000, b));
        const ones = ids.map((r) => r.map(() => 1));
        const out = await session.run(feeds(session, ids, ones, null));
        assert.deepEqual(out.last_hidden_state.dims, [batch, seq, 128]);
        assert.deepEqual(out.pooler_output.dims, [batch, 128]);
        assert.ok(floats(out.last_hidden_state).every(Number.isFinite));
      }
    } finally {
      await session.release();
    }
  });

  void test("is byte-identical for the same seed and differs for another", async () => {
    const again = await generateBertModel({ outDir: join(workDir, "default-again"), vocabDir: null, vocabSize: 30522 });
    assert.ok((await readFile(again.modelPath)).equals(await readFile(model.modelPath)));
    const other = await generateBertModel({ ...TINY, outDir: join(workDir, "tiny-seed-8"), seed: 8 });
    const tiny = await generateBertModel({ ...TINY, outDir: join(workDir, "tiny-seed-7") });
    const tinyAgain = await generateBertModel({ ...TINY, outDir: join(workDir, "tiny-seed-7-again") });
    const [a, b, c] = await Promise.all([tiny, tinyAgain, other].map((m) => readFile(m.modelPath)));
    assert.ok(a.equals(b));
    assert.equal(a.length, c.length);
    assert.ok(!a.equals(c));
  });

  void test("keeps real tokens' outputs unchanged when the batch is padded", async () => {
    const session = await ort.InferenceSession.create(model.modelPath); // the service's defaults
    try {
      const lengths = [16, 5, 1, 11];
      const width = Math.max(...lengths);
      const seqs = lengths.map((n, i) => [101, ...tokens(n - 2, 1000, 30000, i + 1), 102].slice(0, n));
      const types = seqs.map((s) => s.map((_, j) => (j >= s.length / 2 ? 1 : 0)));
      const pad = (rows: Matrix, value: number) => rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(value)]);
      const batched = await session.run(
        feeds(session, pad(seqs, 0), pad(seqs.map((s) => s.map(() => 1)), 0), pad(types, 0)),
      );
      const hidden = floats(batched.last_hidden_state);
      const pooled = floats(batched.pooler_output);
      for (let i = 0; i < seqs.length; i++) {
        const n = seqs[i].length;
        const alone = await session.run(feeds(session, [seqs[i]], [seqs[i].map(() => 1)], [types[i]]));
        const rowHidden = hidden.subarray(i * width * 128, (i * width + n) * 128);
        const diff = maxAbsDiff(rowHidden, floats(alone.last_hidden_state));
        assert.ok(diff < 1e-5, `sequence ${i} (length ${n}): last_hidden_state differs by ${diff}`);
        const poolDiff = maxAbsDiff(pooled.subarray(i * 128, (i + 1) * 128), floats(alone.pooler_output));
        assert.ok(poolDiff < 1e-5, `sequence ${i}: pooler_output differs by ${poolDiff}`);
      }
    } finally {
      await session.release();
    }
  });
});

/** Every initializer is used, every node input is defined, every graph output is produced. */
function assertWellFormed(onnx: ReadModel): void {
  const defined = new Set<string>([...onnx.inputs, ...onnx.initializers.keys()]);
  const used = new Set<string>();
  for (const node of onnx.nodes) {
    for (const input of node.inputs) {
      assert.ok(defined.has(input), `${node.opType} reads undefined ${input}`);
      used.add(input);
    }
    for (const output of node.outputs) {
      assert.ok(!defined.has(output), `${output} is defined twice`);
      defined.add(output);
    }
  }
  for (const name of onnx.initializers.keys()) assert.ok(used.has(name), `initializer ${name} is unused`);
  for (const name of onnx.outputs) assert.ok(defined.has(name), `output ${name} is never produced`);
}

void describe("reference forward pass", () => {
  void test("matches ONNX Runtime on a tiny classifier, with and without graph optimizations", async () => {
    const model = await gen("tiny-classifier", { ...TINY, labels: ["neg", "pos", "neutral"] });
    const onnx = readOnnxModel(await readFile(model.modelPath));
    assertWellFormed(onnx);
    const config = { hiddenSize: 32, numLayers: 2, numHeads: 4, layerNormEps: 1e-12 };
    const lengths = [9, 6, 2];
    const ids = lengths.map((n, b) => tokens(9, 1, 50, b + 3).map((t, j) => (j < n ? t : 0)));
    const mask = lengths.map((n) => Array.from({ length: 9 }, (_, j) => (j < n ? 1 : 0)));
    const types = lengths.map((n) => Array.from({ length: 9 }, (_, j) => (j >= 3 && j < n ? 1 : 0)));
    const expected = bertForward(onnx.initializers, config, ids, mask, types);
    assert.ok(expected.logits);

    for (const level of ["all", "disabled"] as const) {
      const session = await open(model.modelPath, level);
      try {
        assert.deepEqual(session.outputNames, ["last_hidden_state", "pooler_output", "logits"]);
        const out = await session.run(feeds(session, ids, mask, types));
        const checks: [string, ArrayLike<number>, ort.Tensor][] = [
          ["last_hidden_state", expected.lastHiddenState.flat(2), out.last_hidden_state],
          ["pooler_output", expected.poolerOutput.flat(), out.pooler_output],
          ["logits", expected.logits.flat(), out.logits],
        ];
        for (const [name, want, got] of checks) {
          const diff = maxAbsDiff(floats(got), want);
          // float32 vs float64 accounts for about 1e-6; 1e-5 is 10x stricter than the 1e-4 asked for.
          assert.ok(diff < 1e-5, `${name} (${level}) differs from the reference by ${diff}`);
        }
        // The outputs are not trivially small: a wrong graph could not pass by accident.
        assert.ok(maxAbsDiff(floats(out.last_hidden_state), new Float32Array(3 * 9 * 32)) > 1);
      } finally {
        await session.release();
      }
    }
  });

  void test("erf is accurate", () => {
    const known: [number, number][] = [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276], [-1.5, -0.9661051464753108], [4.5, 0.9999999998033839], [-6, -1]];
    for (const [x, want] of known) assert.ok(Math.abs(erf(x) - want) < 1e-13, `erf(${x}) = ${erf(x)}`);
  });
});

void describe("variants", () => {
  void test("without token_type_ids: two inputs, same outputs as type 0 everywhere", async () => {
    const plain = await gen("tiny", { ...TINY });
    const noTypes = await gen("tiny-no-types", { ...TINY, tokenTypeIds: false });
    assert.deepEqual((noTypes.config.bertd as { inputs: string[] }).inputs, ["input_ids", "attention_mask"]);
    const [a, b] = await Promise.all([open(plain.modelPath), open(noTypes.modelPath)]);
    try {
      assert.deepEqual(b.inputNames, ["input_ids", "attention_mask"]);
      assert.deepEqual(b.outputNames, ["last_hidden_state", "pooler_output"]);
      const ids = [tokens(6, 1, 50, 1), tokens(6, 1, 50, 2)];
      const mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
      const [outA, outB] = await Promise.all([a.run(feeds(a, ids, mask, null)), b.run(feeds(b, ids, mask, null))]);
      assert.ok(maxAbsDiff(floats(outA.last_hidden_state), floats(outB.last_hidden_state)) < 1e-6);
      assert.ok(maxAbsDiff(floats(outA.pooler_output), floats(outB.pooler_output)) < 1e-6);
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });

  void test("without the pooler: last_hidden_state only", async () => {
    const model = await gen("tiny-no-pooler", { ...TINY, pooler: false });
    const session = await open(model.modelPath);
    try {
      assert.deepEqual(session.outputNames, ["last_hidden_state"]);
      const out = await session.run(feeds(session, [[1, 2, 3]], [[1, 1, 1]], null));
      assert.deepEqual(out.last_hidden_state.dims, [1, 3, 32]);
    } finally {
      await session.release();
    }
  });

  void test("classifier: logits [batch, labels] and Hugging Face label maps", async () => {
    const single = await gen("tiny-single-label", { ...TINY, labels: ["negative", "positive"] });
    assert.deepEqual(single.config.architectures, ["BertForSequenceClassification"]);
    assert.deepEqual(single.config.id2label, { "0": "negative", "1": "positive" });
    assert.deepEqual(single.config.label2id, { negative: 0, positive: 1 });
    assert.equal(single.config.problem_type, "single_label_classification");

    const multi = await gen("tiny-multi-label", { ...TINY, labels: ["a", "b", "c", "d"], multilabel: true, pooler: false });
    assert.equal(multi.config.problem_type, "multi_label_classification");
    const session = await open(multi.modelPath);
    try {
      assert.deepEqual(session.outputNames, ["last_hidden_state", "logits"]);
      const logits = session.outputMetadata.find((m) => m.name === "logits");
      assert.ok(logits?.isTensor);
      assert.deepEqual(logits.shape, ["batch_size", 4]);
      const out = await session.run(feeds(session, [[1, 2, 3], [4, 5, 0]], [[1, 1, 1], [1, 1, 0]], null));
      assert.deepEqual(out.logits.dims, [2, 4]);
    } finally {
      await session.release();
    }
  });

  void test("--fused-attention: ONNX Runtime's MultiHeadAttention gives the standard graph's states", async () => {
    const standard = await gen("tiny-standard-attention", TINY);
    const fused = await gen("tiny-fused-attention", { ...TINY, fusedAttention: true });
    const ids = [tokens(12, 3, 50, 1), [...tokens(5, 3, 50, 2), ...Array<number>(7).fill(0)]];
    const mask = [Array<number>(12).fill(1), [...Array<number>(5).fill(1), ...Array<number>(7).fill(0)]];
    const [a, b] = await Promise.all([open(standard.modelPath), open(fused.modelPath)]);
    try {
      const x = floats((await a.run(feeds(a, ids, mask, null))).last_hidden_state);
      const y = floats((await b.run(feeds(b, ids, mask, null))).last_hidden_state);
      const width = x.length / 24;
      const real = (values: Float32Array) => values.filter((_, i) => mask.flat()[Math.floor(i / width)] === 1);
      assert.ok(maxAbsDiff(real(x), real(y)) < 1e-5, `max abs diff over real tokens ${maxAbsDiff(real(x), real(y))}`);
      const graph = readOnnxModel(new Uint8Array(await readFile(fused.modelPath)));
      assert.equal(graph.nodes.filter((n) => n.opType === "MultiHeadAttention" && n.domain === "com.microsoft").length, TINY.layers);
      assert.ok(graph.opsets.some((o) => o.domain === "com.microsoft"), "imports the com.microsoft opset");
      assert.equal(graph.nodes.filter((n) => n.opType === "Softmax").length, 0);
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });

  void test("rejects inconsistent options", async () => {
    const outDir = join(workDir, "rejected");
    await assert.rejects(generateBertModel({ ...TINY, outDir, heads: 5 }), /multiple of numHeads/);
    await assert.rejects(generateBertModel({ ...TINY, outDir, labels: ["x", "x"] }), /duplicate labels/);
    await assert.rejects(generateBertModel({ ...TINY, outDir, multilabel: true }), /multilabel needs/);
    await assert.rejects(generateBertModel({ ...TINY, outDir, seed: -1 }), /seed/);
    await assert.rejects(generateBertModel({ outDir, vocabSize: 100 }), /smaller than the 30522 entries/);
  });
});

void describe("CLI", () => {
  const run = promisify(execFile);
  const cli = ["--import", "tsx", join(REPO, "tools", "generator", "generate.ts")];

  void test("writes the same model as generateBertModel for the same flags", async () => {
    const outDir = join(workDir, "cli");
    await run(process.execPath, [
      ...cli,
      ...["--out", outDir, "--layers", "1", "--hidden", "16", "--heads", "2", "--intermediate", "32"],
      ...["--max-position", "16", "--type-vocab", "3", "--vocab-size", "40", "--no-vocab", "--seed", "3"],
      ...["--no-token-type-ids", "--classifier", "a,b", "--multilabel", "--quiet"],
    ], { cwd: REPO });
    const api = await generateBertModel({
      outDir: join(workDir, "cli-api"),
      ...{ layers: 1, hidden: 16, heads: 2, intermediate: 32, maxPosition: 16, typeVocab: 3, vocabSize: 40 },
      ...{ vocabDir: null, seed: 3, tokenTypeIds: false, labels: ["a", "b"], multilabel: true },
    });
    assert.ok((await readFile(join(outDir, "model.onnx"))).equals(await readFile(api.modelPath)));
    assert.equal(await readFile(join(outDir, "config.json"), "utf8"), await readFile(api.configPath, "utf8"));
  });

  void test("exits 2 with a message on bad flags", async () => {
    await assert.rejects(run(process.execPath, [...cli, "--hidden", "30", "--heads", "4", "--no-vocab", "--vocab-size", "40", "--out", join(workDir, "bad")], { cwd: REPO }), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? "", /not a multiple of numHeads/);
      return true;
    });
  });
});

void describe("trained weights (--from-weights)", () => {
  void test("builds the graph from a safetensors file: PyTorch layout in, the same model out", async () => {
    // A random model's initializers, written back as a float32 safetensors file in PyTorch's layout
    // (Linear weights [out, in]), must rebuild into the very same graph.
    const source = await gen("weights-source", { ...TINY, vocabSize: 50 });
    const onnx = readOnnxModel(await readFile(source.modelPath));
    const header: Record<string, unknown> = {};
    const blobs: Buffer[] = [];
    let offset = 0;
    for (const [name, t] of onnx.initializers) {
      if (name.startsWith("const.")) continue;
      const linear = t.dims.length === 2 && !name.startsWith("embeddings.");
      const dims = linear ? [t.dims[1], t.dims[0]] : t.dims;
      const values = new Float32Array(t.values.length);
      if (linear) for (let r = 0; r < t.dims[0]; r++) for (let c = 0; c < t.dims[1]; c++) values[c * t.dims[0] + r] = t.values[r * t.dims[1] + c];
      else values.set(t.values);
      const bytes = Buffer.from(values.buffer);
      header[name] = { dtype: "F32", shape: dims, data_offsets: [offset, offset + bytes.length] };
      blobs.push(bytes);
      offset += bytes.length;
    }
    const json = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    const dir = join(workDir, "weights-rebuilt");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "weights.safetensors"), Buffer.concat([length, json, ...blobs]));
    await writeFile(join(dir, "config.json"), await readFile(source.configPath));
    const rebuilt = await buildFromWeights(dir);
    const again = readOnnxModel(await readFile(rebuilt.modelPath));
    for (const [name, t] of onnx.initializers) assert.deepEqual(again.initializers.get(name)?.values, t.values, name);
    assert.equal(again.nodes.length, onnx.nodes.length);

    // A missing or misshapen tensor is an error naming it.
    const parsed = parseSafetensors(await readFile(join(dir, "weights.safetensors")));
    assert.ok(parsed.tensors.has("encoder.layer.0.attention.self.query.weight"));
    const broken = JSON.parse(JSON.stringify(header)) as Record<string, { shape: number[] }>;
    delete broken["pooler.dense.weight"];
    const brokenJson = Buffer.from(JSON.stringify(broken));
    length.writeBigUInt64LE(BigInt(brokenJson.length));
    await writeFile(join(dir, "weights.safetensors"), Buffer.concat([length, brokenJson, ...blobs]));
    await assert.rejects(buildFromWeights(dir), /the weights have no tensor pooler\.dense\.weight \[32, 32\]/);
  });

  void test("models/default, as install built it, computes what PyTorch computed for the trained weights", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", join(REPO, "pretraining", "check-export.ts"), "--dir", DEFAULT_MODEL_DIR, "--reference", join(REPO, "test", "fixtures", "default-model-reference.json")],
      { cwd: REPO },
    );
    assert.match(stdout, /^fp32 .*max abs diff from PyTorch fp32 over real tokens .* \(ok\); hidden 256/m);
  });
});
