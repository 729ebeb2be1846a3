import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { invalidArgument } from "../core/errors.js";

/** Named prompts put before a text (sentence-transformers' `prompts`, e.g. {"query": "query: "}). */
export type Prompts = Readonly<Record<string, string>>;

/** The `prompts` of a model directory's config_sentence_transformers.json; empty when it has none. */
export function readPrompts(modelDir: string): Prompts {
  const path = join(modelDir, "config_sentence_transformers.json");
  if (!existsSync(path)) return {};
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const prompts = (config as { prompts?: unknown }).prompts;
  if (prompts === undefined || prompts === null) return {};
  if (typeof prompts !== "object" || Array.isArray(prompts)) throw new Error(`${path}: "prompts" must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(prompts)) {
    if (typeof text !== "string") throw new Error(`${path}: prompt "${name}" is not a string`);
    out[name] = text;
  }
  return Object.freeze(out);
}

/** The text of prompt `name`; INVALID_ARGUMENT naming the prompts there are when it is not one. */
export function promptText(prompts: Prompts, name: string): string {
  if (Object.hasOwn(prompts, name)) return prompts[name];
  const known = Object.keys(prompts);
  throw invalidArgument(
    known.length === 0
      ? `prompt_name "${name}": the model has no prompts (no "prompts" in config_sentence_transformers.json)`
      : `prompt_name "${name}" is not one of the model's prompts: ${known.map((k) => `"${k}"`).join(", ")}`,
  );
}
