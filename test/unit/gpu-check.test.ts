import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGpuCheckArgs } from "../../bench/gpu-check.js";

describe("gpu:check arguments", () => {
  it("measures both model shapes at batch 1, 32, 128, 256 and length 32, 128 on cuda by default, appending to docs/benchmarks/serving.md", () => {
    const args = parseGpuCheckArgs([]);
    assert.equal(args.device, "cuda");
    assert.deepEqual(args.models, ["base", "minilm"]);
    assert.deepEqual(args.batches, [1, 32, 128, 256]);
    assert.deepEqual(args.sequences, [32, 128]);
    assert.match(args.out, /docs\/benchmarks\/serving\.md$/);
    assert.equal(args.append, true);
  });

  it("--quick is a small dry run that does not touch docs/benchmarks/serving.md", () => {
    const args = parseGpuCheckArgs(["--device", "cpu", "--quick"]);
    assert.deepEqual(args.models, ["default"]);
    assert.doesNotMatch(args.out, /docs\/benchmarks\/serving\.md$/);
  });

  it("rejects what it cannot measure honestly", () => {
    assert.throws(() => parseGpuCheckArgs(["--device", "auto"]), /auto would hide/);
    assert.throws(() => parseGpuCheckArgs(["--device", "tpu"]), /--device must be/);
    assert.throws(() => parseGpuCheckArgs(["--models", "huge"]), /unknown model "huge"/);
    assert.throws(() => parseGpuCheckArgs(["--seconds", "0"]), /--seconds must be a positive number/);
    assert.throws(() => parseGpuCheckArgs(["--bogus"]), /bogus/);
  });
});
