import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShadowTrial } from "../../src/feedback/shadow-trial.js";

/** Plays a trial: each pair is (candidate right, served right), in order. */
function play(needed: number, outcomes: [boolean, boolean][]): ShadowTrial {
  const trial = new ShadowTrial(7, needed);
  for (const [candidate, served] of outcomes) trial.score(candidate, served);
  return trial;
}

const repeat = (n: number, pair: [boolean, boolean]): [boolean, boolean][] => Array.from({ length: n }, () => pair);

// docs/feedback.md, "Shadow rule": the next K answered predictions served by the active version are also
// predicted by the candidate; after K, the candidate becomes active when it got at least as many right as
// the active version served right, and otherwise stays inactive.
describe("the shadow rule", () => {
  it("decides nothing before K answered predictions are scored", () => {
    const trial = play(5, repeat(4, [true, false]));
    assert.equal(trial.complete, false);
    assert.equal(trial.promote, undefined);
    trial.score(true, false);
    assert.equal(trial.complete, true);
    assert.equal(trial.promote, true);
  });

  it("promotes on a tie and on more right; keeps the candidate inactive on one fewer", () => {
    // Both right on different items: 3 each.
    assert.equal(play(6, [...repeat(3, [true, false]), ...repeat(3, [false, true])]).promote, true, "a tie");
    assert.equal(play(4, [[true, true], [true, false], [false, false], [false, false]]).promote, true, "2 against 1");
    assert.equal(play(4, [[true, true], [false, true], [false, false], [true, false]]).promote, true, "2 against 2");
    assert.equal(play(4, [[true, true], [false, true], [false, true], [false, false]]).promote, false, "1 against 3");
    assert.equal(play(3, [[false, true], [true, true], [true, true]]).promote, false, "2 against 3");
    assert.equal(play(2, repeat(2, [false, false])).promote, true, "none right on either side is a tie");
  });

  it("counts exactly K: answers after the trial is complete change nothing", () => {
    const trial = play(3, [...repeat(3, [true, false]), ...repeat(10, [false, true])]);
    assert.deepEqual(trial.tally, { examples: 3, candidateCorrect: 3, servedCorrect: 0 });
    assert.equal(trial.promote, true);
  });

  it("scores only answered predictions served by the active version, never the candidate's own, up to what is still needed", () => {
    const trial = new ShadowTrial(7, 3);
    const rows = [
      { served: { version: 4, labels: ["a"] }, n: 1 },
      { served: undefined, n: 2 }, // a full example: nothing was served
      { served: { version: 3, labels: ["a"] }, n: 3 }, // served by an older version
      { served: { version: 7, labels: ["a"] }, n: 4 }, // served by the candidate (after a rollback and re-promotion)
      { served: { version: 4, labels: ["b"] }, n: 5 },
      { served: { version: 4, labels: ["b"] }, n: 6 },
      { served: { version: 4, labels: ["b"] }, n: 7 },
    ];
    assert.deepEqual(trial.eligible(rows, 4).map((r) => r.n), [1, 5, 6]);
    trial.score(true, true);
    assert.deepEqual(trial.eligible(rows, 4).map((r) => r.n), [1, 5], "two still needed");
    assert.deepEqual(trial.eligible(rows, 7).map((r) => r.n), [], "the candidate active: nothing to compare against");
    assert.deepEqual(trial.eligible(rows, undefined), []);
  });
});
