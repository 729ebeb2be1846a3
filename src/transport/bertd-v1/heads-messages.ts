import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Progress } from "../../adaptation/adapt-run.js";
import type { HeadSummary } from "../../engine/heads.js";
import type { EvalMetrics } from "../../heads/index.js";
import { AdaptResponseSchema, HeadType, type AdaptResponse, type EvalMetricsSchema, type HeadSummary as HeadSummaryMessage } from "../../gen/bertd/v1/heads_pb.js";

export function metricsMessage(m: EvalMetrics): MessageInitShape<typeof EvalMetricsSchema> {
  return {
    examples: BigInt(m.examples),
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    logLoss: m.logLoss,
    spanPrecision: m.spanPrecision ?? 0,
    spanRecall: m.spanRecall ?? 0,
    spanF1: m.spanF1 ?? 0,
  };
}

export function progressMessage(p: Progress): AdaptResponse {
  return create(AdaptResponseSchema, {
    response: {
      case: "progress",
      value: {
        accepted: BigInt(p.accepted),
        duplicate: BigInt(p.duplicate),
        rejected: BigInt(p.rejected),
        rejections: p.rejections,
        steps: BigInt(p.steps),
        learningRate: p.learningRate,
        runningLoss: p.runningLoss,
        prequentialAccuracy: p.prequentialAccuracy,
        prequentialSpanF1: p.prequentialSpanF1,
        holdout: metricsMessage(p.holdout),
        examplesPerSecond: p.examplesPerSecond,
        durableExamples: BigInt(p.durableExamples),
        lastDurableId: p.lastDurableId,
        skippedUpdates: BigInt(p.skippedUpdates),
      },
    },
  });
}

const HEAD_TYPES = { multiclass: HeadType.MULTICLASS, multilabel: HeadType.MULTILABEL, token: HeadType.TOKEN } as const;

export function summaryMessage(summary: HeadSummary): HeadSummaryMessage {
  const { name, type, labels, activeVersion, latestVersion, readOnly, pair } = summary;
  return { $typeName: "bertd.v1.HeadSummary", name, type: HEAD_TYPES[type], labels, activeVersion, latestVersion, readOnly, pair };
}
