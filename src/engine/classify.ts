import type { CallOptions, StageTimes, TruncationSide } from "../core/encoder.js";
import { invalidArgument } from "../core/errors.js";
import { LOGITS } from "../core/pooling.js";
import { MODEL_HEAD, modelClassifier, sequenceHead, type HeadRequest } from "./head-resolution.js";
import type { ServedHeads } from "./heads.js";
import { rankLabels, sigmoid, softmax, type RankedLabels } from "./scoring.js";

export interface ClassifyInput extends HeadRequest {
  readonly inputs: readonly string[];
  /** Labels per input, highest score first (0 = all). */
  readonly topK: number;
  readonly truncation?: TruncationSide;
}

export interface Classified {
  readonly predictions: RankedLabels[];
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
  encoder.checkInputs(input.inputs);
  if (input.head === MODEL_HEAD) {
    const classifier = modelClassifier(encoder.info, input);
    const { readouts: logits, inputTokens } = await encoder.readouts(input.inputs, LOGITS, input.truncation, call);
    const predictions = logits.map((row) => rankLabels(classifier.labels, classifier.multilabel ? sigmoid(row) : softmax(row), input.topK));
    return { predictions, headVersion: 1, byModel: true, inputTokens };
  }
  const head = await sequenceHead(registry, input, minVersionWaitMs, call.signal);
  const { readouts, inputTokens, times } = await encoder.readouts(input.inputs, head.pooling, input.truncation, call);
  const inferred = performance.now();
  const predictions = readouts.map((features) => rankLabels(head.snapshot.labels, head.snapshot.predict(features), input.topK));
  return { predictions, headVersion: head.version, byModel: false, inputTokens, times: { ...times, head: [inferred, performance.now()] } };
}
