/**
 * A real sentence-pair task from test/fixtures/debian-package-descriptions: is this long description
 * the one of the package with this short description? Each package gives one positive pair (its own
 * short and long descriptions) and one negative (its short description and another package's long
 * one, from the same split), so every short and every long text is in one pair of each label. The
 * packages are split by a hash of their name: no package of one split is seen in another.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./server-process.js";

export type DescriptionSplit = "train" | "validation" | "test";

export interface DescriptionPair {
  readonly id: string;
  readonly text: string;
  readonly textPair: string;
  readonly label: "match" | "other";
}

interface Package {
  readonly id: string;
  readonly short: string;
  readonly long: string;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function splitOf(packageName: string): DescriptionSplit {
  const bucket = fnv1a(`split:${packageName}`) % 10;
  return bucket < 6 ? "train" : bucket < 8 ? "validation" : "test";
}

export function descriptionPackages(): Package[] {
  return readFileSync(join(ROOT, "test", "fixtures", "debian-package-descriptions", "descriptions.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Package);
}

/** The split's pairs, positives and negatives interleaved in a seeded order; negatives by a seeded derangement. */
export function descriptionPairs(split: DescriptionSplit, seed = 1): DescriptionPair[] {
  let state = seed >>> 0 || 1;
  const random = (n: number): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const shuffle = <T>(items: T[]): T[] => {
    for (let i = items.length - 1; i > 0; i--) {
      const j = random(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  };
  const packages = shuffle(descriptionPackages().filter((p) => splitOf(p.id) === split));
  const pairs: DescriptionPair[] = [];
  packages.forEach((p, i) => {
    const other = packages[(i + 1) % packages.length];
    pairs.push({ id: `${p.id}|${p.id}`, text: p.short, textPair: p.long, label: "match" });
    pairs.push({ id: `${p.id}|${other.id}`, text: p.short, textPair: other.long, label: "other" });
  });
  return shuffle(pairs);
}
