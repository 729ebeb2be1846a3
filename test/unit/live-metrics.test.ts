import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { headLiveMetrics } from "../../src/feedback/live-gauges.js";
import { liveMetrics, servedCorrect, type LiveMetrics } from "../../src/feedback/live-metrics.js";
import { Prng } from "../../src/heads/prng.js";
import type { FeedbackExample, StoredHeadType } from "../../src/store/head-store.js";
import { SqliteHeadStore } from "../../src/store/sqlite-store.js";

const LABELS = ["a", "b", "c", "d", "e"];
const TAGS = ["O", "B-X", "I-X", "B-Y"];

interface Answer {
  readonly labels: string[];
  readonly served: { version: number; labels: string[] };
}

/** Random answers with a bias towards correct ones (so accuracy is neither 0 nor 1). */
function answers(type: StoredHeadType, count: number, seed: number): Answer[] {
  const prng = Prng.fromSeed(seed);
  const pick = (from: string[]): string => from[Math.floor(prng.nextDouble() * from.length)];
  const subset = (): string[] => LABELS.filter(() => prng.nextDouble() < 0.3);
  return Array.from({ length: count }, () => {
    const version = 1 + Math.floor(prng.nextDouble() * 3);
    if (type === "multiclass") {
      const truth = pick(LABELS);
      return { labels: [truth], served: { version, labels: [prng.nextDouble() < 0.6 ? truth : pick(LABELS)] } };
    }
    if (type === "multilabel") {
      const truth = subset();
      return { labels: truth, served: { version, labels: prng.nextDouble() < 0.5 ? [...truth].reverse() : subset() } };
    }
    const words = 1 + Math.floor(prng.nextDouble() * 6);
    const truth = Array.from({ length: words }, () => pick(TAGS));
    return { labels: truth, served: { version, labels: truth.map((tag) => (prng.nextDouble() < 0.7 ? tag : pick(TAGS))) } };
  });
}

/**
 * The same measures computed another way: every scored unit becomes a 0/1 indicator per label
 * (truth row, served row); accuracy counts units whose rows are equal; per label, F1 = 2·TP/(2·TP+FP+FN)
 * from the indicator columns; macro-F1 averages it over labels with a 1 in either column.
 */
function reference(type: StoredHeadType, items: readonly Answer[]): LiveMetrics {
  const vocabulary = type === "token" ? TAGS : LABELS;
  const units: [number[], number[]][] = [];
  const indicator = (labels: readonly string[]): number[] => vocabulary.map((l) => (labels.includes(l) ? 1 : 0));
  for (const item of items) {
    if (type === "token") item.labels.forEach((tag, i) => units.push([indicator([tag]), indicator([item.served.labels[i]])]));
    else if (type === "multiclass") units.push([indicator(item.labels.slice(0, 1)), indicator(item.served.labels.slice(0, 1))]);
    else units.push([indicator(item.labels), indicator(item.served.labels)]);
  }
  if (units.length === 0) return { examples: 0, accuracy: 0, macroF1: 0 };
  const accuracy = units.filter(([t, s]) => t.every((x, j) => x === s[j])).length / units.length;
  const f1s: number[] = [];
  vocabulary.forEach((_, j) => {
    const tp = units.filter(([t, s]) => t[j] === 1 && s[j] === 1).length;
    const fp = units.filter(([t, s]) => t[j] === 0 && s[j] === 1).length;
    const fn = units.filter(([t, s]) => t[j] === 1 && s[j] === 0).length;
    if (tp + fp + fn > 0) f1s.push((2 * tp) / (2 * tp + fp + fn));
  });
  return { examples: units.length, accuracy, macroF1: f1s.length === 0 ? 1 : f1s.reduce((x, y) => x + y, 0) / f1s.length };
}

function assertClose(actual: LiveMetrics, expected: LiveMetrics, what: string): void {
  assert.equal(actual.examples, expected.examples, `${what}: examples`);
  assert.ok(Math.abs(actual.accuracy - expected.accuracy) < 1e-12, `${what}: accuracy ${actual.accuracy} vs ${expected.accuracy}`);
  assert.ok(Math.abs(actual.macroF1 - expected.macroF1) < 1e-12, `${what}: macro-F1 ${actual.macroF1} vs ${expected.macroF1}`);
}

describe("live accuracy and macro-F1", () => {
  for (const type of ["multiclass", "multilabel", "token"] as const) {
    it(`match an independent computation on random ${type} answers`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const items = answers(type, 1 + seed * 7, seed);
        const live = liveMetrics(type, items);
        assertClose(live, reference(type, items), `seed ${seed}`);
        assert.ok(live.accuracy > 0 && live.accuracy < 1, `seed ${seed}: a mix of right and wrong (${live.accuracy})`);
      }
    });
  }

  it("score a few cases by hand: exact label sets, per word for TOKEN, macro over labels seen", () => {
    const m = liveMetrics("multiclass", [
      { labels: ["a"], served: { version: 1, labels: ["a"] } },
      { labels: ["a"], served: { version: 1, labels: ["b"] } },
      { labels: ["c"], served: { version: 1, labels: ["c"] } },
    ]);
    // a: TP 1, FN 1 → 2/3; b: FP 1 → 0; c: TP 1 → 1.
    assertClose(m, { examples: 3, accuracy: 2 / 3, macroF1: (2 / 3 + 0 + 1) / 3 }, "multiclass");
    assert.equal(servedCorrect("multilabel", ["a", "b"], ["b", "a"]), true, "a label set in another order");
    assert.equal(servedCorrect("multilabel", ["a", "b"], ["a"]), false);
    assert.equal(servedCorrect("token", ["O", "B-X"], ["O", "B-X"]), true);
    assert.equal(servedCorrect("token", ["O", "B-X"], ["O", "O"]), false);
    assertClose(liveMetrics("token", [{ labels: ["O", "B-X"], served: { version: 1, labels: ["O", "O"] } }]), { examples: 2, accuracy: 0.5, macroF1: (2 / 3 + 0) / 2 }, "token");
    assertClose(liveMetrics("multilabel", [{ labels: [], served: { version: 1, labels: [] } }]), { examples: 1, accuracy: 1, macroF1: 1 }, "no labels anywhere");
    assertClose(liveMetrics("multiclass", []), { examples: 0, accuracy: 0, macroF1: 0 }, "nothing answered");
  });
});

describe("the live window over a head's log", () => {
  let store: SqliteHeadStore;
  before(async () => {
    store = new SqliteHeadStore(mkdtempSync(join(tmpdir(), "bertd-live-")));
    await store.ensureHead("h", "multiclass", "hash");
  });
  after(async () => {
    await store?.close();
  });

  const logged: Answer[] = [];
  async function answer(items: Answer[], prefix: string): Promise<void> {
    const examples: FeedbackExample[] = items.map((item, i) => ({ id: `${prefix}-${i}`, text: `text ${prefix} ${i}`, labels: item.labels, weight: 1, holdout: false, served: item.served }));
    const inserted = await store.appendFeedback("h", examples);
    items.forEach((item, i) => inserted.has(`${prefix}-${i}`) && logged.push(item));
  }

  it("covers the last N answered predictions, overall and per serving version, and slides as answers come", async () => {
    const WINDOW = 50;
    await answer(answers("multiclass", 120, 7), "first");
    // Full examples carry nothing served: logged, never scored.
    await store.appendFeedback("h", [{ id: "full", text: "a full example", labels: ["a"], weight: 1, holdout: false }]);
    // A second answer to a prediction already answered is not logged again: it changes nothing.
    await answer([{ labels: ["e"], served: { version: 1, labels: ["a"] } }], "first");
    for (const extra of [0, 30]) {
      if (extra) await answer(answers("multiclass", extra, 11), "more");
      const live = (await headLiveMetrics(store, "h", WINDOW))!;
      const window = logged.slice(-WINDOW);
      assertClose(live.all, reference("multiclass", window), `window after ${logged.length} answers`);
      for (const version of [1, 2, 3]) {
        const served = window.filter((item) => item.served.version === version);
        assertClose(live.versions.get(version)!, reference("multiclass", served), `v${version}`);
      }
      assert.deepEqual([...live.versions.keys()].sort(), [1, 2, 3]);
    }
    assert.equal(logged.length, 150);
    assert.equal(await headLiveMetrics(store, "nosuchhead", WINDOW), undefined);
  });
});
