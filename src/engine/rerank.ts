import type { AdaptDeps } from "../adaptation/adapt-run.js";
import type { CallOptions, EncoderModel, StageTimes, TruncationSide } from "../core/encoder.js";
import { failedPrecondition, invalidArgument } from "../core/errors.js";
import { LOGITS } from "../core/pooling.js";
import type { TruncationStrategy } from "../core/tokenizer/index.js";
import { MODEL_HEAD, sequenceHead } from "./head-resolution.js";
import { softmax } from "./scoring.js";

export interface RerankInput {
  readonly query: string;
  readonly documents: readonly string[];
  /** The best N ranks (0 = all). */
  readonly topN: number;
  readonly returnDocuments: boolean;
  /** "" or "model": the model's own classifier; else a pair head. */
  readonly head: string;
  /** The logit (model) or log-odds (head) instead of a probability. */
  readonly rawScores: boolean;
  readonly truncation?: TruncationSide;
  readonly strategy?: TruncationStrategy;
  /** Pair heads: the label whose probability is the score. */
  readonly label: string;
  readonly version: number;
  readonly minVersion: number;
}

export interface Rank {
  readonly index: number;
  readonly score: number;
  readonly document?: string;
}

export interface Reranked {
  readonly ranks: Rank[];
  readonly inputTokens: number;
  readonly head: string;
  readonly headVersion: number;
  readonly times: StageTimes;
}

export interface RerankDeps {
  readonly encoder: EncoderModel;
  /** The heads, for a pair head; UNAVAILABLE (thrown) while they load. */
  heads(): AdaptDeps;
  readonly maxDocuments: number;
  readonly minVersionWaitMs: number;
}

/** Scores (query, document) pairs with a cross-encoder and sorts them, best first. */
export async function rerank(deps: RerankDeps, input: RerankInput, call: CallOptions): Promise<Reranked> {
  const { encoder } = deps;
  checkRerankInput(input, deps.maxDocuments, encoder.maxInputChars);
  const pairs = input.documents.map((document) => ({ text: input.query, textPair: document }));
  const truncation = { side: input.truncation, strategy: input.strategy };
  const options = { unlimited: true, field: "documents" };
  let scores: number[];
  let head = MODEL_HEAD;
  let headVersion = 1;
  let inputTokens: number;
  let times: StageTimes;
  if (!input.head || input.head === MODEL_HEAD) {
    const score = modelScorer(encoder, input.rawScores);
    const read = await encoder.pairReadouts(pairs, LOGITS, truncation, call, options);
    scores = read.readouts.map(score);
    ({ inputTokens, times } = read);
  } else {
    const served = await sequenceHead(deps.heads().registry, input, deps.minVersionWaitMs, call.signal);
    if (!served.pair) throw failedPrecondition(`head "${served.name}" is a single-text head: Rerank needs a pair head (created with Adapt's config.pair)`);
    const labels = served.snapshot.labels;
    if (!input.label) throw invalidArgument(`label is empty: name the label of head "${served.name}" whose probability ranks the documents (one of ${labels.join(", ")})`);
    const at = labels.indexOf(input.label);
    if (at < 0) throw invalidArgument(`label "${input.label}" is not one of head "${served.name}"'s labels (${labels.join(", ")})`);
    const read = await encoder.pairHeadFeatures(pairs, served.pooling, truncation, call, options);
    scores = read.readouts.map((features) => {
      const p = served.snapshot.predict(features)[at];
      return input.rawScores ? logOdds(p) : p;
    });
    ({ inputTokens, times } = read);
    head = served.name;
    headVersion = served.version;
  }
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const kept = input.topN > 0 ? order.slice(0, input.topN) : order;
  const ranks = kept.map((index) => ({ index, score: scores[index], ...(input.returnDocuments ? { document: input.documents[index] } : {}) }));
  return { ranks, inputTokens, head, headVersion, times };
}

/** INVALID_ARGUMENT naming what is wrong: an empty query, no documents, too many, too long. */
export function checkRerankInput(input: Pick<RerankInput, "query" | "documents">, maxDocuments: number, maxChars: number): void {
  if (input.query.length === 0) throw invalidArgument("query is empty: send the text to rank the documents against");
  if (input.documents.length === 0) throw invalidArgument("documents is empty: send at least one document to rank");
  if (input.documents.length > maxDocuments) {
    throw invalidArgument(`documents has ${input.documents.length} texts, over the limit of ${maxDocuments} per call (--max-rerank-documents)`);
  }
  if (input.query.length > maxChars) throw invalidArgument(`query has ${input.query.length} characters, over the limit of ${maxChars} (--max-input-chars)`);
  const long = input.documents.findIndex((document) => document.length > maxChars);
  if (long >= 0) throw invalidArgument(`documents[${long}] has ${input.documents[long].length} characters, over the limit of ${maxChars} (--max-input-chars)`);
}

/**
 * The model's own relevance score of a logits row: one logit → sigmoid, two classes → the second's
 * softmax (sigmoid when multi-label). Raw: the logit, or for two classes the log-odds logit₁ − logit₀
 * (raw and normalized scores rank alike). FAILED_PRECONDITION when the model is no cross-encoder.
 */
export function modelScorer(encoder: EncoderModel, raw: boolean): (logits: Float32Array) => number {
  const classifier = encoder.info.classifier;
  if (!classifier) {
    throw failedPrecondition("the served model is not a cross-encoder (no logits output with config.json id2label): name a pair head taught through Heads.Adapt in head");
  }
  const n = classifier.labels.length;
  if (n === 1) return (logits) => (raw ? logits[0] : 1 / (1 + Math.exp(-logits[0])));
  if (n === 2) {
    if (raw) return classifier.multilabel ? (logits) => logits[1] : (logits) => logits[1] - logits[0];
    return classifier.multilabel ? (logits) => 1 / (1 + Math.exp(-logits[1])) : (logits) => softmax(logits)[1];
  }
  throw failedPrecondition(`the model's classifier has ${n} labels (${classifier.labels.join(", ")}): Rerank needs a cross-encoder with one logit, or two classes whose second is "relevant"`);
}

function logOdds(p: number): number {
  const clamped = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
  return Math.log(clamped / (1 - clamped));
}
