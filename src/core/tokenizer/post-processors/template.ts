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
  /** Byte-level offset trimming (RobertaProcessing / ByteLevel trim_offsets), or none. */
  readonly trim?: { readonly addPrefixSpace: boolean } | null;
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

const SUPPORTED = "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence or none";

function tokenOfPair(value: unknown, what: string, source: string): string {
  if (!Array.isArray(value) || typeof value[0] !== "string") throw new TokenizerLoadError(`${source}: ${what} needs [token, id]`);
  return value[0];
}

function oneProcessor(postProcessor: Json, source: string): TemplateSpec | { trim: { addPrefixSpace: boolean } | null } {
  switch (postProcessor.type) {
    case "TemplateProcessing": {
      const special = postProcessor.special_tokens;
      return {
        source: "TemplateProcessing",
        single: templateItems(postProcessor.single, "single", special, source),
        pair: postProcessor.pair === undefined || postProcessor.pair === null ? null : templateItems(postProcessor.pair, "pair", special, source),
      };
    }
    case "BertProcessing":
      return bertTemplate(tokenOfPair(postProcessor.cls, "BertProcessing cls", source), tokenOfPair(postProcessor.sep, "BertProcessing sep", source), "BertProcessing");
    case "RobertaProcessing": {
      const cls = tokenOfPair(postProcessor.cls, "RobertaProcessing cls", source);
      const sep = tokenOfPair(postProcessor.sep, "RobertaProcessing sep", source);
      const special = (token: string): TemplatePiece => ({ kind: "special", tokens: [token], typeId: 0 });
      const trim = postProcessor.trim_offsets !== false;
      return {
        source: "RobertaProcessing",
        single: [special(cls), A0, special(sep)],
        // roberta.rs: <s> A </s> </s> B </s>, every type id 0.
        pair: [special(cls), A0, special(sep), special(sep), { kind: "sequence", sequence: "B", typeId: 0 }, special(sep)],
        trim: trim ? { addPrefixSpace: postProcessor.add_prefix_space !== false } : null,
      };
    }
    case "ByteLevel":
      return { trim: postProcessor.trim_offsets !== false ? { addPrefixSpace: postProcessor.add_prefix_space !== false } : null };
  }
  throw new TokenizerLoadError(`${source}: post_processor ${JSON.stringify(postProcessor.type)} is not supported (${SUPPORTED})`);
}

/** tokenizer.json's "post_processor"; an unknown type is a load error naming it. */
export function templateSpecFromJson(postProcessor: unknown, source: string): TemplateSpec {
  const none: TemplateSpec = { source: "none", single: [A0], pair: [A0, B1] };
  if (postProcessor === null || postProcessor === undefined) return none;
  if (!isObject(postProcessor)) throw new TokenizerLoadError(`${source}: post_processor must be an object`);
  const parts = postProcessor.type === "Sequence" ? postProcessor.processors : [postProcessor];
  if (!Array.isArray(parts)) throw new TokenizerLoadError(`${source}: post_processor Sequence needs "processors"`);
  let template: TemplateSpec | null = null;
  let trim: { addPrefixSpace: boolean } | null = null;
  for (const part of parts as unknown[]) {
    if (!isObject(part)) throw new TokenizerLoadError(`${source}: post_processor ${JSON.stringify(part)} is not supported (${SUPPORTED})`);
    const spec = oneProcessor(part, source);
    if ("single" in spec) {
      if (template) throw new TokenizerLoadError(`${source}: a post_processor Sequence with two templates is not supported`);
      template = spec;
      trim = spec.trim ?? trim;
    } else trim = spec.trim ?? trim;
  }
  return { ...(template ?? none), trim };
}

type ResolvedPiece = { readonly kind: "special"; readonly ids: Int32Array; readonly typeId: number } | { readonly kind: "sequence"; readonly index: 0 | 1; readonly typeId: number };

/** A template with its special tokens turned into ids. */
export class Template {
  private readonly single: readonly ResolvedPiece[];
  private readonly pair: readonly ResolvedPiece[] | null;
  /** The single template's ids before and after $A. */
  readonly prefixIds: Int32Array;
  readonly suffixIds: Int32Array;

  private readonly trim: { readonly addPrefixSpace: boolean } | null;

  /** `tokenOf` (id → token) is needed only for offset trimming. */
  constructor(
    spec: TemplateSpec,
    resolve: (token: string) => number,
    private readonly tokenOf: (id: number) => string = String,
  ) {
    this.trim = spec.trim ?? null;
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
    if (this.trim) {
      first = trimOffsets(first, this.trim.addPrefixSpace, this.tokenOf);
      second = second && trimOffsets(second, this.trim.addPrefixSpace, this.tokenOf);
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

const SPACE_RE = /^[\u0120\p{White_Space}]$/u;

/** byte_level.rs process_offsets: leading and trailing Ġ/whitespace chars of each token leave its offsets. */
function trimOffsets(sequence: TokenSequence, addPrefixSpace: boolean, tokenOf: (id: number) => string): TokenSequence {
  const offsets = sequence.offsets.slice();
  for (let i = 0; i < sequence.ids.length; i++) {
    const chars = [...(sequence.texts?.[i] ?? tokenOf(sequence.ids[i]))];
    let leading = 0;
    while (leading < chars.length && SPACE_RE.test(chars[leading])) leading++;
    let trailing = 0;
    while (trailing < chars.length && SPACE_RE.test(chars[chars.length - 1 - trailing])) trailing++;
    if (leading === 0 && trailing === 0) continue;
    let start = offsets[2 * i];
    let end = offsets[2 * i + 1];
    if (leading > 0) {
      if ((i === 0 || start === 0) && addPrefixSpace && leading === 1) leading = 0;
      start = Math.min(start + leading, end);
    }
    if (trailing > 0 && end >= trailing) end = Math.max(end - trailing, start);
    offsets[2 * i] = start;
    offsets[2 * i + 1] = end;
  }
  return { ...sequence, offsets };
}
