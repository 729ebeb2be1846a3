import type { EncoderModel } from "../core/encoder.js";
import { TOKEN_STATES } from "../core/pooling.js";
import { joinWords, rowsPerWord } from "../core/words.js";
import { OUTSIDE, SpanCounts, isTag } from "../heads/tagging.js";
import type { EvalMetrics, HeadTrainer, LabelledExample } from "../heads/index.js";
import type { StoredExample } from "../store/head-store.js";
import type { EmbeddingCache } from "./embedding-cache.js";

/** A TOKEN example with its features: the state of each word's first piece, or undefined when truncation cut it. */
export interface TaggedSentence {
  readonly rows: readonly (Float32Array | undefined)[];
  readonly tags: readonly string[];
  readonly weight: number;
}

export interface TokenExampleInput {
  readonly id: string;
  readonly text: string;
  readonly labels: readonly string[];
  readonly words: readonly string[];
  readonly tags: readonly string[];
}

/**
 * Why a TOKEN example is malformed (the caller's mistake: the stream fails with INVALID_ARGUMENT),
 * or undefined. `known` is the head's tag set when new tags are not allowed.
 */
export function tokenExampleProblem(example: TokenExampleInput, known: readonly string[] | undefined): string | undefined {
  const name = `example "${example.id}"`;
  if (example.text || example.labels.length > 0) return `${name} sets text or labels: a TOKEN head takes words and tags`;
  if (example.words.length === 0) return `${name} has no words`;
  if (example.tags.length !== example.words.length) return `${name} has ${example.tags.length} tags for ${example.words.length} words: send one tag per word`;
  const blank = example.words.findIndex((word) => word.trim().length === 0);
  if (blank >= 0) return `${name}: words[${blank}] is empty`;
  const invalid = example.tags.findIndex((tag) => !isTag(tag));
  if (invalid >= 0) return `${name}: tags[${invalid}] "${example.tags[invalid]}" is not O, B-TYPE or I-TYPE`;
  const unknown = known ? example.tags.find((tag) => !known.includes(tag)) : undefined;
  if (unknown !== undefined) return `${name}: tag "${unknown}" is not one of the head's tags (and allow_new_labels is false)`;
  return undefined;
}

/**
 * TOKEN examples live in the store's ordinary example fields: `text` holds the JSON array of the
 * words and `labels` the tags, one per word.
 */
export function wordsOfStored(example: StoredExample): string[] {
  return JSON.parse(example.text) as string[];
}

/** The first-piece states of each example's words: the cache first, the encoder for the rest. */
export async function sentencesFor(
  encoder: EncoderModel,
  cache: EmbeddingCache,
  examples: readonly { words: readonly string[]; tags: readonly string[]; weight: number }[],
  signal?: AbortSignal,
): Promise<TaggedSentence[]> {
  const width = encoder.info.tokenStateWidth;
  const { aligned } = encoder.alignInputs(
    examples.map((e) => joinWords(e.words)),
    { unlimited: true },
  );
  const keys = examples.map((e) => cache.key(TOKEN_STATES, JSON.stringify(e.words)));
  const states = keys.map((key) => cache.get(key));
  const missing = states.flatMap((hit, i) => (hit ? [] : [i]));
  const CHUNK = 256;
  for (let start = 0; start < missing.length; start += CHUNK) {
    const slice = missing.slice(start, start + CHUNK);
    const result = await encoder.wordStates(
      slice.map((i) => aligned[i]),
      { priority: "background", signal },
    );
    slice.forEach((index, j) => {
      // A copy: the rows are a view into their whole batch's buffer.
      states[index] = result.states[j].slice();
      cache.set(keys[index], states[index]);
    });
  }
  return examples.map((example, i) => ({ rows: rowsPerWord(aligned[i], states[i]!, width), tags: example.tags, weight: example.weight }));
}

/** One multiclass training row per word that has features. */
export function wordRows(sentence: TaggedSentence): LabelledExample[] {
  const rows: LabelledExample[] = [];
  sentence.rows.forEach((features, i) => {
    if (features) rows.push({ features, labels: [sentence.tags[i]], weight: sentence.weight });
  });
  return rows;
}

/** Something that scores one word's features over `labels` (a trainer or a served snapshot). */
export interface WordScorer {
  readonly labels: readonly string[];
  predict(features: ArrayLike<number>): Float64Array;
}

/** The argmax tag and its probability per word; words without features get O with score 0. */
export function predictTags(scorer: WordScorer, rows: readonly (ArrayLike<number> | undefined)[]): { tags: string[]; scores: number[] } {
  const tags: string[] = [];
  const scores: number[] = [];
  for (const features of rows) {
    if (!features || scorer.labels.length === 0) {
      tags.push(OUTSIDE);
      scores.push(0);
      continue;
    }
    const probs = scorer.predict(features);
    let best = 0;
    for (let j = 1; j < probs.length; j++) if (probs[j] > probs[best]) best = j;
    tags.push(scorer.labels[best]);
    scores.push(probs[best]);
  }
  return { tags, scores };
}

/**
 * Per-word accuracy, macro-F1 and log-loss (HeadTrainer.evaluate over the words that have features)
 * and entity-level precision, recall and F1 over whole sentences (a truncated word counts as O);
 * `examples` counts sentences.
 */
export function evaluateSentences(trainer: HeadTrainer, sentences: readonly TaggedSentence[]): EvalMetrics {
  const words = trainer.evaluate(sentences.flatMap(wordRows));
  const spans = new SpanCounts();
  for (const sentence of sentences) spans.add(sentence.tags, predictTags(trainer, sentence.rows).tags);
  return { ...words, examples: sentences.length, spanPrecision: spans.precision, spanRecall: spans.recall, spanF1: spans.f1 };
}
