import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { POOLED_OUTPUTS, withPooledOutputs } from "../../src/backends/onnx/pooled-outputs.js";
import { joinChunks } from "../../tools/onnx/protobuf.js";
import { DataType, encodeModel, intAttr, intsAttr } from "../../tools/onnx/writer.js";
import { ROOT } from "../helpers/server-process.js";

const LENGTHS = [9, 5, 2, 9];
const SEQUENCE = 9;

/** A padded batch of rows of LENGTHS real tokens (ids differ per row and position). */
function feeds(session: ort.InferenceSession): Record<string, ort.Tensor> {
  const rows = LENGTHS.length;
  const ids = new BigInt64Array(rows * SEQUENCE);
  const mask = new BigInt64Array(rows * SEQUENCE);
  LENGTHS.forEach((length, b) => {
    for (let t = 0; t < length; t++) {
      ids[b * SEQUENCE + t] = t === 0 ? 101n : BigInt(1000 + 37 * b + t);
      mask[b * SEQUENCE + t] = 1n;
    }
  });
  const shape = [rows, SEQUENCE];
  const out: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", ids, shape), attention_mask: new ort.Tensor("int64", mask, shape) };
  if (session.inputNames.includes("token_type_ids")) out.token_type_ids = new ort.Tensor("int64", new BigInt64Array(rows * SEQUENCE), shape);
  return out;
}

/**
 * A stand-in encoder in ONNX opset 11 (ReduceSum takes its axes as an attribute there): each token's
 * state is its id times [1, 2, …, 8].
 */
function opset11Model(): Uint8Array {
  const width = 8;
  return joinChunks(encodeModel({
    irVersion: 6,
    opsetVersion: 11,
    producerName: "test",
    producerVersion: "0",
    docString: "",
    metadata: {},
    graph: {
      name: "g",
      nodes: [
        { name: "cast", opType: "Cast", inputs: ["input_ids"], outputs: ["ids"], attributes: { to: intAttr(DataType.FLOAT) } },
        { name: "unsqueeze", opType: "Unsqueeze", inputs: ["ids"], outputs: ["column"], attributes: { axes: intsAttr([2]) } },
        { name: "scale", opType: "Mul", inputs: ["column", "ramp"], outputs: ["last_hidden_state"], attributes: {} },
      ],
      initializers: [{ name: "ramp", dims: [1, 1, width], data: Float32Array.from({ length: width }, (_, i) => i + 1) }],
      inputs: [
        { name: "input_ids", elemType: DataType.INT64, shape: ["batch", "sequence"] },
        { name: "attention_mask", elemType: DataType.INT64, shape: ["batch", "sequence"] },
      ],
      outputs: [{ name: "last_hidden_state", elemType: DataType.FLOAT, shape: ["batch", "sequence", width] }],
    },
  }));
}

/** The model of `dir` (or `bytes`) against its rewrite. */
async function check(dir: string, bytes?: Uint8Array): Promise<void> {
  const file = join(dir, "model.onnx");
  const rewritten = withPooledOutputs(bytes ?? readFileSync(file), dir);
  assert.ok("bytes" in rewritten, `rewritten: ${"reason" in rewritten ? rewritten.reason : ""}`);
  const [original, pooled] = await Promise.all([bytes ? ort.InferenceSession.create(bytes) : ort.InferenceSession.create(file), ort.InferenceSession.create(rewritten.bytes)]);
  try {
    assert.deepEqual(pooled.outputNames.slice(0, original.outputNames.length), original.outputNames, "the model's own outputs stay");
    const want = await original.run(feeds(original));
    const got = await pooled.run(feeds(pooled));
    const hidden = want.last_hidden_state.data as Float32Array;
    assert.deepEqual(Array.from(got.last_hidden_state.data as Float32Array), Array.from(hidden), "last_hidden_state is unchanged");
    const width = hidden.length / (LENGTHS.length * SEQUENCE);
    const mean = got[POOLED_OUTPUTS.mean];
    const cls = got[POOLED_OUTPUTS.cls];
    assert.deepEqual(mean.dims, [LENGTHS.length, width]);
    assert.deepEqual(cls.dims, [LENGTHS.length, width]);
    let worst = 0;
    LENGTHS.forEach((length, b) => {
      for (let h = 0; h < width; h++) {
        let sum = 0;
        for (let t = 0; t < length; t++) sum += hidden[(b * SEQUENCE + t) * width + h];
        const want = sum / length;
        worst = Math.max(worst, Math.abs(want - (mean.data as Float32Array)[b * width + h]) / Math.max(1, Math.abs(want)));
        assert.equal((cls.data as Float32Array)[b * width + h], hidden[b * SEQUENCE * width + h]);
      }
    });
    assert.ok(worst < 1e-6, `mean pooling over the real tokens only: max relative diff ${worst}`);
  } finally {
    await Promise.all([original.release(), pooled.release()]);
  }
}

describe("pooling inside the graph", () => {
  it("adds mean and CLS outputs that equal pooling last_hidden_state over each row's real tokens", async () => {
    await check(join(ROOT, "models", "random-tiny"));
  });

  it("reads a torch export's external data into the rewritten model", async () => {
    await check(join(ROOT, "test", "fixtures", "hf-bert-export"));
  });

  it("writes ReduceSum for the graph's opset (axes an attribute before opset 13)", async () => {
    await check(ROOT, opset11Model());
  });

  it("says why when it cannot: not ONNX, or already rewritten", () => {
    const notOnnx = withPooledOutputs(new TextEncoder().encode("this is not a model"), ROOT);
    assert.ok("reason" in notOnnx && /not an ONNX model/.test(notOnnx.reason), JSON.stringify(notOnnx));
    const dir = join(ROOT, "models", "random-tiny");
    const once = withPooledOutputs(readFileSync(join(dir, "model.onnx")), dir);
    assert.ok("bytes" in once);
    const twice = withPooledOutputs(once.bytes, dir);
    assert.ok("reason" in twice && /already uses bertd's pooling names/.test(twice.reason), JSON.stringify(twice));
  });
});
