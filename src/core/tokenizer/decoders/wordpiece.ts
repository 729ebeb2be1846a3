/** The WordPiece decoder (tokenizers/src/decoders/wordpiece.rs): "##" pieces glue on, others get a space. */

export interface WordPieceDecoderSpec {
  readonly type: "WordPiece";
  readonly prefix: string;
  /** Undo the tokenizer's spaces before punctuation and contractions, token by token. */
  readonly cleanup: boolean;
}

/** Hugging Face's `cleanup`, in its order. */
const CLEANUPS: readonly [string, string][] = [
  [" .", "."],
  [" ?", "?"],
  [" !", "!"],
  [" ,", ","],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" do not", " don't"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

export class WordPieceDecoder {
  readonly type = "WordPiece";

  constructor(private readonly spec: WordPieceDecoderSpec) {}

  decode(tokens: readonly string[]): string {
    let text = "";
    tokens.forEach((token, i) => {
      let piece = token;
      if (i > 0) piece = token.startsWith(this.spec.prefix) ? token.slice(this.spec.prefix.length) : ` ${token}`;
      if (this.spec.cleanup) for (const [from, to] of CLEANUPS) piece = piece.replaceAll(from, to);
      text += piece;
    });
    return text;
  }
}
