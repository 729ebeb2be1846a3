import { unavailable } from "../core/errors.js";

/** What a call gets while start-up has not loaded what it needs (the model, or the heads after it). */
export const STILL_LOADING = "the model is still loading: retry shortly (health reports SERVING when ready)";

/** The loaded value; UNAVAILABLE while it is still loading. */
export function loaded<T>(value: T | undefined): T {
  if (value === undefined) throw unavailable(STILL_LOADING);
  return value;
}
