import type { CallOptions, EncoderModel, StageTimes, TruncationSide } from "../core/encoder.js";
import { failedPrecondition } from "../core/errors.js";
import { LOGITS } from "../core/pooling.js";
import type { HeadRegistry } from "../adaptation/head-registry.js";
import { MODEL_HEAD } from "./head-resolution.js";
import { sequenceHead } from "./head-resolution.js";
import { sigmoid, softmax } from "./scoring.js";

export interface PredictInput {
  readonly text: string;
  /** A head's name; undefined or "model": the model's own classifier. */
  readonly head?: string;
  readonly truncation: TruncationSide;
}

/** Every label's raw score and probability, in the head's label order. */
export interface Predicted {
  readonly labels: readonly string[];
  readonly logits: ArrayLike<number>;
  readonly probabilities: ArrayLike<number>;
  /** True when the model's own classifier scored the text. */
  readonly byModel: boolean;
  readonly head: string;
  readonly headVersion: number;
  readonly inputTokens: number;
  readonly times: StageTimes;
}

/** What a message says when nothing can classify: no classifier in the model and no head named. */
export const NO_CLASSIFIER = "the served model has no classifier (config.json id2label and a logits output) and no head was chosen";

/** One text through the model's classifier or a MULTICLASS/MULTILABEL head (its active version). */
export async function predict(encoder: EncoderModel, registry: HeadRegistry | undefined, input: PredictInput, minVersionWaitMs: number, call: CallOptions): Promise<Predicted> {
  if (input.head === undefined || input.head === MODEL_HEAD) {
    const classifier = encoder.info.classifier;
    if (!classifier) throw failedPrecondition(NO_CLASSIFIER);
    const { readouts, inputTokens, times } = await encoder.readouts([input.text], LOGITS, input.truncation, call);
    const logits = readouts[0];
    const probabilities = classifier.multilabel ? sigmoid(logits) : softmax(logits);
    return { labels: classifier.labels, logits, probabilities, byModel: true, head: MODEL_HEAD, headVersion: 1, inputTokens, times };
  }
  if (!registry) throw failedPrecondition("heads are still loading: retry shortly");
  const head = await sequenceHead(registry, { head: input.head, version: 0, minVersion: 0 }, minVersionWaitMs, call.signal);
  const { readouts, inputTokens, times } = await encoder.readouts([input.text], head.pooling, input.truncation, call);
  const scored = performance.now();
  const features = readouts[0];
  const result = { logits: head.snapshot.logits(features), probabilities: head.snapshot.predict(features) };
  return { labels: head.snapshot.labels, ...result, byModel: false, head: head.name, headVersion: head.version, inputTokens, times: { ...times, head: [scored, performance.now()] } };
}
