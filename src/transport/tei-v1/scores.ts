import { failedPrecondition } from "../../core/errors.js";
import { sigmoid, softmax } from "../../engine/scoring.js";

/**
 * TEI's scores for a model's classifier: with raw_scores the logits; else softmax over two or more
 * labels and a sigmoid for a single one (whatever config.json's problem_type says).
 */
export function teiModelScores(logits: ArrayLike<number>, rawScores: boolean): ArrayLike<number> {
  if (rawScores) return logits;
  return logits.length > 1 ? softmax(logits) : sigmoid(logits);
}

/** Labels with their scores, highest first (every label); a NaN score is TEI's FAILED_PRECONDITION. */
export function sortedPredictions(labels: readonly string[], scores: ArrayLike<number>): { label: string; score: number }[] {
  const predictions = labels.map((label, i) => {
    const score = scores[i];
    if (Number.isNaN(score)) throw failedPrecondition("score is NaN");
    return { label, score };
  });
  return predictions.sort((a, b) => b.score - a.score);
}
