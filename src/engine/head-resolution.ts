import type { HeadRegistry, ServedHead } from "../adaptation/head-registry.js";
import type { CancelSignal } from "../core/cancellation.js";
import type { ModelInfo } from "../core/encoder.js";
import { invalidArgument, notFound } from "../core/errors.js";

/** The read-only head of a model that ends in a classifier (config.json id2label, a `logits` output). */
export const MODEL_HEAD = "model";

/** Which head a call asks for. */
export interface HeadRequest {
  readonly head: string;
  /** 0 = the active version. */
  readonly version: number;
  /** Read-your-writes: wait until the active version is at least this (0 = no wait). */
  readonly minVersion: number;
}

export type ModelClassifier = NonNullable<ModelInfo["classifier"]>;

/** The model's own classifier as head "model" (version 1 only); NOT_FOUND when the model has none. */
export function modelClassifier(info: ModelInfo, request: HeadRequest): ModelClassifier {
  const classifier = info.classifier;
  if (!classifier) throw notFound(`head "model" does not exist: the served model has no classifier (no logits output with id2label)`);
  if (request.version > 1) throw notFound(`head "model" has only version 1 (the model itself)`);
  return classifier;
}

/** A MULTICLASS or MULTILABEL head, for Classify. */
export async function sequenceHead(registry: HeadRegistry, request: HeadRequest, waitMs: number, signal?: CancelSignal): Promise<ServedHead> {
  const head = await registry.resolve(request.head, request, waitMs, signal);
  if (head.type === "token") throw invalidArgument(`head "${request.head}" is a TOKEN head: use Tag`);
  return head;
}

/** A TOKEN head, for Tag. */
export async function tokenHead(registry: HeadRegistry, request: HeadRequest, waitMs: number, signal?: CancelSignal): Promise<ServedHead> {
  const head = await registry.resolve(request.head, request, waitMs, signal);
  if (head.type !== "token") throw invalidArgument(`head "${request.head}" is ${head.type.toUpperCase()}, not TOKEN: use Classify`);
  return head;
}
