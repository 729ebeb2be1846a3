import { create } from "@bufbuild/protobuf";
import type { FeedbackItem, FeedbackOutcome as Outcome, FeedbackResult } from "../../feedback/feedback.js";
import type { LiveMetrics } from "../../feedback/live-metrics.js";
import { invalidArgument } from "../../core/errors.js";
import type { HeadPolicy } from "../../store/head-store.js";
import {
  FeedbackOutcome,
  HeadPolicySchema,
  LiveMetricsSchema,
  Promotion,
  type FeedbackItem as FeedbackItemMessage,
  type FeedbackResult as FeedbackResultMessage,
  type HeadPolicy as HeadPolicyMessage,
  type LiveMetrics as LiveMetricsMessage,
} from "../../gen/bertd/v1/heads_pb.js";

const OUTCOMES: Record<Outcome, FeedbackOutcome> = {
  accepted: FeedbackOutcome.ACCEPTED,
  unknown_id: FeedbackOutcome.UNKNOWN_ID,
  expired: FeedbackOutcome.EXPIRED,
  invalid_label: FeedbackOutcome.INVALID_LABEL,
  duplicate: FeedbackOutcome.DUPLICATE,
  wrong_head: FeedbackOutcome.WRONG_HEAD,
  invalid: FeedbackOutcome.INVALID,
};

const PROMOTIONS = { always: Promotion.ALWAYS, if_better: Promotion.IF_BETTER, never: Promotion.NEVER } as const;

export function feedbackItemOf(item: FeedbackItemMessage): FeedbackItem {
  return { predictionId: item.predictionId, labels: item.labels, head: item.head, text: item.text, id: item.id };
}

export function feedbackResultMessage(result: FeedbackResult): FeedbackResultMessage {
  return { $typeName: "bertd.v1.FeedbackResult", ...result, outcome: OUTCOMES[result.outcome] };
}

export function policyOf(message: HeadPolicyMessage | undefined, field = "policy"): HeadPolicy {
  if (!message) throw invalidArgument(`${field} is unset`);
  const promotion = (
    {
      [Promotion.UNSPECIFIED]: "if_better",
      [Promotion.IF_BETTER]: "if_better",
      [Promotion.ALWAYS]: "always",
      [Promotion.NEVER]: "never",
    } as Record<number, HeadPolicy["promotion"]>
  )[message.promotion];
  if (!promotion) throw invalidArgument(`${field}.promotion: unknown value ${message.promotion}`);
  return {
    continuous: message.continuous,
    publishEveryExamples: message.publishEveryExamples,
    publishEverySeconds: message.publishEverySeconds,
    promotion,
    shadowExamples: message.shadowExamples,
  };
}

export function policyMessage(policy: HeadPolicy): HeadPolicyMessage {
  return create(HeadPolicySchema, { ...policy, promotion: PROMOTIONS[policy.promotion] });
}

export function liveMessage(live: LiveMetrics): LiveMetricsMessage {
  return create(LiveMetricsSchema, { examples: BigInt(live.examples), accuracy: live.accuracy, macroF1: live.macroF1 });
}
