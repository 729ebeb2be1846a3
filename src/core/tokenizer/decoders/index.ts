/** The decoder stage (ids back to text), selected by tokenizer.json's decoder.type. */
import { TokenizerLoadError } from "../errors.js";
import { bool, isObject, typeOf, type Json } from "../json.js";
import { CHAR_BYTES } from "../pre-tokenizers/byte-level.js";
import { WordPieceDecoder, type WordPieceDecoderSpec } from "./wordpiece.js";

export { WordPieceDecoder, type WordPieceDecoderSpec } from "./wordpiece.js";

export interface MetaspaceDecoderSpec {
  readonly type: "Metaspace";
  readonly replacement: string;
  /** Strip the space the first token's ▁ stands for (prepend_scheme other than never). */
  readonly stripFirst: boolean;
}
export interface ByteLevelDecoderSpec {
  readonly type: "ByteLevel";
}
export interface SequenceDecoderSpec {
  readonly type: "Sequence";
  readonly decoders: readonly NonNullable<DecoderSpec>[];
}

/** Every decoder bertd implements; null: tokens joined by spaces (Hugging Face without a decoder). */
export type DecoderSpec = WordPieceDecoderSpec | MetaspaceDecoderSpec | ByteLevelDecoderSpec | SequenceDecoderSpec | null;

export interface Decoder {
  decode(tokens: readonly string[]): string;
}

/** A decoder step on the token list (Hugging Face's decode_chain); the last step's tokens are concatenated. */
interface ChainDecoder {
  chain(tokens: string[]): string[];
}

/** What transformers' BertConverter writes. */
export const BERT_DECODER: WordPieceDecoderSpec = { type: "WordPiece", prefix: "##", cleanup: true };

const SUPPORTED = "WordPiece, Metaspace, ByteLevel, Sequence or none";

function specOf(decoder: unknown, source: string): NonNullable<DecoderSpec> {
  if (isObject(decoder)) {
    const d: Json = decoder;
    switch (d.type) {
      case "WordPiece":
        return { type: "WordPiece", prefix: typeof d.prefix === "string" ? d.prefix : BERT_DECODER.prefix, cleanup: bool(d.cleanup, BERT_DECODER.cleanup, "decoder.cleanup", source) };
      case "Metaspace": {
        const scheme = d.prepend_scheme ?? (d.add_prefix_space === false ? "never" : "always");
        return { type: "Metaspace", replacement: typeof d.replacement === "string" ? d.replacement : "▁", stripFirst: scheme !== "never" };
      }
      case "ByteLevel":
        return { type: "ByteLevel" };
      case "Sequence":
        if (!Array.isArray(d.decoders)) throw new TokenizerLoadError(`${source}: decoder Sequence needs "decoders"`);
        return { type: "Sequence", decoders: (d.decoders as unknown[]).map((x) => specOf(x, source)) };
    }
  }
  throw new TokenizerLoadError(`${source}: decoder ${JSON.stringify(typeOf(decoder))} is not supported (${SUPPORTED})`);
}

export function decoderSpecFromJson(decoder: unknown, source: string): DecoderSpec {
  if (decoder === null || decoder === undefined) return null;
  return specOf(decoder, source);
}

class MetaspaceDecoder implements ChainDecoder {
  constructor(private readonly spec: MetaspaceDecoderSpec) {}
  chain(tokens: string[]): string[] {
    return tokens.map((token, i) => {
      const text = token.replaceAll(this.spec.replacement, " ");
      return i === 0 && this.spec.stripFirst && text.startsWith(" ") ? text.slice(1) : text;
    });
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

class ByteLevelDecoder implements ChainDecoder {
  chain(tokens: string[]): string[] {
    const bytes: number[] = [];
    for (const c of tokens.join("")) {
      const b = CHAR_BYTES.get(c);
      if (b !== undefined) bytes.push(b);
      else for (const x of Buffer.from(c, "utf8")) bytes.push(x);
    }
    return [utf8.decode(Uint8Array.from(bytes))];
  }
}

class WordPieceChain implements ChainDecoder {
  private readonly decoder: WordPieceDecoder;
  constructor(spec: WordPieceDecoderSpec) {
    this.decoder = new WordPieceDecoder(spec);
  }
  chain(tokens: string[]): string[] {
    return [this.decoder.decode(tokens)];
  }
}

function chainOf(spec: NonNullable<DecoderSpec>): ChainDecoder {
  switch (spec.type) {
    case "WordPiece":
      return new WordPieceChain(spec);
    case "Metaspace":
      return new MetaspaceDecoder(spec);
    case "ByteLevel":
      return new ByteLevelDecoder();
    case "Sequence": {
      const steps = spec.decoders.map(chainOf);
      return { chain: (tokens) => steps.reduce((t, step) => step.chain(t), tokens) };
    }
  }
}

const JOIN_WITH_SPACES: Decoder = { decode: (tokens) => tokens.join(" ") };

export function createDecoder(spec: DecoderSpec): Decoder {
  if (spec === null) return JOIN_WITH_SPACES;
  if (spec.type === "WordPiece") return new WordPieceDecoder(spec);
  const chain = chainOf(spec);
  return { decode: (tokens) => chain.chain([...tokens]).join("") };
}
