// Devices and precisions as a user meets them on a machine without a GPU (CPU-only CI): --device cuda
// fails at start with a message naming the fix, --device auto serves on the CPU and says so, and
// --precision picks the weights file.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoding, Pooling } from "../../src/gen/bertd/v1/encoder_pb.js";
import { generateBertModel } from "../../tools/generator/index.js";
import { scrapeMetrics } from "../helpers/metrics.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

function gpuPresent(): boolean {
  try {
    execFileSync("nvidia-smi", ["-L"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const skipOnGpu = gpuPresent() ? "this machine has a GPU" : false;

function startFailure(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "bertd-device-"));
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--data-dir", dataDir, "--auth", "none", ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

async function embedAll(server: ServerProcess, texts: string[]): Promise<Float32Array[]> {
  const response = await server.encoder().unary("embed")({ inputs: texts, pooling: Pooling.MEAN, encoding: Encoding.BYTES });
  return response.embeddings.map((e) => new Float32Array(new Uint8Array(e.bytes).buffer));
}

describe("devices without a GPU", { skip: skipOnGpu }, () => {
  it("--device cuda exits at start with a message naming what is missing and the fix", async () => {
    const { code, stderr } = await startFailure(["--device", "cuda"]);
    assert.notEqual(code, 0);
    assert.match(stderr, /--device cuda:0: /);
    assert.match(stderr, /npm run cuda:install|these CUDA libraries are not found: .*libcu/);
    assert.doesNotMatch(stderr, /Segmentation|core dumped|at .*\.ts:\d+/);
  });

  it("--device auto serves on the CPU, warns, and reports the provider in GetModelInfo and the metric", async () => {
    const server = await startServer(["--device", "auto"]);
    try {
      const info = await server.encoder().unary("getModelInfo")({});
      assert.equal(info.executionProvider, "cpu");
      assert.ok(server.logs.some((l) => l.level === 40 && /--device auto: CUDA is not available, running on the CPU/.test(String(l.msg))), "a warning says auto fell back");
      const metrics = await scrapeMetrics(server);
      assert.equal(metrics.value("bertd_model_info", { provider: "cpu" }), 1);
      assert.equal((await embedAll(server, ["still serving"])).length, 1);
    } finally {
      await server.stop();
    }
  });
});

describe("--precision", () => {
  let dir: string;
  let fp32: ServerProcess;
  let fp16: ServerProcess;
  const texts = ["a fast text editor", "network packet analyzer with a graphical interface", "chess"];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "bertd-precision-"));
    await generateBertModel({ outDir: dir, layers: 2, hidden: 64, heads: 2, intermediate: 128, precision: "both" });
    [fp32, fp16] = await Promise.all([startServer(["--model-dir", dir]), startServer(["--model-dir", dir, "--precision", "fp16"])]);
  });
  after(async () => {
    await Promise.all([fp32?.stop(), fp16?.stop()]);
  });

  it("auto on the CPU loads model.onnx; fp16 loads model_fp16.onnx, whose embeddings stay close", async () => {
    const file = (s: ServerProcess) => String(s.logs.find((l) => l.msg === "serving")?.modelFile);
    assert.equal(file(fp32), join(dir, "model.onnx"));
    assert.equal(file(fp16), join(dir, "model_fp16.onnx"));
    const [a, b] = [await embedAll(fp32, texts), await embedAll(fp16, texts)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) worst = Math.max(worst, Math.abs(a[i][j] - b[i][j]));
    assert.ok(worst > 0 && worst < 0.05, `fp16 vs fp32 max abs diff ${worst}`);
  });

  it("an explicit precision whose file is missing stops the start naming the file", async () => {
    const { code, stderr } = await startFailure(["--precision", "fp16"]);
    assert.notEqual(code, 0);
    assert.match(stderr, /has no model_fp16\.onnx or onnx\/model_fp16\.onnx\b.* for --precision fp16/);
  });
});
