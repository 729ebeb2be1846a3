import type { AdaptProgress, EvalMetrics } from "../../gen/bertd/v1/heads_pb.js";

/** What a teach run follows, plots and summarises: accuracy for text heads, entity-level span F1 for TOKEN heads. */
export interface TeachMetric {
  /** As people read it: "accuracy", "span F1". */
  readonly name: string;
  prequential(progress: AdaptProgress): number;
  holdout(metrics: EvalMetrics): number;
}

export const ACCURACY: TeachMetric = { name: "accuracy", prequential: (p) => p.prequentialAccuracy, holdout: (m) => m.accuracy };
export const SPAN_F1: TeachMetric = { name: "span F1", prequential: (p) => p.prequentialSpanF1, holdout: (m) => m.spanF1 };

export interface HoldoutSummary {
  examples: number;
  accuracy: number;
  macroF1: number;
  logLoss: number;
  spanPrecision?: number;
  spanRecall?: number;
  spanF1?: number;
}

/** Holdout metrics for the JSON outcome; the span fields only for TOKEN heads. */
export function holdoutSummary(metrics: EvalMetrics | undefined, spans: boolean): HoldoutSummary {
  const summary: HoldoutSummary = { examples: Number(metrics?.examples ?? 0), accuracy: metrics?.accuracy ?? 0, macroF1: metrics?.macroF1 ?? 0, logLoss: metrics?.logLoss ?? 0 };
  if (spans) Object.assign(summary, { spanPrecision: metrics?.spanPrecision ?? 0, spanRecall: metrics?.spanRecall ?? 0, spanF1: metrics?.spanF1 ?? 0 });
  return summary;
}

/** One line for people: span precision/recall/F1 of TOKEN heads (their accuracy is per word), else accuracy. */
export function holdoutLine(h: HoldoutSummary): string {
  if (h.spanF1 !== undefined) {
    return `holdout: span precision ${h.spanPrecision!.toFixed(4)}, recall ${h.spanRecall!.toFixed(4)}, F1 ${h.spanF1.toFixed(4)} on ${h.examples} sentences; word accuracy ${h.accuracy.toFixed(4)}, log-loss ${h.logLoss.toFixed(4)}`;
  }
  return `holdout: accuracy ${h.accuracy.toFixed(4)}, macro-F1 ${h.macroF1.toFixed(4)}, log-loss ${h.logLoss.toFixed(4)} on ${h.examples} examples`;
}
