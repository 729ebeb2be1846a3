/**
 * BPE (tokenizers/src/models/bpe/{model.rs,word.rs}): a word's chars (with continuing_subword_prefix
 * / end_of_word_suffix) merged pair by pair, lowest merge rank first, leftmost on ties.
 */
import { TokenizerLoadError } from "../errors.js";
import { bool, type Json } from "../json.js";
import type { ModelPiece, TokenizerModel } from "./model.js";
import { byteToken } from "./unigram.js";

export interface BpeSpec {
  readonly type: "BPE";
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: readonly (readonly [string, string])[];
  /** null: unknown chars are dropped (RoBERTa never has any). */
  readonly unkToken: string;
  readonly hasUnk: boolean;
  readonly continuingSubwordPrefix: string;
  readonly endOfWordSuffix: string;
  readonly fuseUnk: boolean;
  readonly byteFallback: boolean;
  readonly ignoreMerges: boolean;
}

export function bpeSpec(model: Json, vocab: Map<string, number>, source: string): BpeSpec {
  if (!Array.isArray(model.merges)) throw new TokenizerLoadError(`${source}: BPE model.merges must be an array`);
  const merges = (model.merges as unknown[]).map((merge, k): [string, string] => {
    if (typeof merge === "string") {
      const parts = merge.split(" ");
      if (parts.length !== 2) throw new TokenizerLoadError(`${source}: BPE merge ${k} ${JSON.stringify(merge)} is not "a b"`);
      return [parts[0], parts[1]];
    }
    if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === "string" && typeof merge[1] === "string") return [merge[0], merge[1]];
    throw new TokenizerLoadError(`${source}: BPE merge ${k} must be "a b" or ["a", "b"]`);
  });
  const dropout = model.dropout;
  if (dropout !== null && dropout !== undefined && dropout !== 0) {
    // Dropout is a training-time regulariser; at inference Hugging Face's encode is random with it.
    throw new TokenizerLoadError(`${source}: BPE dropout ${JSON.stringify(dropout)} is not supported (set it to null)`);
  }
  const unk = model.unk_token;
  const str = (value: unknown): string => (typeof value === "string" ? value : "");
  return {
    type: "BPE",
    vocab,
    merges,
    unkToken: typeof unk === "string" ? unk : "",
    hasUnk: typeof unk === "string",
    continuingSubwordPrefix: str(model.continuing_subword_prefix),
    endOfWordSuffix: str(model.end_of_word_suffix),
    fuseUnk: bool(model.fuse_unk, false, "BPE.fuse_unk", source),
    byteFallback: bool(model.byte_fallback, false, "BPE.byte_fallback", source),
    ignoreMerges: bool(model.ignore_merges, false, "BPE.ignore_merges", source),
  };
}

const encoder = new TextEncoder();

export class Bpe implements TokenizerModel {
  readonly type = "BPE";
  /** (left id * size + right id) → rank * size + merged id. */
  private readonly merges = new Map<number, number>();
  private readonly size: number;
  private readonly cache = new Map<string, ModelPiece[]>();
  /** Model id → the tokenizer's id for that token (added tokens first). */
  private readonly finalIds: Int32Array;

  constructor(
    private readonly spec: BpeSpec,
    private readonly resolve: (token: string) => number,
  ) {
    let max = 0;
    for (const id of spec.vocab.values()) max = Math.max(max, id);
    this.size = max + 1;
    this.finalIds = new Int32Array(this.size);
    for (const [token, id] of spec.vocab) this.finalIds[id] = resolve(token);
    const prefixLength = spec.continuingSubwordPrefix.length;
    spec.merges.forEach(([a, b], rank) => {
      const left = spec.vocab.get(a);
      const right = spec.vocab.get(b);
      const merged = spec.vocab.get(a + b.slice(prefixLength));
      if (left === undefined || right === undefined || merged === undefined) {
        throw new TokenizerLoadError(`BPE merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) uses a token outside the vocabulary`);
      }
      const key = left * this.size + right;
      if (!this.merges.has(key)) this.merges.set(key, rank * this.size + merged);
    });
  }

  pieces(word: string): ModelPiece[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const pieces = this.merge(word);
    if (this.cache.size < 100_000) this.cache.set(word, pieces);
    return pieces;
  }

  private merge(word: string): ModelPiece[] {
    const { vocab, continuingSubwordPrefix: prefix, endOfWordSuffix: suffix } = this.spec;
    if (this.spec.ignoreMerges) {
      const id = vocab.get(word);
      if (id !== undefined) return [{ id: this.resolve(word), start: 0, end: word.length }];
    }
    const ids: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let unk = -1;
    for (let i = 0; i < word.length; ) {
      const cp = word.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      let s = word.slice(i, i + len);
      if (i > 0) s = prefix + s;
      if (i + len === word.length) s += suffix;
      const id = vocab.get(s);
      if (id !== undefined) {
        unk = -1;
        ids.push(id);
        starts.push(i);
        ends.push(i + len);
      } else if (this.spec.byteFallback && [...encoder.encode(word.slice(i, i + len))].every((b) => vocab.has(byteToken(b)))) {
        unk = -1;
        for (const b of encoder.encode(word.slice(i, i + len))) {
          ids.push(vocab.get(byteToken(b))!);
          starts.push(i);
          ends.push(i + len);
        }
      } else if (this.spec.hasUnk) {
        const unkId = vocab.get(this.spec.unkToken);
        if (unkId === undefined) throw new TokenizerLoadError(`BPE unk_token ${JSON.stringify(this.spec.unkToken)} is not in the vocabulary`);
        if (this.spec.fuseUnk && unk >= 0) ends[unk] = i + len;
        else {
          unk = ids.length;
          ids.push(unkId);
          starts.push(i);
          ends.push(i + len);
        }
      }
      i += len;
    }
    const size = this.size;
    while (ids.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let k = 0; k + 1 < ids.length; k++) {
        const m = this.merges.get(ids[k] * size + ids[k + 1]);
        if (m !== undefined && m < best) {
          best = m;
          at = k;
        }
      }
      if (at < 0) break;
      ids[at] = best % size;
      ends[at] = ends[at + 1];
      ids.splice(at + 1, 1);
      starts.splice(at + 1, 1);
      ends.splice(at + 1, 1);
    }
    return ids.map((id, k) => ({ id: this.finalIds[id], start: starts[k], end: ends[k] }));
  }
}
