/**
 * Unigram (tokenizers/src/models/unigram/model.rs, encode_optimized and tokenize): Viterbi over
 * the vocabulary's pieces, unknown chars fused into one piece, byte fallback to <0xXX> tokens.
 */
import { TokenizerLoadError } from "../errors.js";
import { bool, type Json } from "../json.js";
import type { ModelPiece, TokenizerModel } from "./model.js";

export interface UnigramSpec {
  readonly type: "Unigram";
  /** Pieces in id order with their log-probabilities. */
  readonly pieces: readonly (readonly [string, number])[];
  /** token → id, as every model spec has. */
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkId: number | null;
  readonly unkToken: string;
  readonly byteFallback: boolean;
}

export function unigramSpec(model: Json, source: string): UnigramSpec {
  if (!Array.isArray(model.vocab) || model.vocab.length === 0) throw new TokenizerLoadError(`${source}: Unigram model.vocab must be a non-empty array of [piece, score]`);
  const pieces: [string, number][] = [];
  const vocab = new Map<string, number>();
  (model.vocab as unknown[]).forEach((entry, id) => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "number") throw new TokenizerLoadError(`${source}: bad Unigram vocab entry ${id}`);
    pieces.push([entry[0], entry[1]]);
    if (!vocab.has(entry[0])) vocab.set(entry[0], id);
  });
  const unkId = model.unk_id;
  if (unkId !== null && unkId !== undefined && (typeof unkId !== "number" || !Number.isInteger(unkId) || unkId < 0 || unkId >= pieces.length)) {
    throw new TokenizerLoadError(`${source}: Unigram unk_id ${JSON.stringify(unkId)} is outside the vocabulary`);
  }
  if (model.fuse_unk === false) throw new TokenizerLoadError(`${source}: Unigram fuse_unk false is not supported`);
  return {
    type: "Unigram",
    pieces,
    vocab,
    unkId: typeof unkId === "number" ? unkId : null,
    unkToken: typeof unkId === "number" ? pieces[unkId][0] : (pieces[0][0] ?? ""),
    byteFallback: bool(model.byte_fallback, false, "Unigram.byte_fallback", source),
  };
}

interface TrieNode {
  next: Map<number, TrieNode> | null;
  /** Id of the piece ending here, or -1. */
  id: number;
}

const K_UNK_PENALTY = 10;
const encoder = new TextEncoder();

export class Unigram implements TokenizerModel {
  readonly type = "Unigram";
  private readonly root: TrieNode = { next: null, id: -1 };
  private readonly scores: Float64Array;
  private readonly unkScore: number;
  private readonly byteIds: Int32Array | null;
  private readonly cache = new Map<string, ModelPiece[]>();

  constructor(
    private readonly spec: UnigramSpec,
    private readonly ids: (token: string) => number,
  ) {
    this.scores = Float64Array.from(spec.pieces, ([, score]) => score);
    let min = Infinity;
    for (const s of this.scores) if (s < min) min = s;
    this.unkScore = min - K_UNK_PENALTY;
    spec.pieces.forEach(([piece], id) => {
      if (piece.length === 0 || spec.vocab.get(piece) !== id) return;
      let node = this.root;
      for (let i = 0; i < piece.length; i++) {
        node.next ??= new Map();
        const c = piece.charCodeAt(i);
        let child = node.next.get(c);
        if (!child) node.next.set(c, (child = { next: null, id: -1 }));
        node = child;
      }
      node.id = id;
    });
    if (spec.byteFallback) {
      const byteIds = new Int32Array(256);
      for (let b = 0; b < 256; b++) {
        const token = byteToken(b);
        byteIds[b] = spec.vocab.has(token) ? ids(token) : -1;
      }
      this.byteIds = byteIds;
    } else this.byteIds = null;
  }

  /** The best segmentation's [start, end, modelId] (unk runs fused, modelId = unk id). */
  private viterbi(word: string): number[] {
    const n = word.length;
    const bestScore = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1);
    const unkId = this.spec.unkId;
    for (let start = 0; start < n; ) {
      const base = bestScore[start];
      const c = word.charCodeAt(start);
      const charLen = c >= 0xd800 && c <= 0xdbff && start + 1 < n && (word.charCodeAt(start + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let single = false;
      let node: TrieNode | undefined = this.root;
      for (let i = start; i < n && node; i++) {
        node = node.next?.get(word.charCodeAt(i));
        if (!node) break;
        if (node.id >= 0) {
          const end = i + 1;
          // A piece ending inside a surrogate pair is no piece (Rust's trie works on whole chars' bytes).
          if (end < n && (word.charCodeAt(end) & 0xfc00) === 0xdc00 && (word.charCodeAt(end - 1) & 0xfc00) === 0xd800) continue;
          const cand = base + this.scores[node.id];
          if (from[end] < 0 || cand > bestScore[end]) {
            bestScore[end] = cand;
            from[end] = start;
            bestId[end] = node.id;
          }
          if (end - start === charLen) single = true;
        }
      }
      if (!single) {
        if (unkId === null) throw new TokenizerLoadError("the Unigram model has no unk_id and met an unknown character");
        const end = start + charLen;
        const cand = base + this.unkScore;
        if (from[end] < 0 || cand > bestScore[end]) {
          bestScore[end] = cand;
          from[end] = start;
          bestId[end] = unkId;
        }
      }
      start += charLen;
    }
    const out: number[] = [];
    let end = n;
    let unkEnd = -1;
    while (end > 0) {
      const start = from[end];
      const id = bestId[end];
      if (unkId !== null && id === unkId) {
        if (unkEnd < 0) unkEnd = end;
      } else {
        if (unkEnd >= 0) {
          out.push(unkId!, end, unkEnd);
          unkEnd = -1;
        }
        out.push(id, start, end);
      }
      end = start;
    }
    if (unkEnd >= 0) out.push(unkId!, 0, unkEnd);
    return out;
  }

  pieces(word: string): ModelPiece[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const path = this.viterbi(word);
    const pieces: ModelPiece[] = [];
    for (let k = path.length - 3; k >= 0; k -= 3) {
      let id = path[k];
      const start = path[k + 1];
      const end = path[k + 2];
      if (id === this.spec.unkId) {
        const text = word.slice(start, end);
        const known = this.spec.vocab.get(text);
        if (known !== undefined) id = known;
        else if (this.byteIds && this.hasAllBytes(text)) {
          for (const b of encoder.encode(text)) pieces.push({ id: this.byteIds[b], start, end });
          continue;
        }
      }
      pieces.push({ id: this.ids(this.spec.pieces[id][0]), start, end });
    }
    if (this.cache.size < 100_000) this.cache.set(word, pieces);
    return pieces;
  }

  private hasAllBytes(text: string): boolean {
    for (const b of encoder.encode(text)) if (this.byteIds![b] < 0) return false;
    return true;
  }
}

/** SentencePiece's byte piece for a byte: <0x0A>. */
export function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}
