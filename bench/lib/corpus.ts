import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DATA_DIR = fileURLToPath(new URL("../../test/fixtures/debian-package-sections/", import.meta.url));

export interface LabelledText {
  readonly id: string;
  readonly text: string;
  readonly label: string;
}

export function readSplit(split: "train" | "validation" | "test"): LabelledText[] {
  return readFileSync(`${DATA_DIR}${split}.jsonl`, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as LabelledText);
}

/** Short real texts (Debian package descriptions, ~19 tokens each). */
export function shortTexts(limit = Infinity): string[] {
  return readSplit("train")
    .slice(0, limit)
    .map((row) => row.text);
}

/** Longer, mixed-length texts: 1 to 12 descriptions joined. */
export function longTexts(count: number): string[] {
  const texts = shortTexts();
  const out: string[] = [];
  let cursor = 0;
  for (let i = 0; i < count; i++) {
    const parts = 1 + ((i * 7) % 12);
    out.push(texts.slice(cursor, cursor + parts).join(". "));
    cursor = (cursor + parts) % (texts.length - 12);
  }
  return out;
}
