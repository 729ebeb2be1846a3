/**
 * The post-processor: the template that puts special tokens around one text or a pair and gives
 * each token its type id, as Hugging Face's TemplateProcessing (processors/template.rs).
 * BertProcessing and "no post-processor" are read as the templates they amount to.
 */
import { PairNotSupportedError, TokenizerLoadError } from "../errors.js";
import { isObject, type Json } from "../json.js";
import type { Encoding, EncodingOptions } from "../tokenizer.js";
import { truncateSequences, type TokenSequence } from "../truncation.js";

export type TemplatePiece =
  /** Special tokens by content (one, or several for a multi-token entry of special_tokens). */
  | { readonly kind: "special"; readonly tokens: readonly string[]; readonly typeId: number }
  | { readonly kind: "sequence"; readonly sequence: "A" | "B"; readonly typeId: number };

export interface TemplateSpec {
  /** Where the template came from: "TemplateProcessing", "BertProcessing" or "none". */
  readonly source: string;
  /** Special tokens around exactly one $A. */
  readonly single: readonly TemplatePiece[];
  /** null when the file's TemplateProcessing has no pair template. */
  readonly pair: readonly TemplatePiece[] | null;
}

const A0: TemplatePiece = { kind: "sequence", sequence: "A", typeId: 0 };
const B1: TemplatePiece = { kind: "sequence", sequence: "B", typeId: 1 };

/** [CLS] $A [SEP] and [CLS] $A [SEP] $B:1 [SEP]:1, as BertProcessing and transformers' BertConverter make them. */
export function bertTemplate(cls: string, sep: string, source: string): TemplateSpec {
  const special = (token: string, typeId: number): TemplatePiece => ({ kind: "special", tokens: [token], typeId });
  return {
    source,
    single: [special(cls, 0), A0, special(sep, 0)],
    pair: [special(cls, 0), A0, special(sep, 0), B1, special(sep, 1)],
  };
}

function typeIdOf(value: unknown, source: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new TokenizerLoadError(`${source}: bad post_processor type_id ${JSON.stringify(value)}`);
  return value;
}

/** The contents a SpecialToken piece stands for: its special_tokens entry's tokens, else its id itself. */
function specialContents(id: string, specialTokens: unknown): string[] {
  const entry = isObject(specialTokens) ? specialTokens[id] : undefined;
  if (isObject(entry) && Array.isArray(entry.tokens) && entry.tokens.length > 0 && entry.tokens.every((t) => typeof t === "string")) {
    return entry.tokens;
  }
  return [id];
}

function templateItems(items: unknown, which: "single" | "pair", specialTokens: unknown, source: string): TemplatePiece[] {
  if (!Array.isArray(items)) throw new TokenizerLoadError(`${source}: post_processor.${which} must be an array`);
  const pieces: TemplatePiece[] = [];
  const seen = { A: 0, B: 0 };
  for (const item of items as unknown[]) {
    if (isObject(item) && isObject(item.SpecialToken) && typeof item.SpecialToken.id === "string") {
      pieces.push({ kind: "special", tokens: specialContents(item.SpecialToken.id, specialTokens), typeId: typeIdOf(item.SpecialToken.type_id, source) });
      continue;
    }
    const sequence = isObject(item) && isObject(item.Sequence) ? item.Sequence.id : undefined;
    // The single template holds one $A; the pair template $A and $B.
    if ((sequence === "A" || (sequence === "B" && which === "pair")) && (which === "pair" || seen.A === 0)) {
      seen[sequence]++;
      pieces.push({ kind: "sequence", sequence, typeId: typeIdOf((item as { Sequence: Json }).Sequence.type_id, source) });
      continue;
    }
    throw new TokenizerLoadError(`${source}: unsupported post_processor.${which} item ${JSON.stringify(item)}`);
  }
  if (seen.A === 0) throw new TokenizerLoadError(`${source}: post_processor.${which} has no sequence A`);
  if (which === "pair" && seen.B === 0) throw new TokenizerLoadError(`${source}: post_processor.pair has no sequence B`);
  return pieces;
}

/** tokenizer.json's "post_processor"; an unknown type is a load error naming it. */
export function templateSpecFromJson(postProcessor: unknown, source: string): TemplateSpec {
  if (postProcessor === null || postProcessor === undefined) return { source: "none", single: [A0], pair: [A0, B1] };
  if (!isObject(postProcessor)) throw new TokenizerLoadError(`${source}: post_processor must be an object`);
  if (postProcessor.type === "TemplateProcessing") {
    const special = postProcessor.special_tokens;
    return {
      source: "TemplateProcessing",
      single: templateItems(postProcessor.single, "single", special, source),
      pair: postProcessor.pair === undefined || postProcessor.pair === null ? null : templateItems(postProcessor.pair, "pair", special, source),
    };
  }
  if (postProcessor.type === "BertProcessing") {
    const { cls, sep } = postProcessor;
    if (!Array.isArray(cls) || typeof cls[0] !== "string" || !Array.isArray(sep) || typeof sep[0] !== "string") {
      throw new TokenizerLoadError(`${source}: BertProcessing needs cls and sep as [token, id]`);
    }
    return bertTemplate(cls[0], sep[0], "BertProcessing");
  }
  throw new TokenizerLoadError(`${source}: post_processor ${JSON.stringify(postProcessor.type)} is not supported (TemplateProcessing, BertProcessing or none)`);
}

type ResolvedPiece = { readonly kind: "special"; readonly ids: Int32Array; readonly typeId: number } | { readonly kind: "sequence"; readonly index: 0 | 1; readonly typeId: number };

/** A template with its special tokens turned into ids. */
export class Template {
  private readonly single: readonly ResolvedPiece[];
  private readonly pair: readonly ResolvedPiece[] | null;
  /** The single template's ids before and after $A. */
  readonly prefixIds: Int32Array;
  readonly suffixIds: Int32Array;

  constructor(spec: TemplateSpec, resolve: (token: string) => number) {
    const resolved = (pieces: readonly TemplatePiece[]): ResolvedPiece[] =>
      pieces.map((piece) =>
        piece.kind === "special"
          ? { kind: "special", ids: Int32Array.from(piece.tokens, resolve), typeId: piece.typeId }
          : { kind: "sequence", index: piece.sequence === "A" ? 0 : 1, typeId: piece.typeId },
      );
    this.single = resolved(spec.single);
    this.pair = spec.pair && resolved(spec.pair);
    const at = this.single.findIndex((piece) => piece.kind === "sequence");
    const idsOf = (pieces: readonly ResolvedPiece[]): Int32Array => Int32Array.from(pieces.flatMap((piece) => (piece.kind === "special" ? Array.from(piece.ids) : [])));
    this.prefixIds = idsOf(this.single.slice(0, at));
    this.suffixIds = idsOf(this.single.slice(at + 1));
  }

  get hasPair(): boolean {
    return this.pair !== null;
  }

  /** Special tokens the template adds to one text (pair false) or a pair. */
  addedTokens(pair: boolean): number {
    const pieces = pair ? this.pair : this.single;
    let count = 0;
    for (const piece of pieces ?? []) if (piece.kind === "special") count += piece.ids.length;
    return count;
  }

  /**
   * first (and second) cut as options.truncation says, leaving room for the template's special
   * tokens, then put through the template.
   */
  encode(first: TokenSequence, second: TokenSequence | null, options: EncodingOptions = {}): Encoding {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    if (second && !this.pair) throw new PairNotSupportedError("the tokenizer's post_processor has no pair template");
    if (options.truncation) {
      [first, second] = truncateSequences(first, second, options.truncation, addSpecialTokens ? this.addedTokens(second !== null) : 0);
    }
    return this.apply(first, second, addSpecialTokens);
  }

  /** The encoding of first (and second) through the template; without special tokens the type ids still follow it. */
  apply(first: TokenSequence, second: TokenSequence | null, addSpecialTokens: boolean): Encoding {
    const pieces = second ? this.pair : this.single;
    if (!pieces) throw new PairNotSupportedError("the tokenizer's post_processor has no pair template");
    const sequences = [first, second] as const;
    let length = 0;
    for (const piece of pieces) {
      if (piece.kind === "special") length += addSpecialTokens ? piece.ids.length : 0;
      else length += sequences[piece.index]?.ids.length ?? 0;
    }
    const ids = new Int32Array(length);
    const typeIds = new Int32Array(length);
    const offsets = new Uint32Array(2 * length);
    const specialTokensMask = new Uint8Array(length);
    const sequenceIds = new Int8Array(length);
    let n = 0;
    for (const piece of pieces) {
      if (piece.kind === "special") {
        if (!addSpecialTokens) continue;
        ids.set(piece.ids, n);
        typeIds.fill(piece.typeId, n, n + piece.ids.length);
        specialTokensMask.fill(1, n, n + piece.ids.length);
        sequenceIds.fill(-1, n, n + piece.ids.length);
        n += piece.ids.length;
        continue;
      }
      const sequence = sequences[piece.index];
      if (!sequence) continue;
      ids.set(sequence.ids, n);
      offsets.set(sequence.offsets, 2 * n);
      typeIds.fill(piece.typeId, n, n + sequence.ids.length);
      sequenceIds.fill(piece.index, n, n + sequence.ids.length);
      n += sequence.ids.length;
    }
    return { ids, typeIds, attentionMask: new Uint8Array(length).fill(1), offsets, specialTokensMask, sequenceIds };
  }
}
