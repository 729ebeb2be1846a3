import { create } from "@bufbuild/protobuf";
import type { HeadRegistry } from "../adaptation/head-registry.js";
import type { EncoderModel } from "../core/encoder.js";
import { invalidArgument, notFound, unavailable } from "../core/errors.js";
import { LOGITS } from "../core/pooling.js";
import { ClassifyResponseSchema, type ClassifyRequest } from "../gen/bertd/v1/encoder_pb.js";
import type { CallContext, CallLogger } from "./calls.js";
import { truncationOf } from "./encoder-service.js";

/** Encoder.Classify: the head's features through its immutable snapshot. */
export function classifyHandler(deps: { encoder: () => EncoderModel | undefined; registry: () => HeadRegistry | undefined; calls: CallLogger; minVersionWaitMs: number }) {
  return deps.calls.unary("Classify", async (request: ClassifyRequest, context) => {
    const encoder = deps.encoder();
    const registry = deps.registry();
    if (!encoder || !registry) throw unavailable("the model is still loading: retry shortly");
    if (!request.head) throw invalidArgument("head is empty: name the head to classify with");
    encoder.checkInputs(request.inputs);
    if (request.head === MODEL_HEAD) return classifyWithModel(encoder, request, context);
    const head = await registry.resolve(request.head, request, deps.minVersionWaitMs, context.signal);
    if (head.type === "token") throw invalidArgument(`head "${request.head}" is a TOKEN head: use Tag`);
    const { readouts: pooled, inputTokens: tokens, times } = await encoder.readouts(request.inputs, head.pooling, truncationOf(request.truncation), {
      deadline: context.deadline,
      signal: context.signal,
    });
    const inferred = performance.now();
    const predictions = pooled.map((features) => ranked(head.snapshot.labels, head.snapshot.predict(features), request.topK));
    deps.calls.stages(context, { ...times, head: [inferred, performance.now()] });
    return {
      response: create(ClassifyResponseSchema, { predictions, headVersion: head.version, usage: { inputTokens: tokens } }),
      fields: { head: request.head, version: head.version, inputCount: request.inputs.length, inputTokens: tokens },
    };
  });
}

/** The read-only head of a model that ends in a classifier (config.json id2label, a `logits` output). */
export const MODEL_HEAD = "model";

async function classifyWithModel(encoder: EncoderModel, request: ClassifyRequest, context: CallContext) {
  const classifier = encoder.info.classifier;
  if (!classifier) throw notFound(`head "model" does not exist: the served model has no classifier (no logits output with id2label)`);
  if (request.version > 1) throw notFound(`head "model" has only version 1 (the model itself)`);
  const { readouts: logits, inputTokens: tokens } = await encoder.readouts(request.inputs, LOGITS, truncationOf(request.truncation), {
    deadline: context.deadline,
    signal: context.signal,
  });
  const predictions = logits.map((row) => ranked(classifier.labels, classifier.multilabel ? sigmoid(row) : softmax(row), request.topK));
  return {
    response: create(ClassifyResponseSchema, { predictions, headVersion: 1, usage: { inputTokens: tokens } }),
    fields: { head: MODEL_HEAD, inputCount: request.inputs.length, inputTokens: tokens },
  };
}

function ranked(labels: readonly string[], scores: ArrayLike<number>, topK: number): { labels: { label: string; score: number }[] } {
  const k = topK > 0 ? Math.min(topK, labels.length) : labels.length;
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  return { labels: order.slice(0, k).map((i) => ({ label: labels[i], score: scores[i] })) };
}

function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

function sigmoid(row: ArrayLike<number>): Float64Array {
  return Float64Array.from(row, (x) => 1 / (1 + Math.exp(-x)));
}
