import type { ScoredFeedback, StoredHeadType } from "../store/head-store.js";

/** Accuracy and macro-F1 of what was served, judged by feedback. */
export interface LiveMetrics {
  /** Scored units: answered predictions, or words for TOKEN heads. */
  readonly examples: number;
  readonly accuracy: number;
  readonly macroF1: number;
}

export const NO_LIVE_METRICS: LiveMetrics = { examples: 0, accuracy: 0, macroF1: 0 };

/**
 * One scored unit: the true label set and the served one. MULTICLASS: one label each; MULTILABEL:
 * the sets (exact match counts as correct); TOKEN: one unit per word.
 */
export function scoredUnits(type: StoredHeadType, truth: readonly string[], served: readonly string[]): [readonly string[], readonly string[]][] {
  if (type === "token") return truth.map((tag, i) => [[tag], served[i] === undefined ? [] : [served[i]]]);
  if (type === "multiclass") return [[truth.slice(0, 1), served.slice(0, 1)]];
  return [[truth, served]];
}

/** Whether what was served for one answered prediction was right (TOKEN: every word). */
export function servedCorrect(type: StoredHeadType, truth: readonly string[], served: readonly string[]): boolean {
  return scoredUnits(type, truth, served).every(([t, s]) => sameSet(t, s));
}

/** Accuracy (exact label-set match) and macro-F1 (over labels present in truth or predictions) of the units. */
export function liveMetrics(type: StoredHeadType, scored: readonly Pick<ScoredFeedback, "labels" | "served">[]): LiveMetrics {
  let units = 0;
  let correct = 0;
  const counts = new Map<string, { tp: number; fp: number; fn: number }>();
  const count = (label: string): { tp: number; fp: number; fn: number } => {
    let c = counts.get(label);
    if (!c) counts.set(label, (c = { tp: 0, fp: 0, fn: 0 }));
    return c;
  };
  for (const item of scored) {
    for (const [truth, served] of scoredUnits(type, item.labels, item.served.labels)) {
      units++;
      if (sameSet(truth, served)) correct++;
      for (const label of truth) {
        if (served.includes(label)) count(label).tp++;
        else count(label).fn++;
      }
      for (const label of served) if (!truth.includes(label)) count(label).fp++;
    }
  }
  if (units === 0) return NO_LIVE_METRICS;
  let f1 = 0;
  for (const { tp, fp, fn } of counts.values()) f1 += (2 * tp) / (2 * tp + fp + fn);
  return { examples: units, accuracy: correct / units, macroF1: counts.size === 0 ? 1 : f1 / counts.size };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
