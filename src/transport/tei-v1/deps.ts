import type { Metadata } from "@grpc/grpc-js";
import type { Engine } from "../../engine/engine.js";
import type { CallLogger } from "../calls.js";

export interface TeiV1Deps {
  readonly engine: Engine;
  readonly calls: CallLogger;
  /** bertd's version, for Info. */
  readonly version: string;
  /** The head Predict uses when a call names none (--tei-predict-head); "" or undefined: the model's classifier. */
  readonly predictHead?: string;
}

/** Request metadata naming the head a Predict call uses, over --tei-predict-head. */
export const HEAD_HEADER = "x-bertd-head";

/** The head a Predict call asks for: its x-bertd-head metadata, else --tei-predict-head, else the model's classifier (undefined). */
export function predictHeadOf(metadata: Metadata, configured: string | undefined): string | undefined {
  const value = metadata.get(HEAD_HEADER)[0];
  if (typeof value === "string" && value !== "") return value;
  return configured || undefined;
}
