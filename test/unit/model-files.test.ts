import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { MODEL_FILE_VARIANTS, weightsOfFile } from "../../src/backends/onnx/model-files.js";
import { readModelDirectory } from "../../src/core/model-directory.js";

function dirWith(...files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "bertd-model-files-"));
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), "");
  }
  return dir;
}

const PUBLISHED = [
  ["model.onnx", "fp32"], ["model_O1.onnx", "fp32"], ["model_O2.onnx", "fp32"], ["model_O3.onnx", "fp32"],
  ["model_fp16.onnx", "fp16"], ["model_O4.onnx", "fp16"],
  ["model_quantized.onnx", "int8"], ["model_int8.onnx", "int8"], ["model_uint8.onnx", "int8"], ["model_qint8_avx512_vnni.onnx", "int8"],
  ["model_qint8_avx512.onnx", "int8"], ["model_qint8_arm64.onnx", "int8"], ["model_quint8_avx2.onnx", "int8"],
] as const;

describe("model file variants", () => {
  it("every published name resolves, at the top level and under onnx/, alone in its directory", () => {
    for (const [name, weights] of PUBLISHED) {
      for (const file of [name, `onnx/${name}`]) {
        assert.ok(MODEL_FILE_VARIANTS.some((v) => v.file === file && v.weights === weights), file);
        assert.equal(weightsOfFile(file), weights);
        const dir = dirWith(file);
        const asked = readModelDirectory(dir, { precision: weights });
        assert.equal(asked.modelFile, file);
        assert.equal(asked.weights, weights);
        // auto finds it too, on either device, whatever it holds
        assert.equal(readModelDirectory(dir, { device: "cpu" }).modelFile, file);
        assert.equal(readModelDirectory(dir, { device: "cuda" }).modelFile, file);
      }
    }
  });

  it("auto prefers int8 on the CPU and fp16 on CUDA; a precision asked for wins", () => {
    const dir = dirWith("model.onnx", "model_fp16.onnx", "model_quantized.onnx");
    assert.equal(readModelDirectory(dir, { device: "cpu" }).modelFile, "model_quantized.onnx");
    assert.equal(readModelDirectory(dir, { device: "cuda" }).modelFile, "model_fp16.onnx");
    assert.equal(readModelDirectory(dir, { precision: "fp32" }).modelFile, "model.onnx");
    assert.equal(readModelDirectory(dir, { precision: "int8", device: "cuda" }).modelFile, "model_quantized.onnx");
    const plain = dirWith("model.onnx", "onnx/model_O2.onnx");
    assert.equal(readModelDirectory(plain, { device: "cpu" }).modelFile, "model.onnx");
  });

  it("a precision the directory lacks fails with the names it looked for", () => {
    const dir = dirWith("model.onnx");
    assert.throws(() => readModelDirectory(dir, { precision: "int8" }), /has no model_.*\.onnx.* for --precision int8/);
  });

  it("--model-file serves any file, and refuses a missing one or one that contradicts --precision", () => {
    const dir = dirWith("model.onnx", "exports/custom.onnx", "model_quantized.onnx");
    const custom = readModelDirectory(dir, { modelFile: "exports/custom.onnx", precision: "fp32" });
    assert.equal(custom.modelFile, "exports/custom.onnx");
    assert.equal(custom.weights, "fp32");
    assert.throws(() => readModelDirectory(dir, { modelFile: "nope.onnx" }), /--model-file nope\.onnx: .* does not exist/);
    assert.throws(() => readModelDirectory(dir, { modelFile: "model_quantized.onnx", precision: "fp32" }), /holds int8 weights, not the --precision fp32/);
  });
});
