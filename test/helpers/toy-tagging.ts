/** A toy NER task whose tags follow from the words: first names B-PER, surnames I-PER, cities LOC. */
const FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
const LAST = ["smith", "jones", "brown", "taylor", "wilson", "clark", "lewis", "walker"];
const CITIES = [["paris"], ["london"], ["berlin"], ["madrid"], ["hong", "kong"], ["buenos", "aires"]];
const TEMPLATES = [
  ["yesterday", "PER", "met", "PER", "in", "LOC", "."],
  ["PER", "visited", "LOC", "with", "PER", "."],
  ["PER", "and", "PER", "called", "from", "LOC"],
  ["in", "LOC", ",", "PER", "met", "PER", "again", "."],
];

export interface ToySentence {
  id: string;
  words: string[];
  tags: string[];
}

export const TOY_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];

export function toySentences(count: number, prefix = "s", seed = 3): ToySentence[] {
  let state = seed;
  const pick = <T>(items: readonly T[]): T => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return items[Math.floor((state / 2 ** 31) * items.length)];
  };
  return Array.from({ length: count }, (_, i) => {
    const words: string[] = [];
    const tags: string[] = [];
    for (const slot of TEMPLATES[i % TEMPLATES.length]) {
      if (slot === "PER") {
        words.push(pick(FIRST), pick(LAST));
        tags.push("B-PER", "I-PER");
      } else if (slot === "LOC") {
        const city = pick(CITIES);
        city.forEach((word, j) => {
          words.push(word);
          tags.push(j === 0 ? "B-LOC" : "I-LOC");
        });
      } else {
        words.push(slot);
        tags.push("O");
      }
    }
    return { id: `${prefix}-${i}`, words, tags };
  });
}
