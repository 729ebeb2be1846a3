/**
 * Tokenizer throughput: src/core/tokenizer vs @huggingface/transformers's BertTokenizer, same run,
 * same texts (every Debian package description in test/fixtures, and longer texts made by joining
 * 8 of them). Tokens are counted with [CLS]/[SEP]. Also checks that both give the same ids.
 *
 *   node --import tsx bench/tokenizer.ts [--seconds 1.5]
 */
import { BertTokenizer as HfBertTokenizer } from "@huggingface/transformers";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BertTokenizer } from "../src/core/tokenizer/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const secondsArg = process.argv.indexOf("--seconds");
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1.5;

const texts = ["train", "validation", "test"].flatMap((split) =>
  readFileSync(`${root}test/fixtures/debian-package-sections/${split}.jsonl`, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { text: string }).text),
);
const joined: string[] = [];
for (let i = 0; i + 8 <= texts.length; i += 8) joined.push(texts.slice(i, i + 8).join(" "));

const modelDir = `${root}models/default`;
let started = performance.now();
const ours = BertTokenizer.fromDirectory(modelDir);
const oursLoadMs = performance.now() - started;
const tokenizerJson = JSON.parse(readFileSync(`${modelDir}/tokenizer.json`, "utf8")) as object;
const tokenizerConfig = JSON.parse(readFileSync(`${modelDir}/tokenizer_config.json`, "utf8")) as object;
started = performance.now();
const hf = new HfBertTokenizer(tokenizerJson, tokenizerConfig);
const hfLoadMs = performance.now() - started;

type Encode = (text: string) => number;
const candidates: [string, Encode][] = [
  ["bertd", (text) => ours.encode(text).ids.length],
  ["bertd (offsets)", (text) => ours.encode(text, { offsets: true }).ids.length],
  ["@huggingface/transformers", (text) => hf.encode(text).length],
];

/** Whole passes over `corpus` for about `seconds`; the median pass's tokens/s. */
function measure(encode: Encode, corpus: string[]): { tokensPerSecond: number; tokens: number; passes: number } {
  const rates: number[] = [];
  let tokens = 0;
  const until = performance.now() + seconds * 1000;
  while (rates.length < 3 || performance.now() < until) {
    const t0 = performance.now();
    tokens = 0;
    for (const text of corpus) tokens += encode(text);
    rates.push(tokens / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { tokensPerSecond: rates[rates.length >> 1], tokens, passes: rates.length };
}

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`);

console.log(`node ${process.version}, ${texts.length} Debian descriptions, ${joined.length} texts of 8 joined; ${seconds}s per measurement`);
console.log(`load: bertd ${oursLoadMs.toFixed(0)} ms, transformers.js ${hfLoadMs.toFixed(0)} ms`);

for (const [name, corpus] of [
  ["short (1 description)", texts],
  ["long (8 joined)", joined],
] as const) {
  let mismatches = 0;
  for (const text of corpus) {
    const a = ours.encode(text).ids;
    const b = hf.encode(text);
    if (a.length !== b.length || a.some((id, k) => id !== b[k])) mismatches++;
  }
  const results = candidates.map(([label, encode]) => ({ label, ...measure(encode, corpus) }));
  const reference = results[results.length - 1].tokensPerSecond;
  const chars = corpus.reduce((sum, text) => sum + text.length, 0);
  console.log(`\n${name}: ${corpus.length} texts, ${results[0].tokens} tokens, ${(chars / corpus.length).toFixed(0)} chars/text, id mismatches vs HF: ${mismatches}`);
  for (const r of results) {
    console.log(
      `  ${r.label.padEnd(28)} ${fmt(r.tokensPerSecond).padStart(7)} tokens/s  ${fmt((r.tokensPerSecond / r.tokens) * corpus.length).padStart(7)} texts/s  ×${(r.tokensPerSecond / reference).toFixed(1)} vs HF  (${r.passes} passes)`,
    );
  }
}
