import type { AdaptDeps } from "../adaptation/adapt-run.js";
import type { CallOptions, EmbedOptions, EncoderModel } from "../core/encoder.js";
import { classify, type ClassifyInput, type Classified } from "./classify.js";
import { embed, tokenize, type Embedding, type TokenizedText } from "./embed.js";
import { deleteHead, getHead, listHeads, setActiveVersion, type HeadDetails, type HeadSummary } from "./heads.js";
import { loaded } from "./readiness.js";
import { rerank, type RerankInput, type Reranked } from "./rerank.js";
import { tag, type TagInput, type Tagged } from "./tag.js";
import type { Feedback, FeedbackItem, FeedbackResult } from "../feedback/feedback.js";
import { headPolicy, setHeadPolicy } from "./policy.js";
import type { HeadPolicy, StoredPolicy } from "../store/head-store.js";

export interface EngineOptions {
  /** How long Classify and Tag wait for a min_version (--min-version-wait-ms). */
  readonly minVersionWaitMs: number;
  /** Most documents in one Rerank call (--max-rerank-documents). */
  readonly maxRerankDocuments?: number;
  /** Answered predictions the live metrics cover (--live-window). */
  readonly liveWindow?: number;
}

/**
 * What every wire API serves, in bertd's own terms: embeddings and tokens once the model is loaded;
 * classification, tagging and the heads once the heads are loaded too. Before that, UNAVAILABLE.
 */
export class Engine {
  private loadedModel: EncoderModel | undefined;
  private loadedHeads: AdaptDeps | undefined;
  private loadedFeedback: Feedback | undefined;

  constructor(private readonly options: EngineOptions) {}

  /** Embed, Tokenize and the model's info are served from now on. */
  modelLoaded(model: EncoderModel): void {
    this.loadedModel = model;
  }

  /** Classify, Tag, Adapt and the heads are served from now on. */
  headsLoaded(deps: AdaptDeps): void {
    this.loadedHeads = deps;
  }

  /** Feedback is taken from now on. */
  feedbackLoaded(feedback: Feedback): void {
    this.loadedFeedback = feedback;
  }

  /** The loaded model; UNAVAILABLE while it loads. */
  model(): EncoderModel {
    return loaded(this.loadedModel);
  }

  /** What Adapt runs and the heads use; UNAVAILABLE until the heads are loaded. */
  adaptDeps(): AdaptDeps {
    return loaded(this.loadedHeads);
  }

  /** Rerank with the model's own classifier needs only the model; with a pair head, the heads too. */
  rerank(input: RerankInput, call: CallOptions): Promise<Reranked> {
    const deps = { encoder: this.model(), heads: () => this.adaptDeps(), maxDocuments: this.options.maxRerankDocuments ?? 256, minVersionWaitMs: this.options.minVersionWaitMs };
    return rerank(deps, input, call);
  }

  embed(inputs: readonly string[], options: EmbedOptions, call: CallOptions): Promise<Embedding> {
    return embed(this.model(), inputs, options, call);
  }

  tokenize(inputs: readonly string[], addSpecialTokens: boolean, textPairs: readonly string[] = []): TokenizedText[] {
    return tokenize(this.model(), inputs, addSpecialTokens, textPairs);
  }

  classify(input: ClassifyInput, call: CallOptions): Promise<Classified> {
    return classify(this.adaptDeps(), input, this.options.minVersionWaitMs, call);
  }

  tag(input: TagInput, call: CallOptions): Promise<Tagged> {
    return tag(this.adaptDeps(), input, this.options.minVersionWaitMs, call);
  }

  listHeads(): Promise<HeadSummary[]> {
    return listHeads(this.adaptDeps());
  }

  getHead(name: string): Promise<HeadDetails> {
    return getHead(this.adaptDeps(), name, this.options.liveWindow ?? 1000);
  }

  feedback(items: readonly FeedbackItem[]): Promise<FeedbackResult[]> {
    return loaded(this.loadedFeedback).submit(items);
  }

  setHeadPolicy(name: string, policy: HeadPolicy): Promise<StoredPolicy> {
    return setHeadPolicy(this.adaptDeps(), name, policy);
  }

  headPolicy(name: string): Promise<StoredPolicy | undefined> {
    return headPolicy(this.adaptDeps(), name);
  }

  deleteHead(name: string): Promise<void> {
    return deleteHead(this.adaptDeps(), name);
  }

  /** Returns the version active before. */
  setActiveVersion(name: string, version: number): Promise<number> {
    return setActiveVersion(this.adaptDeps(), name, version);
  }
}
