/** Token ↔ id over the model's vocabulary and the added tokens, shared by every tokenizer. */
import type { AddedVocabulary } from "./added-tokens.js";
import { TokenizerLoadError } from "./errors.js";
import type { SpecialTokenIds } from "./tokenizer.js";

/** The special tokens' contents by role. */
export interface SpecialTokenNames {
  readonly unk: string;
  readonly cls: string;
  readonly sep: string;
  readonly pad: string;
  readonly mask: string;
}

export class Vocabulary {
  /** The model's tokens_to_ids with the added tokens merged in (what tokenToId answers). */
  private readonly ids: Map<string, number>;
  private readonly tokens: (string | undefined)[] = [];
  private readonly specials = new Set<number>();
  private readonly modelUnkId: number;

  constructor(
    modelVocab: ReadonlyMap<string, number>,
    unkToken: string,
    private readonly added: AddedVocabulary,
  ) {
    // A model without an unknown token (byte-level BPE) has -1 here: resolve() then throws for a stranger.
    this.modelUnkId = modelVocab.get(unkToken) ?? -1;
    this.ids = new Map(modelVocab);
    for (const [token, id] of modelVocab) this.tokens[id] = token;
    for (const token of added.tokens) {
      this.ids.set(token.content, token.id);
      this.tokens[token.id] = token.content;
      if (token.special) this.specials.add(token.id);
    }
  }

  /** The largest id + 1. */
  get size(): number {
    return this.tokens.length;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id, or undefined outside the vocabulary. */
  token(id: number): string | undefined {
    return Number.isInteger(id) ? this.tokens[id] : undefined;
  }

  idToToken(id: number): string {
    const token = this.token(id);
    if (token === undefined) throw new RangeError(`token id ${id} is not in the vocabulary (size ${this.size})`);
    return token;
  }

  /** transformers.js's convert_tokens_to_ids: the added tokens first, then the vocabulary, else the model's unknown token. */
  resolve(token: string): number {
    const id = this.added.map.get(token)?.id ?? this.ids.get(token) ?? this.modelUnkId;
    if (id < 0) throw new TokenizerLoadError(`the token ${JSON.stringify(token)} is not in the vocabulary (and the model has no unknown token)`);
    return id;
  }

  specialIds(names: SpecialTokenNames): SpecialTokenIds {
    const required = (role: string, token: string): number => {
      const id = this.ids.get(token);
      if (id === undefined) throw new TokenizerLoadError(`the ${role} token ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    return {
      unk: required("unknown", names.unk),
      cls: required("classifier", names.cls),
      sep: required("separator", names.sep),
      pad: required("padding", names.pad),
      mask: required("mask", names.mask),
    };
  }

  /** The tokens of ids, for a decoder; special added tokens left out when asked. */
  tokensOf(ids: ArrayLike<number>, skipSpecialTokens: boolean): string[] {
    const tokens: string[] = [];
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      const token = this.idToToken(id);
      if (!(skipSpecialTokens && this.specials.has(id))) tokens.push(token);
    }
    return tokens;
  }
}
