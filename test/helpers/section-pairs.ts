/**
 * A real sentence-pair task from the Debian package sections fixture: are two packages' short
 * descriptions from the same archive section? Half the pairs are, half are not; pairs are made
 * within one split, so no package of the test pairs is seen in training (the fixture is split by
 * package name).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./server-process.js";

export interface SectionPair {
  readonly id: string;
  readonly text: string;
  readonly textPair: string;
  readonly label: "same" | "different";
}

interface Package {
  readonly id: string;
  readonly text: string;
  readonly label: string;
}

export function sectionPairs(split: "train" | "validation" | "test", count: number, seed = 1): SectionPair[] {
  const packages = readFileSync(join(ROOT, "test", "fixtures", "debian-package-sections", `${split}.jsonl`), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Package);
  const bySection = new Map<string, Package[]>();
  for (const p of packages) bySection.set(p.label, [...(bySection.get(p.label) ?? []), p]);
  let state = seed >>> 0 || 1;
  const random = (n: number): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const pairs: SectionPair[] = [];
  for (let i = 0; pairs.length < count && i < 10 * count; i++) {
    const first = packages[random(packages.length)];
    const same = pairs.length % 2 === 0;
    const pool = same ? bySection.get(first.label)! : packages;
    let second = pool[random(pool.length)];
    for (let tries = 0; (second.id === first.id || (second.label === first.label) !== same) && tries < 50; tries++) second = pool[random(pool.length)];
    if (second.id === first.id || (second.label === first.label) !== same) continue;
    pairs.push({ id: `${split}:${first.id}|${second.id}`, text: first.text, textPair: second.text, label: same ? "same" : "different" });
  }
  return pairs;
}
