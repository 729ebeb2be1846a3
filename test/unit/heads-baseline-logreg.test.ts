import assert from "node:assert/strict";
import { test } from "node:test";
import { accuracy, chooseL2, trainLogisticRegression } from "../../bench/lib/logistic-regression.js";
import { Prng } from "../../src/heads/prng.js";

test("logistic regression reaches the analytic optimum of a symmetric two-class problem", () => {
  // x = ±1 (already standardized), class 1 ⇔ x = +1. By symmetry W = [−a, a], b₀ = b₁, and the objective
  // log(1 + e^{−2a}) + λa² is minimal where 2λa = 2 / (1 + e^{2a}).
  const x = [[1], [-1], [1], [-1]];
  const y = [1, 0, 1, 0];
  for (const l2 of [0.01, 0.1, 1]) {
    let lo = 0;
    let hi = 100;
    for (let i = 0; i < 200; i++) {
      const a = (lo + hi) / 2;
      if (l2 * a - 1 / (1 + Math.exp(2 * a)) > 0) hi = a;
      else lo = a;
    }
    const a = (lo + hi) / 2;
    const model = trainLogisticRegression(x, y, { l2, tolerance: 1e-10 });
    assert.ok(model.converged, `converged (l2 ${l2})`);
    assert.ok(Math.abs(model.weights[1] - a) < 1e-7, `w₁ ${model.weights[1]} vs ${a}`);
    assert.ok(Math.abs(model.weights[0] + a) < 1e-7, `w₀ ${model.weights[0]} vs ${-a}`);
    assert.ok(Math.abs(model.bias[0] - model.bias[1]) < 1e-9);
    const p = model.predictProba([1]);
    assert.ok(Math.abs(p[1] - 1 / (1 + Math.exp(-2 * a))) < 1e-7);
  }
});

test("chooseL2 on well-separated blobs: perfect validation accuracy, converged, picks by validation", () => {
  const prng = Prng.fromSeed(4);
  const dim = 8;
  const k = 3;
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => 4 * prng.nextNormal()));
  const make = (n: number): { x: number[][]; y: number[] } => {
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = i % k;
      x.push(centres[c].map((m) => 50 + m + 0.5 * prng.nextNormal()));
      y.push(c);
    }
    return { x, y };
  };
  const train = make(150);
  const val = make(60);
  const best = chooseL2(train.x, train.y, val.x, val.y, [1e-3, 1e-1, 10]);
  assert.equal(best.results.length, 3);
  assert.equal(best.accuracy, 1);
  assert.equal(accuracy(best.model, val.x, val.y), 1);
  assert.ok(best.model.converged && best.model.gradientNorm < 1e-6, `gradient ${best.model.gradientNorm}`);
  // Ties go to the strongest L2 that still reaches the best accuracy.
  const top = Math.max(...best.results.map((r) => r.accuracy));
  assert.equal(best.l2, Math.max(...best.results.filter((r) => r.accuracy === top).map((r) => r.l2)));
  // Stronger L2 → smaller weights.
  const small = trainLogisticRegression(train.x, train.y, { l2: 10 });
  const large = trainLogisticRegression(train.x, train.y, { l2: 1e-3 });
  const norm = (w: Float64Array): number => Math.hypot(...w);
  assert.ok(norm(small.weights) < norm(large.weights));
  assert.throws(() => trainLogisticRegression(train.x, train.y, { l2: -1 }), RangeError);
});
