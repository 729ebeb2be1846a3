/**
 * A SentencePiece `.model` file (the ModelProto protobuf) read without a protobuf library, and
 * turned into the tokenizer.json that transformers' XLMRobertaConverter writes for it: fairseq's
 * <s> <pad> </s> <unk> first, the pieces from the fourth on, <mask> last; Precompiled charsmap and
 * Replace(" {2,}" → " "); Metaspace; <s> A </s> (pair <s> A </s> </s> B </s>).
 */
import { readFileSync } from "node:fs";
import { TokenizerLoadError } from "./errors.js";

export const PIECE_NORMAL = 1;
export const PIECE_UNKNOWN = 2;
export const PIECE_CONTROL = 3;
export const PIECE_USER_DEFINED = 4;
export const PIECE_UNUSED = 5;
export const PIECE_BYTE = 6;

export interface SentencePiece {
  readonly piece: string;
  readonly score: number;
  readonly type: number;
}

export interface SentencePieceModel {
  readonly pieces: SentencePiece[];
  /** trainer_spec.model_type: 1 unigram, 2 bpe, 3 word, 4 char. */
  readonly modelType: number;
  readonly byteFallback: boolean;
  readonly unkId: number;
  readonly normalizerName: string;
  readonly precompiledCharsmap: Uint8Array;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
}

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly end = bytes.length,
  ) {}
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new TokenizerLoadError("SentencePiece model: truncated varint");
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new TokenizerLoadError("SentencePiece model: bad varint");
    }
  }
  /** Each field: its number, wire type, and a reader (length-delimited), number (varint) or the float32. */
  *fields(): Generator<{ field: number; wire: number; value: number; sub: Reader | null }> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 0) yield { field, wire, value: this.varint(), sub: null };
      else if (wire === 2) {
        const length = this.varint();
        if (this.pos + length > this.end) throw new TokenizerLoadError("SentencePiece model: truncated field");
        const sub = new Reader(this.bytes.subarray(this.pos, this.pos + length));
        this.pos += length;
        yield { field, wire, value: length, sub };
      } else if (wire === 5) {
        if (this.pos + 4 > this.end) throw new TokenizerLoadError("SentencePiece model: truncated float");
        const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
        this.pos += 4;
        yield { field, wire, value, sub: null };
      } else if (wire === 1) {
        this.pos += 8;
      } else throw new TokenizerLoadError(`SentencePiece model: unsupported wire type ${wire}`);
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function parseSentencePieceModel(bytes: Uint8Array): SentencePieceModel {
  const pieces: SentencePiece[] = [];
  let modelType = 1;
  let byteFallback = false;
  let unkId = 0;
  let normalizerName = "";
  let precompiledCharsmap = new Uint8Array(0);
  let addDummyPrefix = true;
  let removeExtraWhitespaces = true;
  try {
    for (const top of new Reader(bytes).fields()) {
      if (top.field === 1 && top.sub) {
        let piece = "";
        let score = 0;
        let type = PIECE_NORMAL;
        for (const f of top.sub.fields()) {
          if (f.field === 1 && f.sub) piece = utf8.decode(f.sub.bytes);
          else if (f.field === 2 && f.wire === 5) score = f.value;
          else if (f.field === 3 && f.wire === 0) type = f.value;
        }
        pieces.push({ piece, score, type });
      } else if (top.field === 2 && top.sub) {
        for (const f of top.sub.fields()) {
          if (f.field === 3 && f.wire === 0) modelType = f.value;
          else if (f.field === 35 && f.wire === 0) byteFallback = f.value !== 0;
          else if (f.field === 40 && f.wire === 0) unkId = f.value;
        }
      } else if (top.field === 3 && top.sub) {
        for (const f of top.sub.fields()) {
          if (f.field === 1 && f.sub) normalizerName = utf8.decode(f.sub.bytes);
          else if (f.field === 2 && f.sub) precompiledCharsmap = f.sub.bytes.slice();
          else if (f.field === 3 && f.wire === 0) addDummyPrefix = f.value !== 0;
          else if (f.field === 4 && f.wire === 0) removeExtraWhitespaces = f.value !== 0;
        }
      }
    }
  } catch (error) {
    if (error instanceof TokenizerLoadError) throw error;
    throw new TokenizerLoadError(`SentencePiece model: ${(error as Error).message}`);
  }
  if (pieces.length < 4) throw new TokenizerLoadError(`SentencePiece model: ${pieces.length} pieces (not a SentencePiece model?)`);
  return { pieces, modelType, byteFallback, unkId, normalizerName, precompiledCharsmap, addDummyPrefix, removeExtraWhitespaces };
}

/** The XLM-R-layout tokenizer.json and tokenizer_config.json for a `.model` (transformers' XLMRobertaConverter). */
export function xlmRobertaTokenizerJson(model: SentencePieceModel): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  if (model.modelType !== 1) throw new TokenizerLoadError(`SentencePiece model type ${model.modelType} is not supported (only unigram, type 1)`);
  const vocab: [string, number][] = [["<s>", 0], ["<pad>", 0], ["</s>", 0], ["<unk>", 0]];
  for (const piece of model.pieces.slice(3)) vocab.push([piece.piece, piece.score]);
  vocab.push(["<mask>", 0]);
  const special = (id: number, content: string, lstrip = false) => ({ id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true });
  const sequence = (id: "A" | "B") => ({ Sequence: { id, type_id: 0 } });
  const token = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const normalizers: unknown[] = [];
  if (model.precompiledCharsmap.length > 0) normalizers.push({ type: "Precompiled", precompiled_charsmap: Buffer.from(model.precompiledCharsmap).toString("base64") });
  normalizers.push({ type: "Replace", pattern: { Regex: " {2,}" }, content: " " });
  const metaspace = { replacement: "▁", prepend_scheme: model.addDummyPrefix ? "always" : "never", split: true };
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<s>"), special(1, "<pad>"), special(2, "</s>"), special(3, "<unk>"), special(vocab.length - 1, "<mask>", true)],
    normalizer: { type: "Sequence", normalizers },
    pre_tokenizer: { type: "Metaspace", ...metaspace },
    post_processor: {
      type: "TemplateProcessing",
      single: [token("<s>"), sequence("A"), token("</s>")],
      pair: [token("<s>"), sequence("A"), token("</s>"), token("</s>"), sequence("B"), token("</s>")],
      special_tokens: { "<s>": { id: "<s>", ids: [0], tokens: ["<s>"] }, "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] } },
    },
    decoder: { type: "Metaspace", ...metaspace },
    model: { type: "Unigram", unk_id: 3, vocab, byte_fallback: model.byteFallback },
  };
  const tokenizerConfig = {
    tokenizer_class: "XLMRobertaTokenizer",
    bos_token: "<s>",
    eos_token: "</s>",
    cls_token: "<s>",
    sep_token: "</s>",
    pad_token: "<pad>",
    unk_token: "<unk>",
    mask_token: "<mask>",
    model_max_length: 512,
  };
  return { tokenizerJson, tokenizerConfig };
}

export function readSentencePieceModel(path: string): SentencePieceModel {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new TokenizerLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return parseSentencePieceModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new TokenizerLoadError(`${path}: ${(error as Error).message}`);
  }
}
