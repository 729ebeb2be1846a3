import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ServiceError } from "../../src/core/errors.js";
import { joinWords, splitWords } from "../../src/core/words.js";
import { taggedText } from "../../src/engine/entities.js";
import { loaded, STILL_LOADING } from "../../src/engine/readiness.js";
import { rankLabels, sigmoid, softmax } from "../../src/engine/scoring.js";
import { checkedWords } from "../../src/engine/tag.js";

describe("scoring", () => {
  test("rankLabels orders labels by score, highest first, and keeps the first topK (0 = all)", () => {
    const labels = ["a", "b", "c", "d"];
    const scores = [0.1, 0.4, 0.3, 0.2];
    assert.deepEqual(rankLabels(labels, scores, 0).labels.map((l) => l.label), ["b", "c", "d", "a"]);
    assert.deepEqual(rankLabels(labels, scores, 2).labels, [
      { label: "b", score: 0.4 },
      { label: "c", score: 0.3 },
    ]);
    assert.equal(rankLabels(labels, scores, 10).labels.length, 4, "topK over the label count gives every label");
    assert.deepEqual(rankLabels([], [], 3).labels, []);
  });

  test("softmax is a distribution, keeps the order of its logits and does not overflow", () => {
    const probs = softmax([1, 2, 3]);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(probs[0] < probs[1] && probs[1] < probs[2]);
    const shifted = softmax([1001, 1002, 1003]);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(shifted[i] - probs[i]) < 1e-12, "invariant under a shift");
    assert.deepEqual(Array.from(softmax([0, 0])), [0.5, 0.5]);
  });

  test("sigmoid scores each logit on its own", () => {
    const probs = sigmoid([0, 100, -100, Math.log(3)]);
    assert.equal(probs[0], 0.5);
    assert.ok(probs[1] > 0.999999 && probs[2] < 1e-6);
    assert.ok(Math.abs(probs[3] - 0.75) < 1e-12);
  });
});

describe("taggedText: word tags merged into entities", () => {
  test("entities carry character offsets into the text, its slice and the words' mean score", () => {
    const split = splitWords("Ada Lovelace met  Babbage in London.");
    assert.deepEqual(split.words, ["Ada", "Lovelace", "met", "Babbage", "in", "London", "."]);
    const tags = ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "O"];
    const scores = [0.9, 0.7, 0.99, 0.6, 0.95, 0.8, 0.97];
    const encoded = [true, true, true, true, true, true, false];
    const tagged = taggedText(split, tags, scores, encoded);
    assert.deepEqual(tagged.entities, [
      { type: "PER", start: 0, end: 12, text: "Ada Lovelace", score: (0.9 + 0.7) / 2 },
      { type: "PER", start: 18, end: 25, text: "Babbage", score: 0.6 },
      { type: "LOC", start: 29, end: 35, text: "London", score: 0.8 },
    ]);
    assert.deepEqual(tagged.words[3], { word: "Babbage", label: "B-PER", score: 0.6, start: 18, end: 25, encoded: true });
    assert.deepEqual(tagged.words[6], { word: ".", label: "O", score: 0.97, start: 35, end: 36, encoded: false });
  });

  test("pre-split words are joined by single spaces; invalid I- tags are repaired into entities", () => {
    const split = joinWords(["New", "York", "is", "big"]);
    const tagged = taggedText(split, ["I-LOC", "I-LOC", "O", "I-ADJ"], [0.5, 1, 1, 0.25], [true, true, true, true]);
    assert.deepEqual(tagged.entities, [
      { type: "LOC", start: 0, end: 8, text: "New York", score: 0.75 },
      { type: "ADJ", start: 12, end: 15, text: "big", score: 0.25 },
    ]);
  });

  test("no words, no entities", () => {
    assert.deepEqual(taggedText(splitWords("   "), [], [], []), { words: [], entities: [] });
  });
});

describe("checkedWords", () => {
  test("passes words through and names the input and word that is missing or blank", () => {
    assert.deepEqual(checkedWords(["a", "b"], 0), ["a", "b"]);
    assert.throws(() => checkedWords([], 2), (e: unknown) => e instanceof ServiceError && e.kind === "invalid_argument" && e.message === "words[2] has no words");
    assert.throws(() => checkedWords(["a", " \t"], 1), (e: unknown) => e instanceof ServiceError && e.message === "words[1].words[1] is empty");
  });
});

describe("readiness", () => {
  test("a loaded value passes; one still loading is UNAVAILABLE", () => {
    assert.equal(loaded(0), 0);
    assert.throws(() => loaded(undefined), (e: unknown) => e instanceof ServiceError && e.kind === "unavailable" && e.message === STILL_LOADING);
  });
});
