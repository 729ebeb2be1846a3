/** Small readers for tokenizer.json and tokenizer_config.json values (every failure a TokenizerLoadError). */
import { readFileSync } from "node:fs";
import { TokenizerLoadError } from "./errors.js";

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenizerLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TokenizerLoadError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function bool(value: unknown, fallback: boolean, what: string, source: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw new TokenizerLoadError(`${source}: ${what} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** A component's "type" field, for error messages (the value itself when it is not an object). */
export function typeOf(component: unknown): unknown {
  return isObject(component) ? component.type : component;
}
