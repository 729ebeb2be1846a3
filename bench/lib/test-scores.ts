import type { ServiceClient } from "../../src/client/grpc-client.js";
import type { Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";

/** Test accuracy and macro-F1 (mean F1 over the labels present in the truth or the predictions). */
export function testScores(truth: readonly string[], predicted: readonly string[], labels: readonly string[]): { accuracy: number; macroF1: number } {
  let correct = 0;
  const f1s: number[] = [];
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) correct++;
  for (const label of labels) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < truth.length; i++) {
      if (predicted[i] === label && truth[i] === label) tp++;
      else if (predicted[i] === label) fp++;
      else if (truth[i] === label) fn++;
    }
    if (tp + fp + fn > 0) f1s.push(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  return { accuracy: correct / truth.length, macroF1: f1s.reduce((a, b) => a + b, 0) / f1s.length };
}

/** The top label Classify gives each text (head's active version, or `version`), 64 texts per call. */
export async function topLabels(encoder: ServiceClient<typeof Encoder>, head: string, texts: readonly string[], version = 0): Promise<string[]> {
  const classify = encoder.unary("classify");
  const out: string[] = [];
  for (let i = 0; i < texts.length; i += 64) {
    const response = await classify({ head, inputs: texts.slice(i, i + 64), topK: 1, version });
    for (const p of response.predictions) out.push(p.labels[0].label);
  }
  return out;
}
