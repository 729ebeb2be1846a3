import type { CallOptions, StageTimes, TruncationSide } from "../core/encoder.js";
import { failedPrecondition, invalidArgument } from "../core/errors.js";
import { zipPairs, type TextPair } from "../core/pair-inputs.js";
import { LOGITS } from "../core/pooling.js";
import type { TruncationStrategy } from "../core/tokenizer/index.js";
import { MODEL_HEAD, modelClassifier, sequenceHead, type HeadRequest } from "./head-resolution.js";
import type { ServedHead } from "../adaptation/head-registry.js";
import { MULTILABEL_THRESHOLD } from "../heads/index.js";
import type { PredictionRecord } from "../store/head-store.js";
import type { ServedHeads } from "./heads.js";
import { rankLabels, sigmoid, softmax, type RankedLabels } from "./scoring.js";

export interface ClassifyInput extends HeadRequest {
  readonly inputs: readonly string[];
  /** Sentence pairs: one second text per input (empty = single texts). */
  readonly textPairs?: readonly string[];
  /** Labels per input, highest score first (0 = all). */
  readonly topK: number;
  readonly truncation?: TruncationSide;
  /** Pairs: which text an over-long pair loses tokens from (default longest_first). */
  readonly strategy?: TruncationStrategy;
}

export interface Classified {
  readonly predictions: RankedLabels[];
  /** One per input, for Feedback (empty when predictions are not kept, and for head "model"). */
  readonly predictionIds: string[];
  readonly headVersion: number;
  /** True when the model's own classifier (head "model") scored the inputs. */
  readonly byModel: boolean;
  readonly inputTokens: number;
  /** Stage times; the model's own classifier reports none. */
  readonly times?: StageTimes;
}

/** The inputs' features through the head's immutable snapshot, or the model's logits for head "model". */
export async function classify(heads: ServedHeads, input: ClassifyInput, minVersionWaitMs: number, call: CallOptions): Promise<Classified> {
  const { encoder, registry } = heads;
  if (!input.head) throw invalidArgument("head is empty: name the head to classify with");
  const pairs = input.textPairs && input.textPairs.length > 0 ? zipPairs(input.inputs, input.textPairs, "inputs", "text_pairs") : undefined;
  if (pairs) encoder.checkPairs(pairs);
  else encoder.checkInputs(input.inputs);
  const truncation = { side: input.truncation, strategy: input.strategy };
  if (input.head === MODEL_HEAD) {
    const classifier = modelClassifier(encoder.info, input);
    const { readouts: logits, inputTokens } = pairs ? await encoder.pairReadouts(pairs, LOGITS, truncation, call) : await encoder.readouts(input.inputs, LOGITS, input.truncation, call);
    const predictions = logits.map((row) => rankLabels(classifier.labels, classifier.multilabel ? sigmoid(row) : softmax(row), input.topK));
    return { predictions, predictionIds: [], headVersion: 1, byModel: true, inputTokens };
  }
  const head = await sequenceHead(registry, input, minVersionWaitMs, call.signal);
  checkHeadInput(head.name, head.pair, pairs);
  const { readouts, inputTokens, times } = pairs
    ? await encoder.pairHeadFeatures(pairs, head.pooling, truncation, call)
    : await encoder.readouts(input.inputs, head.pooling, input.truncation, call);
  const inferred = performance.now();
  const scores = readouts.map((features) => head.snapshot.predict(features));
  const predictions = scores.map((row) => rankLabels(head.snapshot.labels, row, input.topK));
  const predictionIds = heads.predictions?.enabled ? keepPredictions(heads, head, pairs ?? input.inputs, readouts, scores, cacheable(input, pairs)) : [];
  return { predictions, predictionIds, headVersion: head.version, byModel: false, inputTokens, times: { ...times, head: [inferred, performance.now()] } };
}

/** Whether these features are the ones Adapt would compute (right-side truncation; pairs longest_first), so the cache may hold them. */
function cacheable(input: ClassifyInput, pairs: readonly TextPair[] | undefined): boolean {
  if (input.truncation !== undefined && input.truncation !== "right") return false;
  return !pairs || input.strategy === undefined || input.strategy === "longest_first";
}

/**
 * Keeps what feedback on these predictions needs: the text (a pair as Adapt logs it, a JSON
 * [text, text_pair]), what was served and its scores; the features go to the embedding cache, so
 * learning from the feedback soon after skips the encoder.
 */
function keepPredictions(heads: ServedHeads, head: ServedHead, inputs: readonly (string | TextPair)[], features: readonly Float32Array[], scores: readonly Float64Array[], cache: boolean): string[] {
  const store = heads.predictions!;
  const now = Date.now();
  const labels = head.snapshot.labels;
  const records: PredictionRecord[] = inputs.map((input, i) => {
    const row = scores[i];
    let served: string[];
    if (head.type === "multilabel") served = labels.filter((_, j) => row[j] > MULTILABEL_THRESHOLD);
    else {
      let best = 0;
      for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
      served = labels.length > 0 ? [labels[best]] : [];
    }
    if (heads.cache && cache) {
      const key = typeof input === "string" ? heads.cache.key(head.pooling, input) : heads.cache.pairKey(head.pooling, input.text, input.textPair);
      if (!heads.cache.get(key)) heads.cache.set(key, features[i].slice());
    }
    const text = typeof input === "string" ? input : JSON.stringify([input.text, input.textPair]);
    return { id: store.newId(now), head: head.name, type: head.type, version: head.version, text, served, scores: Array.from(row), createdAtMs: now, expiresAtMs: now + store.windowMs };
  });
  store.keep(records);
  return records.map((record) => record.id);
}

/** FAILED_PRECONDITION when pairs go to a single-text head or single texts to a pair head. */
export function checkHeadInput(name: string, pairHead: boolean, pairs: readonly TextPair[] | undefined): void {
  if (pairHead && !pairs) throw failedPrecondition(`head "${name}" is a pair head: send text_pairs, one second text per input`);
  if (!pairHead && pairs) throw failedPrecondition(`head "${name}" is a single-text head: send inputs without text_pairs (a pair head is created with Adapt's config.pair)`);
}
