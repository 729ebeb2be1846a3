import assert from "node:assert/strict";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoding } from "../../src/gen/bertd/v1/encoder_pb.js";
import { FIDELITY_BAR } from "../../src/backends/onnx/fidelity.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { startCli } from "../helpers/cli-process.js";
import { RANDOM_MODEL_DIR, ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

const TEXTS = [
  "football match tonight",
  "bake the bread in a hot oven",
  "a short text",
  "The committee will publish its findings after reviewing all submissions, including late ones, early next year.",
  "terminal emulator with tabs",
  "x",
];

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

async function embed(server: ServerProcess, inputs: string[]): Promise<Float32Array[]> {
  const response = await server.encoder().unary("embed")({ inputs, encoding: Encoding.BYTES });
  return response.embeddings.map((e) => new Float32Array(new Uint8Array(e.bytes).buffer.slice(0)));
}

function copyModel(from: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bertd-quantize-"));
  for (const file of readdirSync(from)) if (!file.startsWith("model_")) cpSync(join(from, file), join(dir, file), { recursive: true });
  return dir;
}

async function quantizeCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return startCli(["quantize", ...args], {}).output;
}

function assertParity(reference: Float32Array[], candidate: Float32Array[]): void {
  const cosines = reference.map((r, i) => cosine(r, candidate[i]));
  const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
  assert.ok(mean >= FIDELITY_BAR.meanCosine, `mean cosine ${mean}`);
  assert.ok(Math.min(...cosines) >= FIDELITY_BAR.minCosine, `min cosine ${Math.min(...cosines)}`);
}

describe("bertd quantize → serve int8", () => {
  let dir: string;
  let dataDir: string;
  let run: { code: number | null; stdout: string; stderr: string };
  let leftAfterRun: string[];
  // The fixture of every test here (each must pass alone): a copy of random-tiny, quantized by the CLI.
  before(async () => {
    dir = copyModel(RANDOM_MODEL_DIR);
    dataDir = mkdtempSync(join(tmpdir(), "bertd-quantize-data-"));
    run = await quantizeCli(["--model-dir", dir]);
    leftAfterRun = readdirSync(dir);
    assert.equal(run.code, 0, run.stderr);
  });

  it("writes model_quantized.onnx and prints the fidelity against fp32, batched and unbatched", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /quantized \d+ MatMuls to int8/);
    // Above the fidelity bar, printed to 5 digits (random-tiny's int8 cosines round to 1.00000).
    for (const line of [/one text at a time: mean ([01]\.\d{5}), min ([01]\.\d{5})$/m, /batches of 16: +mean ([01]\.\d{5}), min ([01]\.\d{5})$/m]) {
      const [, mean, min] = line.exec(run.stdout) ?? assert.fail(`no line ${line} in ${run.stdout}`);
      assert.ok(Number(mean) >= FIDELITY_BAR.meanCosine && Number(mean) <= 1, `mean ${mean}`);
      assert.ok(Number(min) >= FIDELITY_BAR.minCosine && Number(min) <= Number(mean), `min ${min}`);
    }
    assert.equal(run.stderr, "", "no warning: random-tiny stays above the bar");
    assert.ok(leftAfterRun.includes("model_quantized.onnx"));
    assert.deepEqual(leftAfterRun.filter((f) => f.endsWith(".tmp") || f.endsWith(".probe")), [], "no temporary file left");
  });

  it("a head taught on fp32 keeps serving, and agrees, when the server restarts on int8", async () => {
    const fp32 = await startServer(["--model-dir", dir, "--data-dir", dataDir, "--precision", "fp32"]);
    let reference: Float32Array[];
    let classified: string[];
    let fp32Info;
    try {
      fp32Info = await fp32.encoder().unary("getModelInfo")({});
      assert.equal(fp32Info.precision, "fp32");
      assert.equal(fp32Info.modelFile, "model.onnx");
      assert.equal(fp32Info.headIdentity, fp32Info.modelHash);
      const taught = await adapt(fp32.heads(), { head: "topics", labels: ["sport", "food"] }, toyExamples(120));
      assert.equal(taught.committed.length, 1);
      reference = await embed(fp32, TEXTS);
      const response = await fp32.encoder().unary("classify")({ head: "topics", inputs: TEXTS });
      classified = response.predictions.map((p) => p.labels[0].label);
    } finally {
      await fp32.stop();
    }
    const int8 = await startServer(["--model-dir", dir, "--data-dir", dataDir]);
    try {
      const info = await int8.encoder().unary("getModelInfo")({});
      assert.equal(info.precision, "int8", "auto serves int8 on the CPU");
      assert.equal(info.modelFile, "model_quantized.onnx");
      assert.notEqual(info.modelHash, fp32Info.modelHash);
      assert.equal(info.headIdentity, fp32Info.modelHash, "the int8 file shares the fp32 file's head identity");
      const serving = int8.logs.find((l) => l.msg === "serving")!;
      assert.equal(serving.precision, "int8");
      assertParity(reference, await embed(int8, TEXTS));
      const unbatched = [];
      for (const text of TEXTS) unbatched.push(...(await embed(int8, [text])));
      assertParity(reference, unbatched);
      const response = await int8.encoder().unary("classify")({ head: "topics", inputs: TEXTS });
      assert.equal(response.headVersion, 1);
      assert.deepEqual(response.predictions.map((p) => p.labels[0].label), classified);
    } finally {
      await int8.stop();
    }
  });

  it("bertd info names the file and precision served", async () => {
    const server = await startServer(["--model-dir", dir, "--precision", "int8"]);
    try {
      const run = await startCli(["info", "--json", "--address", server.address], {}).output;
      assert.equal(run.code, 0, run.stderr);
      const fields = JSON.parse(run.stdout) as Record<string, string>;
      assert.equal(fields.model_file, "model_quantized.onnx");
      assert.equal(fields.precision, "int8");
    } finally {
      await server.stop();
    }
  });

  it("--model-file serves any file of the directory", async () => {
    copyFileSync(join(dir, "model_quantized.onnx"), join(dir, "my-export.onnx"));
    const server = await startServer(["--model-dir", dir, "--model-file", "my-export.onnx"]);
    try {
      const info = await server.encoder().unary("getModelInfo")({});
      assert.equal(info.modelFile, "my-export.onnx");
      assert.equal(info.precision, "int8", "an unknown name is told int8 by its integer MatMul ops");
    } finally {
      await server.stop();
    }
  });
});

describe("bertd quantize refuses what it cannot do, in one line", () => {
  let dir: string;
  before(() => {
    dir = copyModel(RANDOM_MODEL_DIR);
  });

  const refuses = async (args: string[], pattern: RegExp): Promise<void> => {
    const run = await quantizeCli(args);
    assert.notEqual(run.code, 0);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], pattern);
  };

  it("a file that is not ONNX", async () => {
    writeFileSync(join(dir, "not-onnx.onnx"), "this is a text file, not a model\n");
    await refuses(["--model-dir", dir, "--model-file", "not-onnx.onnx", "--out", join(dir, "out.onnx")], /^bertd: not an ONNX model/);
    assert.ok(!existsSync(join(dir, "out.onnx")));
  });

  it("an already quantized graph", async () => {
    const first = await quantizeCli(["--model-dir", dir, "--no-check", "--quiet"]);
    assert.equal(first.code, 0, first.stderr);
    await refuses(["--model-dir", dir, "--model-file", "model_quantized.onnx", "--out", join(dir, "twice.onnx")], /^bertd: the graph is already quantized/);
    assert.ok(!existsSync(join(dir, "twice.onnx")));
  });

  it("an unwritable output", async () => {
    await refuses(["--model-dir", dir, "--out", join(dir, "no-such-dir", "x.onnx")], /^bertd: cannot write .*x\.onnx: ENOENT/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, "locked");
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      await refuses(["--model-dir", dir, "--out", join(locked, "x.onnx")], /^bertd: cannot write .*: EACCES/);
    }
  });

  it("a missing directory, a missing --model-dir, bad --weight-bits", async () => {
    await refuses(["--model-dir", join(dir, "nope")], /^bertd: model directory .* does not exist/);
    await refuses([], /^bertd: --model-dir DIR is required/);
    await refuses(["--model-dir", dir, "--weight-bits", "4"], /^bertd: --weight-bits must be 8 or 7/);
  });
});

/** test/fixtures/hf-bert-export: what torch.onnx.export writes for a BertModel, weights in model.onnx_data (its README says how it was made). */
const HF_EXPORT = join(ROOT, "test", "fixtures", "hf-bert-export");

describe("a torch-exported Hugging Face BERT with external data", () => {
  let dir: string;
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.stop();
  });

  it("quantizes (reading model.onnx_data) and serves int8 within the fidelity bar", async () => {
    dir = mkdtempSync(join(tmpdir(), "bertd-hf-export-"));
    cpSync(HF_EXPORT, dir, { recursive: true });
    assert.ok(existsSync(join(dir, "model.onnx_data")));
    const run = await quantizeCli(["--model-dir", dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /quantized 12 MatMuls/);
    const fp32 = await startServer(["--model-dir", dir, "--precision", "fp32"]);
    let reference: Float32Array[];
    try {
      reference = await embed(fp32, TEXTS);
    } finally {
      await fp32.stop();
    }
    server = await startServer(["--model-dir", dir]);
    const info = await server.encoder().unary("getModelInfo")({});
    assert.equal(info.precision, "int8");
    assertParity(reference, await embed(server, TEXTS));
  });
});
