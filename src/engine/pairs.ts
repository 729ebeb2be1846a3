import type { CallOptions, StageTimes, TruncationSide } from "../core/encoder.js";

/** Two texts scored together by a cross-encoder ([CLS] text [SEP] textPair [SEP]). */
export interface TextPair {
  readonly text: string;
  readonly textPair: string;
}

/** The model's classifier logits for each pair, in order. */
export interface PairScores {
  readonly logits: Float32Array[];
  readonly inputTokens: number;
  readonly times: StageTimes;
}

/** What PredictPair and Rerank need of the engine: pairs through the model's classifier, batched like single texts. */
export type PairScorer = (pairs: readonly TextPair[], truncation: TruncationSide, call: CallOptions) => Promise<PairScores>;

/** What a pair call gets while the engine cannot encode pairs. */
export const PAIRS_NOT_AVAILABLE = "pairs of texts are not yet available in this bertd build (pair encoding with token_type_ids is not wired into the engine): PredictPair with two inputs, Rerank and RerankStream need it";
