import type { CallOptions, StageTimes, TruncationSide } from "../core/encoder.js";
import type { TextPair } from "../core/pair-inputs.js";

export type { TextPair } from "../core/pair-inputs.js";

/** The model's classifier logits for each pair, in order. */
export interface PairScores {
  readonly logits: Float32Array[];
  readonly inputTokens: number;
  readonly times: StageTimes;
}

/** What PredictPair and tei.v1 Rerank need of the engine: pairs through the model's classifier, batched like single texts. */
export type PairScorer = (pairs: readonly TextPair[], truncation: TruncationSide, call: CallOptions) => Promise<PairScores>;
