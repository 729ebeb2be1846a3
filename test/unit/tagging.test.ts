import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isTag, SpanCounts, spansOf } from "../../src/heads/index.js";

describe("BIO tags", () => {
  test("O, B-X and I-X are tags; anything else is not", () => {
    for (const tag of ["O", "B-PER", "I-PER", "B-E-MAIL", "I-版本"]) assert.ok(isTag(tag), tag);
    for (const tag of ["", "o", "B", "B-", "I-", "X-PER", "B_PER", "S-PER", "B- PER", " O"]) assert.ok(!isTag(tag), JSON.stringify(tag));
  });

  test("valid sequences give their spans", () => {
    assert.deepEqual(spansOf(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]), [
      { type: "PER", start: 0, end: 2 },
      { type: "LOC", start: 3, end: 4 },
      { type: "LOC", start: 4, end: 6 },
    ]);
    assert.deepEqual(spansOf([]), []);
    assert.deepEqual(spansOf(["O", "O"]), []);
  });

  test("repair, seqeval-style: an I- that continues nothing starts a span", () => {
    // I- first, I- after O, I- after another type.
    assert.deepEqual(spansOf(["I-PER", "I-PER", "O", "I-LOC", "B-PER", "I-LOC", "I-LOC"]), [
      { type: "PER", start: 0, end: 2 },
      { type: "LOC", start: 3, end: 4 },
      { type: "PER", start: 4, end: 5 },
      { type: "LOC", start: 5, end: 7 },
    ]);
    // Tags that are not tags end a span, like O.
    assert.deepEqual(spansOf(["B-PER", "junk", "I-PER"]), [
      { type: "PER", start: 0, end: 1 },
      { type: "PER", start: 2, end: 3 },
    ]);
  });
});

describe("entity-level precision, recall, F1", () => {
  test("match seqeval's README example (exact span and type)", () => {
    const counts = new SpanCounts();
    counts.add(["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"]);
    counts.add(["B-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]);
    assert.equal(counts.precision, 0.5);
    assert.equal(counts.recall, 0.5);
    assert.equal(counts.f1, 0.5);
  });

  test("the wrong type or a partial span is a miss; repaired predictions count as spans", () => {
    const counts = new SpanCounts();
    counts.add(["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "I-LOC", "O", "I-LOC"]);
    assert.equal(counts.truePositives, 1);
    assert.equal(counts.predicted, 2);
    assert.equal(counts.actual, 2);
    counts.add(["B-PER", "I-PER"], ["B-PER", "O"]);
    assert.equal(counts.truePositives, 1);
    assert.equal(counts.precision, 1 / 3);
    assert.equal(counts.recall, 1 / 3);
  });

  test("nothing predicted or expected gives zeros, not NaN", () => {
    const counts = new SpanCounts();
    counts.add(["O"], ["O"]);
    assert.deepEqual([counts.precision, counts.recall, counts.f1], [0, 0, 0]);
  });
});
