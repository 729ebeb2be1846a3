/** One piece of a pre-token, [start, end) in UTF-16 units of the pre-token. */
export interface ModelPiece {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

/** The pipeline's model stage: one pre-token (a normalized word) to vocabulary pieces. */
export interface TokenizerModel {
  readonly type: string;
  pieces(word: string): ModelPiece[];
}
