import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { float16Bits } from "../../tools/onnx/float16.js";
import { asFloat32 } from "../../src/backends/onnx/outputs.js";
import { ort } from "../../src/backends/onnx/session.js";

const halves = (values: number[]) => new ort.Tensor("float16", Uint16Array.from(values.map(float16Bits)), [values.length]);

describe("float16", () => {
  it("encodes IEEE binary16 exactly, rounding to nearest even", () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
      [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -26, 0x0000], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [-10000, 0xf0e2],
      [Infinity, 0x7c00], [-Infinity, 0xfc00],
    ];
    for (const [value, bits] of cases) assert.equal(float16Bits(value), bits, `${value}`);
    assert.equal(float16Bits(NaN) & 0x7c00, 0x7c00);
  });

  it("reads float16 outputs back as float32 within half a unit in the last place", () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const back = asFloat32(halves([x]))[0];
        const ulp = 2 ** (Math.max(-14, Math.floor(Math.log2(Math.abs(x) || 2 ** -14))) - 10);
        return Math.abs(back - x) <= ulp / 2 + 1e-12;
      }),
    );
    assert.deepEqual(Array.from(asFloat32(halves([1, -2, 0.5]))), [1, -2, 0.5]);
    assert.throws(() => asFloat32(new ort.Tensor("int32", Int32Array.of(1), [1])), /float32 or float16/);
  });
});
