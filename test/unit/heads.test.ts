import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  classWeight,
  ConfigError,
  DEFAULT_TRAIN_CONFIG,
  HeadTrainer,
  isHoldout,
  StateFormatError,
  type HeadSpec,
  type LabelledExample,
  type LearnOutcome,
  type Rejected,
  type TrainConfig,
} from "../../src/heads/index.js";
import { Prng } from "../../src/heads/prng.js";
import { decodeState, encodeState, type StateArray } from "../../src/heads/state.js";

// ---------------------------------------------------------------------------------------------------------------
// Toy data

/** Gaussian blobs: `k` well-separated class centres in `dim` dimensions, on top of a large common offset. */
function blobs(n: number, dim: number, k: number, seed: number, spread = 0.5): LabelledExample[] {
  const prng = Prng.fromSeed(seed);
  const centres = Array.from({ length: k }, () => Float64Array.from({ length: dim }, () => 3 * prng.nextNormal()));
  const offset = Float64Array.from({ length: dim }, () => 10 * prng.nextNormal());
  const data = Prng.fromSeed(seed + 1);
  return Array.from({ length: n }, () => {
    const c = data.nextInt(k);
    const features = Float32Array.from({ length: dim }, (_, i) => offset[i] + centres[c][i] + spread * data.nextNormal());
    return { features, labels: [`class-${c}`] };
  });
}

/**
 * Multilabel toy: label j (j < 4) is on when feature j is positive; features j < 4 stay at least 0.5 away from 0
 * (a margin), the others are noise. 0..4 labels per example.
 */
function multilabelToy(n: number, dim: number, seed: number): LabelledExample[] {
  const prng = Prng.fromSeed(seed);
  return Array.from({ length: n }, () => {
    const features = Float32Array.from({ length: dim }, () => prng.nextNormal());
    const labels: string[] = [];
    for (let j = 0; j < 4; j++) {
      const on = prng.nextDouble() < 0.4;
      features[j] = (on ? 1 : -1) * (0.5 + Math.abs(features[j]));
      if (on) labels.push(`tag-${j}`);
    }
    return { features, labels };
  });
}

const isRejected = (r: LearnOutcome | Rejected): r is Rejected => "rejected" in r;

function spec(over: Partial<HeadSpec> = {}): HeadSpec {
  return { type: "multiclass", architecture: "linear", inputDim: 16, labels: ["a", "b", "c"], allowNewLabels: false, ...over };
}

function feed(t: HeadTrainer, examples: readonly LabelledExample[]): void {
  for (const ex of examples) {
    const r = t.learn(ex);
    assert.ok(!isRejected(r), isRejected(r) ? r.rejected : "");
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

// ---------------------------------------------------------------------------------------------------------------

describe("learning", () => {
  test("separable blobs (D = 64, 4 classes): 100% holdout accuracy after one streamed pass + replay", () => {
    const all = blobs(1200, 64, 4, 5).map((ex, i) => ({ ...ex, id: `ex-${i}` }));
    const holdout = all.filter((ex) => isHoldout(ex.id, 0.2, 1));
    const training = all.filter((ex) => !isHoldout(ex.id, 0.2, 1));
    assert.ok(holdout.length > 150 && training.length > 850);
    const t = HeadTrainer.create({ ...spec({ inputDim: 64, labels: [], allowNewLabels: true }) });
    feed(t, training);
    t.flush();
    const afterStream = t.evaluate(holdout);
    assert.ok(afterStream.accuracy > 0.97, `stream only: ${afterStream.accuracy}`);
    const r = t.replay(training, DEFAULT_TRAIN_CONFIG.replayPasses);
    assert.equal(r.examples, training.length);
    const m = t.evaluate(holdout);
    assert.equal(m.examples, holdout.length);
    assert.equal(m.accuracy, 1);
    assert.equal(m.macroF1, 1);
    assert.ok(m.logLoss < 0.05, `logLoss ${m.logLoss}`);
    assert.ok(t.stats.prequentialAccuracy > 0.9, `prequential ${t.stats.prequentialAccuracy}`);
    assert.equal(t.stats.examplesSeen, training.length);
    assert.deepEqual([...t.labels].sort(), ["class-0", "class-1", "class-2", "class-3"]);
    assert.ok(t.isFinite());
  });

  test("MLP on blobs", () => {
    const data = blobs(700, 32, 3, 8);
    const t = HeadTrainer.create({ ...spec({ inputDim: 32, architecture: "mlp", labels: ["class-0", "class-1", "class-2"] }) }, { hiddenSize: 16, learningRate: 0.005 });
    feed(t, data.slice(0, 500));
    t.replay(data.slice(0, 500), 2);
    assert.equal(t.evaluate(data.slice(500)).accuracy, 1);
  });

  test("multilabel toy task is learned (exact-set accuracy, macro-F1, zero-label examples)", () => {
    const data = multilabelToy(2600, 12, 3);
    assert.ok(data.some((ex) => ex.labels.length === 0) && data.some((ex) => ex.labels.length >= 2));
    const t = HeadTrainer.create(spec({ type: "multilabel", inputDim: 12, labels: ["tag-0", "tag-1", "tag-2", "tag-3"] }), { learningRate: 0.01 });
    feed(t, data.slice(0, 2000));
    t.replay(data.slice(0, 2000), 3);
    const m = t.evaluate(data.slice(2000));
    assert.ok(m.accuracy > 0.9, `exact-set accuracy ${m.accuracy}`);
    assert.ok(m.macroF1 > 0.95, `macroF1 ${m.macroF1}`);
    assert.ok(m.logLoss < Math.log(2) / 2, `logLoss ${m.logLoss} (chance: ln 2)`);
    const p = t.predict(data[2000].features);
    assert.equal(p.length, 4);
    for (const v of p) assert.ok(v >= 0 && v <= 1);
  });

  test("new labels mid-stream grow the head; unknown labels are rejected when not allowed", () => {
    const data = blobs(600, 16, 4, 21);
    const first = data.filter((ex) => ex.labels[0] !== "class-3");
    const later = data.filter((ex) => ex.labels[0] === "class-3");
    const t = HeadTrainer.create(spec({ labels: [], allowNewLabels: true }), { batchSize: 8, learningRate: 0.01 });
    feed(t, first.slice(0, 200));
    assert.equal(t.labels.length, 3);
    const r = t.learn(later[0]) as LearnOutcome;
    assert.equal(r.correct, false, "a label the head did not have cannot have been predicted");
    assert.ok(Number.isFinite(r.loss));
    assert.equal(t.labels.length, 4);
    assert.equal(t.labels[3], "class-3");
    const rest = first.slice(200);
    feed(t, later.slice(1).flatMap((ex, i) => [ex, ...rest.slice(2 * i, 2 * i + 2)]));
    t.replay([...first, ...later], 2);
    const counts = t.labelCountsSnapshot();
    assert.equal(counts.length, 4);
    assert.ok(t.evaluate(data).accuracy > 0.98);
    assert.equal(t.predict(later[1].features).length, 4);
    // Growth survives serialization.
    const restored = HeadTrainer.restore(t.serialize());
    assert.deepEqual(restored.labels, t.labels);
    assert.deepEqual(restored.predict(later[2].features), t.predict(later[2].features));

    const closed = HeadTrainer.create(spec({ inputDim: 16 }));
    const before = closed.serialize();
    const rej = closed.learn({ features: new Float32Array(16), labels: ["zebra"] });
    assert.ok(isRejected(rej) && rej.rejected.includes('"zebra"'), JSON.stringify(rej));
    assert.equal(closed.stats.rejectedExamples, 1);
    const after = decodeState(closed.serialize());
    const beforeDecoded = decodeState(before);
    assert.deepEqual({ ...after.header, rejected: 0 }, { ...beforeDecoded.header, rejected: 0 });
    assert.deepEqual(after.arrays, beforeDecoded.arrays);
  });

  test("prequential: each prediction uses the head from before the example (parameters and normalizer)", () => {
    const data = blobs(300, 16, 3, 31).map((ex) => ({ ...ex, labels: [ex.labels[0].replace("class-", "")] }));
    const t = HeadTrainer.create(spec({ labels: ["0", "1", "2"] }), { batchSize: 1, learningRate: 0.05 });
    let correct = 0;
    for (const ex of data) {
      const before = t.freeze();
      const probs = before.predict(ex.features);
      const r = t.learn(ex) as LearnOutcome;
      assert.deepEqual(r.predicted, before.predictLabels(ex.features));
      const y = t.labels.indexOf(ex.labels[0]);
      assert.ok(Math.abs(r.loss - -Math.log(probs[y])) < 1e-9 * Math.max(1, r.loss), `loss ${r.loss} vs ${-Math.log(probs[y])}`);
      if (r.correct) correct++;
      assert.equal(r.correct, r.predicted[0] === ex.labels[0]);
    }
    assert.equal(t.stats.prequentialAccuracy, correct / data.length);
    assert.equal(t.stats.steps, data.length);
    // The very first prediction comes from an untouched, zero-initialised head: uniform, so label "0" wins the tie.
    const fresh = HeadTrainer.create(spec({ labels: ["0", "1", "2"] }), { batchSize: 1 });
    const first = fresh.learn(data[0]) as LearnOutcome;
    assert.deepEqual(first.predicted, ["0"]);
    assert.ok(Math.abs(first.loss - Math.log(3)) < 1e-12);
  });

  test("per-example weight multiplies the loss (SGD step is exactly proportional)", () => {
    const ex = blobs(2, 16, 3, 4)[0];
    const cfg: Partial<TrainConfig> = { optimizer: "sgd", momentum: 0, weightDecay: 0, maxGradNorm: 0, warmupSteps: 0, schedule: "constant", batchSize: 1, learningRate: 0.1 };
    const two = [1, 2].map((weight) => {
      const t = HeadTrainer.create(spec({ labels: [ex.labels[0], "other"] }), cfg);
      t.learn({ ...ex, weight });
      const restored = decodeState(t.serialize());
      return (restored.arrays.get("b.value") as Float64Array)[0];
    });
    assert.ok(two[0] > 0);
    assert.ok(Math.abs(two[1] - 2 * two[0]) < 1e-15, `${two[1]} vs 2 × ${two[0]}`);
  });

  test("class weighting 'balanced' follows n / (K · count) and changes training", () => {
    assert.equal(classWeight(100, 4, 25), 1);
    assert.equal(classWeight(100, 4, 5), 5);
    assert.equal(classWeight(10, 2, 1), 5);
    const data = blobs(300, 16, 3, 9, 3).filter((ex, i) => ex.labels[0] !== "class-2" || i % 5 === 0);
    const run = (classWeighting: "none" | "balanced" | "sqrt_balanced"): Uint8Array => {
      const t = HeadTrainer.create(spec({ labels: ["class-0", "class-1", "class-2"] }), { classWeighting });
      feed(t, data);
      t.flush();
      return t.serialize();
    };
    assert.ok(!sameBytes(run("none"), run("balanced")));
    assert.ok(!sameBytes(run("sqrt_balanced"), run("balanced")));
    assert.ok(!sameBytes(run("sqrt_balanced"), run("none")));
    for (const classWeighting of ["balanced", "sqrt_balanced"] as const) {
      const m = HeadTrainer.create(spec({ type: "multilabel", labels: ["tag-0", "tag-1"], inputDim: 12 }), { classWeighting });
      feed(m, multilabelToy(100, 12, 4).map((ex) => ({ ...ex, labels: ex.labels.filter((l) => l === "tag-0" || l === "tag-1") })));
      assert.ok(m.isFinite());
      assert.equal(HeadTrainer.restore(m.serialize()).config.classWeighting, classWeighting);
    }
  });

  test("replay trains only: no prequential records, normalizer or label counts; skips unknown labels", () => {
    const data = blobs(200, 16, 3, 12);
    const t = HeadTrainer.create(spec({ labels: ["class-0", "class-1", "class-2"] }));
    feed(t, data);
    const stats = t.stats;
    const norm = decodeState(t.serialize()).arrays.get("normalizer.mean");
    const r = t.replay([...data, { features: data[0].features, labels: ["nope"] }, { features: new Float32Array(3), labels: ["class-0"] }], 2);
    assert.equal(r.examples, 200);
    assert.equal(r.skipped, 2);
    assert.equal(r.passes, 2);
    assert.ok(r.steps >= Math.floor(400 / 32));
    assert.equal(t.stats.examplesSeen, stats.examplesSeen);
    assert.equal(t.stats.prequentialAccuracy, stats.prequentialAccuracy);
    assert.equal(t.stats.pendingExamples, 0);
    assert.deepEqual(decodeState(t.serialize()).arrays.get("normalizer.mean"), norm);
    assert.deepEqual(t.labels, ["class-0", "class-1", "class-2"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("non-finite safety", () => {
  test("non-finite or malformed input is rejected and changes nothing", () => {
    const t = HeadTrainer.create(spec());
    feed(t, blobs(40, 16, 3, 2).map((ex) => ({ ...ex, labels: [["a", "b", "c"][Number(ex.labels[0].slice(-1))]] })));
    const before = t.serialize();
    const bad: [LabelledExample, string][] = [
      [{ features: Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? NaN : 1)), labels: ["a"] }, "feature 3"],
      [{ features: Float32Array.from({ length: 16 }, (_, i) => (i === 7 ? -Infinity : 1)), labels: ["a"] }, "feature 7"],
      [{ features: new Float32Array(15), labels: ["a"] }, "dimension 15"],
      [{ features: new Float32Array(16), labels: ["a"], weight: 0 }, "weight"],
      [{ features: new Float32Array(16), labels: ["a"], weight: NaN }, "weight"],
      [{ features: new Float32Array(16), labels: ["a", "b"] }, "exactly one"],
      [{ features: new Float32Array(16), labels: [] }, "exactly one"],
      [{ features: new Float32Array(16), labels: [""] }, "non-empty"],
    ];
    for (const [ex, why] of bad) {
      const r = t.learn(ex);
      assert.ok(isRejected(r) && r.rejected.includes(why), `${why}: ${JSON.stringify(r)}`);
    }
    const after = decodeState(t.serialize());
    const b = decodeState(before);
    assert.equal(after.header.rejected, bad.length);
    assert.deepEqual({ ...after.header, rejected: 0 }, { ...b.header, rejected: 0 });
    assert.deepEqual(after.arrays, b.arrays);
    assert.throws(() => t.predict(new Float32Array(16).fill(NaN)), RangeError);
    assert.throws(() => t.freeze().predict(new Float32Array(3)), RangeError);
  });

  test("a batch with a non-finite loss or gradient is skipped and counted", () => {
    const t = HeadTrainer.create(spec(), { batchSize: 2 });
    const x = blobs(4, 16, 3, 1);
    feed(t, [{ ...x[0], labels: ["a"] }, { ...x[1], labels: ["b"] }]);
    assert.equal(t.stats.steps, 1);
    const params = decodeState(t.serialize()).arrays.get("w.value");
    // A finite but absurd weight overflows the batch objective to Infinity.
    t.learn({ ...x[2], labels: ["c"], weight: 1e308 });
    t.learn({ ...x[3], labels: ["c"], weight: 1e308 });
    assert.equal(t.stats.skippedUpdates, 1);
    assert.equal(t.stats.steps, 1);
    assert.equal(t.stats.pendingExamples, 0);
    assert.deepEqual(decodeState(t.serialize()).arrays.get("w.value"), params);
    assert.ok(t.isFinite());
    t.learn({ ...x[2], labels: ["c"] });
    t.flush();
    assert.equal(t.stats.steps, 2);
  });

  test("isFinite() sees a non-finite weight (e.g. from a damaged state)", () => {
    const t = HeadTrainer.create(spec());
    const { version, header, arrays } = decodeState(t.serialize());
    const w = (arrays.get("w.value") as Float64Array).slice();
    w[5] = NaN;
    const tampered = new Map<string, StateArray>(arrays);
    tampered.set("w.value", w);
    const damaged = HeadTrainer.restore(encodeState(version, header, tampered));
    assert.equal(damaged.isFinite(), false);
    assert.equal(t.isFinite(), true);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("determinism, serialization, resume", () => {
  const variants: [string, Partial<HeadSpec>, Partial<TrainConfig>][] = [
    ["linear multiclass adamw", {}, { batchSize: 7 }],
    ["mlp multiclass sgd cosine", { architecture: "mlp" }, { optimizer: "sgd", schedule: "cosine", decaySteps: 40, hiddenSize: 8, batchSize: 5, learningRate: 0.05 }],
    ["linear multilabel balanced", { type: "multilabel" }, { classWeighting: "balanced", batchSize: 6, maxGradNorm: 0.1 }],
    ["mlp multilabel new labels", { type: "multilabel", architecture: "mlp", allowNewLabels: true, labels: [] }, { hiddenSize: 5, batchSize: 4, seed: 2 ** 52 + 1 }],
  ];

  function dataFor(s: HeadSpec): LabelledExample[] {
    if (s.type === "multiclass") return blobs(230, 16, 3, 77).map((ex) => ({ ...ex, labels: [["a", "b", "c"][Number(ex.labels[0].slice(-1))]], weight: 0.5 + (ex.features[0] > 10 ? 1 : 0) }));
    return multilabelToy(230, 16, 78).map((ex) => ({ ...ex, labels: ex.labels.map((l) => (s.allowNewLabels ? l : ["a", "b", "c"][Number(l.slice(-1)) % 3])) }));
  }

  for (const [name, specOver, cfg] of variants) {
    test(`${name}: same inputs → identical bytes; A, serialize, restore, B ≡ A then B`, () => {
      const s = spec(specOver);
      const data = dataFor(s);
      const a = data.slice(0, 101); // not a multiple of the batch size: a partial batch is pending
      const b = data.slice(101, 200);
      const holdout = data.slice(200);

      const one = HeadTrainer.create(s, cfg);
      feed(one, a);
      assert.ok(one.stats.pendingExamples > 0);
      const mid = one.serialize();
      feed(one, b);
      one.replay([...a, ...b], 2);
      feed(one, a.slice(0, 9));

      const two = HeadTrainer.restore(mid);
      assert.ok(sameBytes(two.serialize(), mid), "restore → serialize is the identity");
      feed(two, b);
      two.replay([...a, ...b], 2);
      feed(two, a.slice(0, 9));

      const three = HeadTrainer.create(s, cfg);
      feed(three, a);
      feed(three, b);
      three.replay([...a, ...b], 2);
      feed(three, a.slice(0, 9));

      const sliced = HeadTrainer.create(s, cfg);
      feed(sliced, a);
      feed(sliced, b);
      const slices = sliced.replayInSlices([...a, ...b], 2, 7);
      let pauses = 0;
      let next = slices.next();
      for (; !next.done; next = slices.next()) pauses++;
      assert.equal(pauses, 2 * Math.floor(200 / 7), "one pause every 7 examples of each pass");
      assert.equal(next.value.examples, 200);
      feed(sliced, a.slice(0, 9));

      const bytes = one.serialize();
      assert.ok(sameBytes(bytes, two.serialize()), "resumed ≡ uninterrupted");
      assert.ok(sameBytes(bytes, three.serialize()), "deterministic");
      assert.ok(sameBytes(bytes, sliced.serialize()), "replay in slices ≡ replay");
      assert.deepEqual(one.stats, two.stats);
      assert.deepEqual(one.evaluate(holdout), two.evaluate(holdout));
      for (const ex of holdout.slice(0, 5)) assert.deepEqual(one.predict(ex.features), two.predict(ex.features));
      assert.ok(one.isFinite());
    });
  }

  test("different seeds give different MLP initialisations; the seed is honoured up to 2^53", () => {
    const mk = (seed: number): Uint8Array => HeadTrainer.create(spec({ architecture: "mlp" }), { seed, hiddenSize: 4 }).serialize();
    assert.ok(sameBytes(mk(5), mk(5)));
    assert.ok(!sameBytes(mk(5), mk(6)));
    assert.ok(!sameBytes(mk(2 ** 40 + 5), mk(5)));
  });

  test("round trip keeps labels, counts, stats, predictions; garbage is a StateFormatError", () => {
    const t = HeadTrainer.create(spec({ labels: [], allowNewLabels: true }));
    feed(t, blobs(90, 16, 3, 66));
    const r = HeadTrainer.restore(t.serialize());
    assert.deepEqual(r.labels, t.labels);
    assert.deepEqual(r.labelCountsSnapshot(), t.labelCountsSnapshot());
    assert.deepEqual(r.stats, t.stats);
    assert.deepEqual(r.config, t.config);
    assert.equal(r.allowNewLabels, true);
    const x = blobs(1, 16, 3, 66)[0].features;
    assert.deepEqual(r.predict(x), t.predict(x));
    assert.throws(() => HeadTrainer.restore(new Uint8Array(40)), StateFormatError);
    const bytes = t.serialize();
    assert.throws(() => HeadTrainer.restore(bytes.subarray(0, bytes.length - 8)), StateFormatError);
  });

  test("restore options: new hyperparameters, restarted schedule, reset progress", () => {
    const t = HeadTrainer.create(spec({ labels: [], allowNewLabels: true }), { warmupSteps: 5 });
    feed(t, blobs(200, 16, 3, 67));
    const r = HeadTrainer.restore(t.serialize(), { config: { learningRate: 0.5 }, restartSchedule: true, resetProgress: true });
    assert.equal(r.config.learningRate, 0.5);
    assert.equal(r.stats.learningRate, 0.5 / 5, "warmup starts again");
    assert.equal(r.stats.steps, t.stats.steps);
    assert.equal(r.stats.prequentialAccuracy, 0);
    assert.ok(Number.isNaN(r.stats.runningLoss));
    assert.throws(() => HeadTrainer.restore(t.serialize(), { config: { batchSize: 0 } }), ConfigError);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("freeze", () => {
  test("the snapshot is immutable and isolated from later training", () => {
    const data = blobs(300, 16, 3, 44);
    const t = HeadTrainer.create(spec({ labels: [], allowNewLabels: true }));
    feed(t, data.slice(0, 100));
    const snap = t.freeze();
    const x = data[150].features;
    const p = snap.predict(x);
    assert.deepEqual(p, t.predict(x), "same bits as the trainer at freeze time");
    assert.ok(Object.isFrozen(snap));
    assert.ok(Object.isFrozen(snap.labels));
    const expected = p.slice();
    p[0] = 42;
    feed(t, data.slice(100));
    t.replay(data, 1);
    feed(t, [{ features: data[0].features, labels: ["brand-new"] }]);
    assert.notDeepEqual(t.predict(x).slice(0, 3), snap.predict(x));
    assert.deepEqual(snap.predict(x), expected);
    assert.equal(t.labels.length, 4);
    assert.equal(snap.labels.length, 3);
    assert.equal(snap.predict(x).length, 3);
    const again = snap.predict(x);
    assert.notEqual(again[0], 42);
    assert.deepEqual(snap.predictLabels(x).length, 1);
    const out = new Float64Array(3);
    snap.predictInto(x, out);
    assert.deepEqual(out, again);
  });

  test("evaluate and predict change nothing", () => {
    const data = blobs(100, 16, 3, 45);
    const t = HeadTrainer.create(spec({ labels: [], allowNewLabels: true }));
    feed(t, data.slice(0, 70));
    const before = t.serialize();
    t.evaluate(data.slice(70));
    t.predict(data[80].features);
    t.freeze();
    assert.ok(sameBytes(before, t.serialize()));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("evaluate definitions", () => {
  test("multiclass: unknown evaluation labels count as wrong with capped loss; empty input", () => {
    const t = HeadTrainer.create(spec({ labels: ["a", "b"] }));
    const x = new Float32Array(16);
    // A fresh head: uniform probabilities, argmax "a".
    const m = t.evaluate([
      { features: x, labels: ["a"] },
      { features: x, labels: ["b"] },
      { features: x, labels: ["zzz"] },
      { features: x, labels: ["a", "b"] }, // not a multiclass example: left out
    ]);
    assert.equal(m.examples, 3);
    assert.equal(m.accuracy, 1 / 3);
    // F1: a = 2·1/(2+2+0) = 0.5, b = 0, zzz = 0.
    assert.ok(Math.abs(m.macroF1 - 0.5 / 3) < 1e-15);
    assert.ok(Math.abs(m.logLoss - (2 * Math.log(2) - Math.log(1e-15)) / 3) < 1e-12);
    assert.deepEqual(t.evaluate([]), { examples: 0, accuracy: 0, macroF1: 0, logLoss: 0 });
  });

  test("multilabel: exact-set accuracy, F1 at p > 0.5, mean BCE per label", () => {
    const t = HeadTrainer.create(spec({ type: "multilabel", labels: ["a", "b"] }));
    const x = new Float32Array(16);
    // Fresh head: every p = 0.5 → nothing predicted.
    const m = t.evaluate([
      { features: x, labels: [] },
      { features: x, labels: ["a"] },
    ]);
    assert.equal(m.accuracy, 0.5);
    assert.equal(m.macroF1, 0); // "a": TP 0, FN 1 → 0; "b": no support → excluded
    assert.ok(Math.abs(m.logLoss - Math.log(2)) < 1e-15);
    assert.equal(t.evaluate([{ features: x, labels: [] }]).macroF1, 1, "all-empty truth, all-empty predictions");
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("spec validation", () => {
  const cases: [Partial<HeadSpec> & Record<string, unknown>, string][] = [
    [{ type: "binary" as never }, "type"],
    [{ architecture: "cnn" as never }, "architecture"],
    [{ inputDim: 0 }, "inputDim"],
    [{ inputDim: 3.5 }, "inputDim"],
    [{ labels: ["a", "a"] }, "labels"],
    [{ labels: [""] }, "labels"],
    [{ labels: [], allowNewLabels: false }, "labels"],
  ];
  for (const [over, field] of cases) {
    test(`bad ${field}: ${JSON.stringify(over)}`, () => {
      assert.throws(() => HeadTrainer.create(spec(over)), (e: unknown) => e instanceof ConfigError && e.field === field);
    });
  }
  test("bad hyperparameters are reported by field", () => {
    assert.throws(() => HeadTrainer.create(spec(), { batchSize: 0 }), (e: unknown) => e instanceof ConfigError && e.field === "batchSize");
  });
});
