import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { POOLED_OUTPUTS, withPooledOutputs } from "../../src/backends/onnx/pooled-outputs.js";
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

async function check(dir: string): Promise<void> {
  const file = join(dir, "model.onnx");
  const rewritten = withPooledOutputs(readFileSync(file), dir);
  assert.ok("bytes" in rewritten, `rewritten: ${"reason" in rewritten ? rewritten.reason : ""}`);
  const [original, pooled] = await Promise.all([ort.InferenceSession.create(file), ort.InferenceSession.create(rewritten.bytes)]);
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
        worst = Math.max(worst, Math.abs(sum / length - (mean.data as Float32Array)[b * width + h]));
        assert.equal((cls.data as Float32Array)[b * width + h], hidden[b * SEQUENCE * width + h]);
      }
    });
    assert.ok(worst < 1e-5, `mean pooling over the real tokens only: max abs diff ${worst}`);
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
