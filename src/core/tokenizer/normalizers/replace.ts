/** Replace (tokenizers/src/normalizers/replace.rs): every match of a string or regex, alignments as NormalizedString::replace. */
import { TokenizerLoadError } from "../errors.js";
import { isObject, type Json } from "../json.js";
import { transformText, type CharChange, type NormalizedText } from "../normalized-text.js";

export interface ReplaceSpec {
  readonly type: "Replace";
  /** A global regex (a String pattern escaped). */
  readonly pattern: string;
  readonly content: string;
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** tokenizer.json's pattern: {"String": "…"} or {"Regex": "…"} (Oniguruma, read as a JS `u` regex). */
export function patternSource(pattern: unknown, what: string, source: string): string {
  if (isObject(pattern) && typeof pattern.String === "string") return escapeRegex(pattern.String);
  if (isObject(pattern) && typeof pattern.Regex === "string") {
    try {
      new RegExp(pattern.Regex, "gu");
    } catch (error) {
      throw new TokenizerLoadError(`${source}: ${what} regex ${JSON.stringify(pattern.Regex)} is not supported: ${(error as Error).message}`);
    }
    return pattern.Regex.replaceAll("\\s", "\\p{White_Space}");
  }
  throw new TokenizerLoadError(`${source}: ${what} pattern must be {"String": …} or {"Regex": …}`);
}

export function replaceSpec(json: Json, source: string): ReplaceSpec {
  if (typeof json.content !== "string") throw new TokenizerLoadError(`${source}: Replace needs a string content`);
  return { type: "Replace", pattern: patternSource(json.pattern, "Replace", source), content: json.content };
}

export class Replace {
  readonly type = "Replace";
  private readonly re: RegExp;

  constructor(private readonly spec: ReplaceSpec) {
    this.re = new RegExp(spec.pattern, "gu");
  }

  normalize(input: NormalizedText): NormalizedText {
    this.re.lastIndex = 0;
    if (!this.re.test(input.text)) return input;
    const dest: CharChange[] = [];
    let last = 0;
    const text = input.text;
    const content = [...this.spec.content];
    this.re.lastIndex = 0;
    for (const match of text.matchAll(this.re)) {
      if (match[0].length === 0) continue;
      for (const c of text.slice(last, match.index)) dest.push([c, 0]);
      const removed = [...match[0]].length;
      // Rust: the matched chars removed first, then every new char inserted (aligned to the last removed).
      if (content.length === 0) dest.push(["", 1, removed]);
      else content.forEach((c, k) => dest.push(k === 0 ? [c, 1, removed] : [c, 1]));
      last = match.index + match[0].length;
    }
    for (const c of text.slice(last)) dest.push([c, 0]);
    return transformText(input, dest, 0);
  }

  normalizeString(text: string): string {
    this.re.lastIndex = 0;
    // As normalize(): an empty match replaces nothing.
    return text.replace(this.re, (match) => (match.length === 0 ? match : this.spec.content));
  }
}

