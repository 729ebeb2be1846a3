/** Whitespace (`\w+|[^\w\s]+`), WhitespaceSplit (on White_Space) and Split (a pattern and a behaviour). */
import { TokenizerLoadError } from "../errors.js";
import { bool, type Json } from "../json.js";
import type { NormalizedText } from "../normalized-text.js";
import { patternSource } from "../normalizers/replace.js";

export interface WhitespaceSpec {
  readonly type: "Whitespace" | "WhitespaceSplit";
}

export type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

export interface SplitSpec {
  readonly type: "Split";
  readonly pattern: string;
  readonly behavior: SplitBehavior;
  readonly invert: boolean;
}

const W = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
const WHITESPACE_RE = new RegExp(`[${W}]+|[^${W}\\p{White_Space}]+`, "gu");
const NON_SPACE_RE = /[^\p{White_Space}]+/gu;

function matches(input: NormalizedText, re: RegExp): NormalizedText[] {
  const out: NormalizedText[] = [];
  re.lastIndex = 0;
  for (const m of input.text.matchAll(re)) out.push(input.slice(m.index, m.index + m[0].length));
  return out;
}

/** The ranges of every match of a global regex (no empty match), pushed to bounds; returns the text. */
export function matchRanges(text: string, re: RegExp, bounds: number[]): string {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) bounds.push(m.index, m.index + m[0].length);
  return text;
}

export class Whitespace {
  private readonly re: RegExp;
  constructor(readonly type: "Whitespace" | "WhitespaceSplit") {
    this.re = type === "Whitespace" ? WHITESPACE_RE : NON_SPACE_RE;
  }
  preTokenize(input: NormalizedText): NormalizedText[] {
    return matches(input, this.re);
  }
  readonly words = (text: string, bounds: number[]): string => matchRanges(text, this.re, bounds);
}

const BEHAVIORS: readonly SplitBehavior[] = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

export function splitSpec(json: Json, source: string): SplitSpec {
  const behavior = json.behavior;
  if (typeof behavior !== "string" || !BEHAVIORS.includes(behavior as SplitBehavior)) throw new TokenizerLoadError(`${source}: Split.behavior ${JSON.stringify(behavior)} is not supported`);
  return { type: "Split", pattern: patternSource(json.pattern, "Split", source), behavior: behavior as SplitBehavior, invert: bool(json.invert, false, "Split.invert", source) };
}

/** Ranges [start, end, isMatch] covering the text (pattern.rs find_matches). */
export function findMatches(text: string, re: RegExp, invert = false): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > last) out.push([last, m.index, invert]);
    out.push([m.index, m.index + m[0].length, !invert]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push([last, text.length, invert]);
  return out;
}

/** NormalizedString::split with a behaviour: the non-empty pieces' [start, end). */
function splitRanges(ranges: [number, number, boolean][], behavior: SplitBehavior): [number, number][] {
  let pieces: [number, number][] = [];
  switch (behavior) {
    case "Isolated":
      pieces = ranges.map(([a, b]) => [a, b]);
      break;
    case "Removed":
      pieces = ranges.filter(([, , m]) => !m).map(([a, b]) => [a, b]);
      break;
    case "Contiguous": {
      let prev: boolean | null = null;
      for (const [a, b, m] of ranges) {
        if (prev === m && pieces.length > 0) pieces[pieces.length - 1][1] = b;
        else pieces.push([a, b]);
        prev = m;
      }
      break;
    }
    case "MergedWithPrevious": {
      let prevMatch = false;
      for (const [a, b, m] of ranges) {
        if (m && !prevMatch && pieces.length > 0) pieces[pieces.length - 1][1] = b;
        else pieces.push([a, b]);
        prevMatch = m;
      }
      break;
    }
    case "MergedWithNext": {
      let prevMatch = false;
      for (let k = ranges.length - 1; k >= 0; k--) {
        const [a, b, m] = ranges[k];
        if (m && !prevMatch && pieces.length > 0) pieces[pieces.length - 1][0] = a;
        else pieces.push([a, b]);
        prevMatch = m;
      }
      pieces.reverse();
      break;
    }
  }
  return pieces.filter(([a, b]) => b > a);
}

export function splitWith(input: NormalizedText, ranges: [number, number, boolean][], behavior: SplitBehavior): NormalizedText[] {
  return splitRanges(ranges, behavior).map(([a, b]) => input.slice(a, b));
}

export class Split {
  readonly type = "Split";
  private readonly re: RegExp;
  constructor(private readonly spec: SplitSpec) {
    this.re = new RegExp(spec.pattern, "gu");
  }
  preTokenize(input: NormalizedText): NormalizedText[] {
    return splitWith(input, findMatches(input.text, this.re, this.spec.invert), this.spec.behavior);
  }
  readonly words = (text: string, bounds: number[]): string => {
    for (const [a, b] of splitRanges(findMatches(text, this.re, this.spec.invert), this.spec.behavior)) bounds.push(a, b);
    return text;
  };
}
