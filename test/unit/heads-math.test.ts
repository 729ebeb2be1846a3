import fc from "fast-check";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, DEFAULT_TRAIN_CONFIG, resolveTrainConfig, type TrainConfig } from "../../src/heads/config.js";
import { holdoutPosition, isHoldout, murmur3_32 } from "../../src/heads/holdout.js";
import { LinearModel } from "../../src/heads/linear.js";
import { bceWithLogits, sigmoid, sigmoidBinaryCrossEntropy, softmaxCrossEntropy } from "../../src/heads/losses.js";
import { LabelConfusion, PrequentialStats, RECENT_WINDOW } from "../../src/heads/metrics.js";
import { gelu, geluDerivative, MlpModel, type HeadModel } from "../../src/heads/mlp.js";
import { RunningNormalizer, standardizeInto } from "../../src/heads/normalizer.js";
import { adamwStep, clipFactor, gradSquaredNorm, sgdStep } from "../../src/heads/optimizers.js";
import { ParamTensor } from "../../src/heads/params.js";
import { Prng } from "../../src/heads/prng.js";
import { learningRateAt } from "../../src/heads/schedules.js";
import { decodeState, encodeState, StateFormatError } from "../../src/heads/state.js";

const close = (actual: number, expected: number, tol: number, what = ""): void => {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
};

// ---------------------------------------------------------------------------------------------------------------
// Gradient checks: analytic backward of each loss × architecture vs central finite differences.

type LossKind = "multiclass" | "multilabel";

function makeModel(arch: "linear" | "mlp", dim: number, k: number, prng: Prng): HeadModel {
  const model = arch === "linear" ? new LinearModel(dim, k) : new MlpModel(dim, 6, k);
  for (const t of model.tensors) for (let i = 0; i < t.size; i++) t.value[i] = 0.5 * prng.nextNormal();
  return model;
}

function objective(model: HeadModel, kind: LossKind, x: Float64Array, k: number, grad: Float64Array | null): number {
  const logits = new Float64Array(k);
  const probs = new Float64Array(k);
  const g = new Float64Array(k);
  const result = new Float64Array(2);
  model.forward(x, logits);
  if (kind === "multiclass") {
    softmaxCrossEntropy(logits, k, 2, 1.7, probs, g, result);
  } else {
    const targets = Uint8Array.from([1, 0, 1, 0, 0]);
    const pos = Float64Array.from([2, 0.5, 1.5, 3, 1]);
    const neg = Float64Array.from([0.5, 1.2, 0.7, 0.6, 1]);
    sigmoidBinaryCrossEntropy(logits, k, targets, 1.3, pos, neg, probs, g, result);
  }
  if (grad) {
    grad.set(g);
    model.backward(x, g);
  }
  return result[1];
}

describe("gradient check", () => {
  for (const arch of ["linear", "mlp"] as const) {
    for (const kind of ["multiclass", "multilabel"] as const) {
      test(`${arch} × ${kind}`, () => {
        const prng = Prng.fromSeed(42);
        const dim = 7;
        const k = 5;
        const model = makeModel(arch, dim, k, prng);
        const x = Float64Array.from({ length: dim }, () => prng.nextNormal());
        objective(model, kind, x, k, new Float64Array(k));
        const h = 1e-6;
        let checked = 0;
        for (const t of model.tensors) {
          for (let i = 0; i < t.size; i++) {
            const saved = t.value[i];
            t.value[i] = saved + h;
            const plus = objective(model, kind, x, k, null);
            t.value[i] = saved - h;
            const minus = objective(model, kind, x, k, null);
            t.value[i] = saved;
            const numeric = (plus - minus) / (2 * h);
            assert.ok(Math.abs(t.grad[i] - numeric) <= 1e-6 * Math.max(1, Math.abs(numeric)), `${t.name}[${i}]: analytic ${t.grad[i]} vs numeric ${numeric}`);
            checked++;
          }
        }
        assert.ok(checked > 30);
      });
    }
  }

  test("GELU derivative", () => {
    for (const u of [-6, -2.5, -1, -0.3, 0, 0.2, 1, 3, 8]) {
      const numeric = (gelu(u + 1e-6) - gelu(u - 1e-6)) / 2e-6;
      close(geluDerivative(u), numeric, 1e-7, `gelu'(${u})`);
    }
    close(gelu(1), 0.8411919906082768, 1e-12, "gelu(1)"); // tanh approximation
  });

  test("losses stay finite and exact at extreme logits", () => {
    const z = Float64Array.from([1e4, -1e4, 0]);
    const probs = new Float64Array(3);
    const g = new Float64Array(3);
    const r = new Float64Array(2);
    softmaxCrossEntropy(z, 3, 1, 1, probs, g, r);
    assert.equal(r[0], 2e4);
    assert.deepEqual([...probs], [1, 0, 0]);
    softmaxCrossEntropy(z, 3, 0, 1, probs, g, r);
    assert.equal(r[0], 0);
    assert.equal(bceWithLogits(1e4, 0), 1e4);
    assert.equal(bceWithLogits(-1e4, 1), 1e4);
    assert.equal(bceWithLogits(1e4, 1), 0);
    assert.equal(sigmoid(-1e4), 0);
    assert.equal(sigmoid(1e4), 1);
    close(bceWithLogits(0, 1), Math.log(2), 1e-15);
    close(bceWithLogits(-40, 0), 4.248354255291589e-18, 1e-6); // log1p keeps tiny losses
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("schedules", () => {
  const base: TrainConfig = resolveTrainConfig({ learningRate: 0.1, warmupSteps: 10, decaySteps: 100, minLearningRateRatio: 0.2 });
  test("linear warmup then linear decay to the floor", () => {
    const c = { ...base, schedule: "linear" as const };
    close(learningRateAt(1, c), 0.01, 1e-15);
    close(learningRateAt(5, c), 0.05, 1e-15);
    close(learningRateAt(10, c), 0.1, 1e-15);
    close(learningRateAt(60, c), 0.1 * (1 - 0.8 * 0.5), 1e-15);
    close(learningRateAt(110, c), 0.02, 1e-15);
    close(learningRateAt(10_000, c), 0.02, 1e-15);
  });
  test("cosine", () => {
    const c = { ...base, schedule: "cosine" as const };
    close(learningRateAt(10, c), 0.1, 1e-15);
    close(learningRateAt(60, c), 0.1 * (0.2 + 0.8 * 0.5), 1e-12);
    close(learningRateAt(35, c), 0.1 * (0.2 + 0.8 * (1 + Math.cos(Math.PI / 4)) / 2), 1e-12);
    close(learningRateAt(110, c), 0.02, 1e-12);
    close(learningRateAt(500, c), 0.02, 1e-12);
  });
  test("constant, and no warmup", () => {
    const c = { ...base, schedule: "constant" as const, warmupSteps: 0 };
    assert.equal(learningRateAt(1, c), 0.1);
    assert.equal(learningRateAt(1e6, c), 0.1);
    assert.equal(learningRateAt(1, { ...base, warmupSteps: 0 }), 0.1 * (1 - 0.8 / 100));
  });
  test("the default schedule decays monotonically after warmup and never goes below the floor", () => {
    let prev = Infinity;
    for (let t = DEFAULT_TRAIN_CONFIG.warmupSteps; t < 2000; t += 7) {
      const lr = learningRateAt(t, DEFAULT_TRAIN_CONFIG);
      assert.ok(lr <= prev && lr >= DEFAULT_TRAIN_CONFIG.learningRate * DEFAULT_TRAIN_CONFIG.minLearningRateRatio * (1 - 1e-12));
      prev = lr;
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("optimizers", () => {
  function tensors(): [ParamTensor, ParamTensor] {
    const w = new ParamTensor("w", 2, 3, { decay: true, labelRows: true });
    const b = new ParamTensor("b", 2, 1, { decay: false, labelRows: true });
    w.value.set([1, -2, 3, 0.5, 0.25, -1]);
    b.value.set([2, -3]);
    return [w, b];
  }

  test("clipping bounds the global norm", () => {
    const [w, b] = tensors();
    w.grad.set([3, 4, 0, 0, 12, 0]);
    b.grad.set([0, 0]);
    const norm = Math.sqrt(gradSquaredNorm([w, b], 1));
    assert.equal(norm, 13);
    const f = clipFactor(norm, 1);
    close(Math.sqrt(gradSquaredNorm([w, b], f)), 1, 1e-6);
    assert.ok(Math.sqrt(gradSquaredNorm([w, b], f)) <= 1);
    assert.equal(clipFactor(norm, 0), 1, "0 = off");
    assert.equal(clipFactor(0.5, 1), 1, "within the bound: untouched");
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 6, maxLength: 6 }), fc.double({ min: 1e-3, max: 10, noNaN: true }), (g, max) => {
        w.grad.set(g);
        const n = Math.sqrt(gradSquaredNorm([w], 1));
        return Math.sqrt(gradSquaredNorm([w], clipFactor(n, max))) <= max * (1 + 1e-12);
      }),
      { numRuns: 200 },
    );
  });

  test("AdamW matches the formula; weight decay skips biases", () => {
    const [w, b] = tensors();
    w.grad.set([0.1, 0, -0.2, 0, 0, 0]);
    b.grad.set([0, 0.5]);
    const p = { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.5 };
    adamwStep([w, b], 1, [0, 0], 1, p);
    // Step 1: m̂ = g, v̂ = g², update = lr · g / (|g| + ε).
    close(w.value[0], 1 * (1 - 0.05) - 0.1 * (0.1 / (0.1 + 1e-8)), 1e-12, "w0");
    close(w.value[1], -2 * (1 - 0.05), 1e-15, "w1 (zero grad: decay only)");
    close(w.value[2], 3 * 0.95 + 0.1 * (0.2 / (0.2 + 1e-8)), 1e-12, "w2");
    assert.equal(b.value[0], 2, "bias with zero gradient untouched: no decay");
    close(b.value[1], -3 - 0.1, 1e-9, "bias b1");
    // Step 2 with the same gradient: bias-corrected moments equal g again.
    adamwStep([w, b], 2, [0, 0], 1, p);
    close(b.value[1], -3.2, 1e-8, "b1 after two steps");
  });

  test("AdamW bias correction counts a late row's steps from its birth", () => {
    const w = new ParamTensor("w", 1, 2, { decay: false, labelRows: true });
    for (let t = 1; t <= 50; t++) {
      w.grad.set([1, 1]);
      adamwStep([w], t, [0], 1, { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-12, weightDecay: 0 });
    }
    w.addRows(1);
    assert.equal(w.rows, 2);
    const before = [...w.value];
    w.grad.fill(0);
    w.grad.set([1, 1, 1, 1]);
    adamwStep([w], 51, [0, 50], 1, { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-12, weightDecay: 0 });
    close(w.value[2], -0.01, 1e-9, "fresh row moves by exactly lr on its first step");
    close(before[0] - w.value[0], 0.01, 1e-9, "old row keeps moving by lr for a constant gradient");
  });

  test("architectures decay weights, never biases", () => {
    const lin = new LinearModel(4, 2);
    const mlp = new MlpModel(4, 3, 2);
    assert.deepEqual(lin.tensors.map((t) => [t.name, t.decay]), [["w", true], ["b", false]]);
    assert.deepEqual(mlp.tensors.map((t) => [t.name, t.decay]), [["w1", true], ["b1", false], ["w2", true], ["b2", false]]);
  });

  test("SGD momentum with decoupled weight decay", () => {
    const [w, b] = tensors();
    w.grad.set([1, 0, 0, 0, 0, 0]);
    b.grad.set([1, 0]);
    const p = { lr: 0.1, momentum: 0.9, weightDecay: 0.1 };
    sgdStep([w, b], 1, p);
    close(w.value[0], 1 * 0.99 - 0.1, 1e-15);
    close(b.value[0], 2 - 0.1, 1e-15);
    assert.equal(b.value[1], -3);
    sgdStep([w, b], 1, p);
    close(w.value[0], (0.99 - 0.1) * 0.99 - 0.1 * 1.9, 1e-15);
    close(b.value[0], 1.9 - 0.19, 1e-15);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("normalizer", () => {
  test("Welford matches two-pass statistics; standardization gives zero mean, unit variance", () => {
    const prng = Prng.fromSeed(3);
    const rows = Array.from({ length: 200 }, () => Float32Array.from({ length: 5 }, (_, i) => 100 + (i + 1) * prng.nextNormal()));
    const norm = new RunningNormalizer(5);
    for (const r of rows) norm.update(r);
    const scale = norm.scale();
    for (let i = 0; i < 5; i++) {
      const mean = rows.reduce((a, r) => a + r[i], 0) / rows.length;
      const v = rows.reduce((a, r) => a + (r[i] - mean) ** 2, 0) / rows.length;
      close(norm.mean[i], mean, 1e-12, "mean");
      close(norm.m2[i] / rows.length, v, 1e-10, "var");
      close(1 / scale[i] ** 2, v, 1e-4, "scale");
    }
    const out = new Float64Array(5);
    let s = 0;
    let ss = 0;
    for (const r of rows) {
      standardizeInto(r, norm.mean, scale, out);
      s += out[2];
      ss += out[2] * out[2];
    }
    close(s / rows.length, 0, 1e-9);
    close(ss / rows.length, 1, 1e-5);
  });

  test("before two examples: centering only; constant features do not explode", () => {
    const norm = new RunningNormalizer(2);
    assert.deepEqual([...norm.scale()], [1, 1]);
    norm.update([3, 1]);
    assert.deepEqual([...norm.scale()], [1, 1]);
    assert.deepEqual([...norm.mean], [3, 1]);
    norm.update([5, 1]);
    const s = norm.scale();
    close(s[0], 1, 1e-5);
    assert.ok(Number.isFinite(s[1]) && s[1] < 2e3, `constant feature scale ${s[1]}`);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("holdout", () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  test("MurmurHash3 x86_32 reference vectors", () => {
    assert.equal(murmur3_32(enc(""), 0), 0);
    assert.equal(murmur3_32(enc(""), 1), 0x514e28b7);
    assert.equal(murmur3_32(enc(""), 0xffffffff), 0x81f16f39);
    assert.equal(murmur3_32(enc("hello"), 0), 0x248bfa47);
    assert.equal(murmur3_32(enc("hello, world"), 0), 0x149bbb7f);
    assert.equal(murmur3_32(enc("The quick brown fox jumps over the lazy dog"), 0), 0x2e4ff723);
    assert.equal(murmur3_32(Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0x5082edee), 0x2362f9de);
    assert.equal(murmur3_32(Uint8Array.of(0x21, 0x43, 0x65), 0), 0x7e4a8634);
  });

  test("deterministic, seed-dependent, about the right fraction, nested in the fraction", () => {
    // Pinned values: the split must never change between versions, processes or machines.
    assert.equal(holdoutPosition("example-1", 0), holdoutPosition("example-1", 0));
    const pinned = ["a", "b", "example-1", "ünïcødé"].map((id) => holdoutPosition(id, 12345));
    assert.deepEqual(pinned, ["a", "b", "example-1", "ünïcødé"].map((id) => holdoutPosition(id, 12345)));
    let held = 0;
    let differ = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const id = `id-${i}`;
      if (isHoldout(id, 0.1, 7)) {
        held++;
        assert.ok(isHoldout(id, 0.3, 7), "nested");
      }
      if (isHoldout(id, 0.1, 7) !== isHoldout(id, 0.1, 2 ** 40 + 7)) differ++;
      const u = holdoutPosition(id, 7);
      assert.ok(u >= 0 && u < 1);
    }
    assert.ok(Math.abs(held / n - 0.1) < 0.01, `fraction ${held / n}`);
    assert.ok(differ > n * 0.1, "the high seed bits matter");
    assert.equal(isHoldout("x", 0, 1), false);
  });
});

test("holdout positions are pinned across versions", () => {
  // Changing these breaks the holdout of every stored head: do not update them casually.
  const got = ["a", "example-1", "ünïcødé", ""].map((id) => holdoutPosition(id, 12345).toFixed(12));
  assert.deepEqual(got, PINNED_POSITIONS);
});
const PINNED_POSITIONS = ["0.900084787795", "0.231462954430", "0.799063863765", "0.235455147081"];

// ---------------------------------------------------------------------------------------------------------------

describe("prng", () => {
  test("seeded streams are reproducible and restorable", () => {
    const a = Prng.fromSeed(2 ** 50 + 3);
    const b = Prng.fromSeed(2 ** 50 + 3);
    const c = Prng.fromSeed(3);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextUint32()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.nextUint32()));
    const d = Prng.fromState(a.state());
    assert.equal(d.nextDouble(), a.nextDouble());
  });
  test("shuffle is a permutation; doubles in [0, 1)", () => {
    const p = Prng.fromSeed(9);
    const a = Int32Array.from({ length: 100 }, (_, i) => i);
    p.shuffle(a);
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    for (let i = 0; i < 1000; i++) {
      const u = p.nextDouble();
      assert.ok(u >= 0 && u < 1);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("config", () => {
  test("defaults are valid and frozen", () => {
    assert.deepEqual(resolveTrainConfig({}), DEFAULT_TRAIN_CONFIG);
    assert.ok(Object.isFrozen(resolveTrainConfig({ learningRate: 0.5 })));
    assert.equal(resolveTrainConfig({ learningRate: undefined }).learningRate, DEFAULT_TRAIN_CONFIG.learningRate);
  });

  const bad: [keyof TrainConfig | "nope", unknown][] = [
    ["learningRate", 0],
    ["learningRate", -1],
    ["learningRate", 11],
    ["learningRate", NaN],
    ["learningRate", Infinity],
    ["learningRate", "0.1"],
    ["batchSize", 0],
    ["batchSize", 4097],
    ["batchSize", 1.5],
    ["warmupSteps", -1],
    ["decaySteps", 2.5],
    ["minLearningRateRatio", 1.5],
    ["weightDecay", -0.1],
    ["maxGradNorm", -1],
    ["maxGradNorm", Infinity],
    ["momentum", 1],
    ["beta1", 1],
    ["beta2", -0.5],
    ["epsilon", 0],
    ["replayPasses", -1],
    ["replayPasses", 101],
    ["holdoutFraction", 0.95],
    ["holdoutFraction", -0.01],
    ["seed", -1],
    ["seed", 2 ** 53],
    ["seed", 0.5],
    ["hiddenSize", 0],
    ["optimizer", "adam"],
    ["schedule", "step"],
    ["classWeighting", "auto"],
    ["nope", 1],
  ];
  for (const [field, value] of bad) {
    test(`${field} = ${String(value)} is rejected naming the field`, () => {
      assert.throws(
        () => resolveTrainConfig({ [field]: value }),
        (err: unknown) => err instanceof ConfigError && err.field === field && err.message.includes(field),
      );
    });
  }

  test("cross-field rules", () => {
    assert.throws(() => resolveTrainConfig({ schedule: "cosine", decaySteps: 0 }), (e: unknown) => e instanceof ConfigError && e.field === "decaySteps");
    assert.equal(resolveTrainConfig({ schedule: "constant", decaySteps: 0 }).decaySteps, 0);
    assert.throws(() => resolveTrainConfig({ learningRate: 2, weightDecay: 0.5 }), (e: unknown) => e instanceof ConfigError && e.field === "weightDecay");
    assert.equal(resolveTrainConfig({ holdoutFraction: 0.9, seed: Number.MAX_SAFE_INTEGER }).holdoutFraction, 0.9);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("metrics", () => {
  test("macro-F1 over labels with support", () => {
    const c = new LabelConfusion();
    // label 0: TP 2, FP 1, FN 0 → 0.8; label 1: TP 0, FP 0, FN 1 → 0; label 2: nothing → excluded.
    c.add(0, true, true);
    c.add(0, true, true);
    c.add(0, false, true);
    c.add(1, true, false);
    c.add(2, false, false);
    close(c.macroF1(1), 0.4, 1e-15);
    assert.equal(new LabelConfusion().macroF1(1), 1);
  });
  test("prequential window", () => {
    const p = new PrequentialStats();
    for (let i = 0; i < RECENT_WINDOW; i++) p.record(false, 1);
    for (let i = 0; i < RECENT_WINDOW / 2; i++) p.record(true, 0);
    assert.equal(p.recentAccuracy, 0.5);
    close(p.accuracy, 1 / 3, 1e-15);
    close(p.meanLoss, 2 / 3, 1e-15);
  });
});

describe("state container", () => {
  test("round trip is exact, including -0, NaN payload-free values and subnormals", () => {
    const f = Float64Array.of(-0, Number.MIN_VALUE, 1 / 3, -1e308, NaN, Infinity);
    const u = Uint8Array.of(1, 2, 3);
    const bytes = encodeState(7, { hello: "wörld" }, new Map<string, Float64Array | Uint8Array>([["u", u], ["f", f]]));
    assert.equal(bytes.length % 8, 0);
    const d = decodeState(bytes);
    assert.equal(d.version, 7);
    assert.deepEqual(d.header, { hello: "wörld" });
    assert.deepEqual(d.arrays.get("u"), u);
    const g = d.arrays.get("f") as Float64Array;
    assert.ok(Object.is(g[0], -0));
    assert.deepEqual([...g].slice(1), [...f].slice(1));
  });
  test("corrupt input is a StateFormatError", () => {
    const bytes = encodeState(1, {}, new Map([["f", Float64Array.of(1, 2)]]));
    assert.throws(() => decodeState(bytes.subarray(0, bytes.length - 8)), StateFormatError);
    assert.throws(() => decodeState(Uint8Array.of(1, 2, 3)), StateFormatError);
    const bad = bytes.slice();
    bad[0] = 0;
    assert.throws(() => decodeState(bad), StateFormatError);
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    assert.throws(() => decodeState(longer), StateFormatError);
  });
});
