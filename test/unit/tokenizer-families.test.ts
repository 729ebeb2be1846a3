/**
 * Unigram (XLM-R layout, trained with Debian's spm_train), byte-level BPE (RoBERTa layout, GPT-2's
 * 50k merges) and MPNet-style WordPiece against Hugging Face's Rust tokenizers (the `tokenizers`
 * binding): ids, tokens, special-token mask, offsets, type ids, decode; fixed and random texts.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, copyFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer as HfTokenizer, type Encoding as HfEncoding } from "tokenizers";
import { PipelineTokenizer, TokenizerLoadError, loadTokenizer, tokenizerFromJson, type Tokenizer } from "../../src/core/tokenizer/index.js";
import { hasGpt2, mpnetWordPiece, robertaBpe, unigramModelPath, xlmrUnigram } from "../fixtures/tokenizers/fixtures.js";

type Json = Record<string, unknown>;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const debianTexts = ["train", "validation", "test"].flatMap((split) =>
  readFileSync(join(root, `test/fixtures/debian-package-sections/${split}.jsonl`), "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { text: string }).text),
);
const fixtureStrings = (JSON.parse(readFileSync(join(root, "test/fixtures/tokenizer-parity.json"), "utf8")) as { sections: { cases: { text: string }[] }[] }).sections[0].cases.map((c) => c.text);

const multilingual = [
  "这是一个文本向量化的测试句子",
  "日本語のテキスト、ひらがな・カタカナ。",
  "한국어 형태소 분석기",
  "مكتبة لمعالجة النصوص العربية",
  "हिंदी पाठ संसाधन के लिए उपकरण",
  "เครื่องมือตัดคำภาษาไทย",
  "emoji 😀 👩‍👧‍👦 🇩🇪 👍🏽 done",
  "e\u0301 a\u0308\u0323 ﬁ\u0301 Ａ\u0308 ①\u20dd ～ Ω Å",
  "odd\u00a0spaces\u2003and\u3000ideographic \u200b zero\u200dwidth \ufeffbom \u0085nel\ttab\nnewline\r\nend",
  "  leading and trailing  ",
  "multiple     spaces",
  "a <mask> b <s> c </s>d<pad>",
  "Hello  ﬁnance ②  café ✓",
  "",
  " ",
  "ＡＢＣ１２３ ㈱ ㍻ ½ x² ℌ",
];

/** Hugging Face's offsets count code points; ours UTF-16 units. */
function utf16(input: string, start: number, end: number): [number, number] {
  const unitOf: number[] = [];
  let unit = 0;
  for (const ch of input) {
    unitOf.push(unit);
    unit += ch.length;
  }
  unitOf.push(unit);
  return [unitOf[start], unitOf[end]];
}

function hfView(e: HfEncoding, first: string, second: string | null) {
  const seq = e.getSequenceIds();
  return {
    ids: e.getIds(),
    typeIds: e.getTypeIds(),
    specialTokensMask: e.getSpecialTokensMask(),
    offsets: e.getOffsets().flatMap(([s, t], k) => (seq[k] === null || seq[k] === undefined ? [s, t] : utf16(seq[k] === 1 ? second! : first, s, t))),
  };
}

interface Family {
  name: string;
  json: Json;
  config: Json;
}

const families: Family[] = [];
{
  const u = xlmrUnigram();
  families.push({ name: "Unigram (XLM-R layout, spm_train)", json: u.tokenizerJson, config: u.tokenizerConfig });
  // Files converted in 2020: a bare Precompiled normalizer, WhitespaceSplit then Metaspace.
  const precompiled = (u.tokenizerJson.normalizer as { normalizers: Json[] }).normalizers[0];
  const older = { ...u.tokenizerJson, normalizer: precompiled, pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "WhitespaceSplit" }, u.tokenizerJson.pre_tokenizer] } };
  families.push({ name: "Unigram (2020 layout: WhitespaceSplit + Metaspace)", json: older, config: u.tokenizerConfig });
  const m = mpnetWordPiece();
  families.push({ name: "WordPiece (MPNet layout)", json: m.tokenizerJson, config: m.tokenizerConfig });
  if (hasGpt2()) {
    const b = robertaBpe();
    families.push({ name: "byte-level BPE (RoBERTa layout, GPT-2 merges)", json: b.tokenizerJson, config: b.tokenizerConfig });
  }
}

const counts: Record<string, number> = {};

async function compareWith(hf: HfTokenizer, ours: Tokenizer, first: string, second: string | null, family: string): Promise<void> {
  const e = await hf.encode(first, second);
  const o = second === null ? ours.encodeText(first) : ours.encodePair(first, second);
  const got = { ids: Array.from(o.ids), typeIds: Array.from(o.typeIds), specialTokensMask: Array.from(o.specialTokensMask), offsets: Array.from(o.offsets) };
  assert.deepEqual(got, hfView(e, first, second), `${family}: ${JSON.stringify([first, second])}`);
  // The ids-only path (plain strings, word cache) gives the aligned path's ids.
  if (second === null) assert.deepEqual(Array.from(ours.encode(first).ids), got.ids, `${family}: encode() ids of ${JSON.stringify(first)}`);
  // Tokens: ours by id; Hugging Face's Unigram names a fused unknown piece by its text.
  const tokens = e.getTokens();
  got.ids.forEach((id, k) => {
    // An added token with lstrip/rstrip is named by its matched text (" <mask>").
    if (id !== ours.specialIds.unk && tokens[k].trim() !== ours.idToToken(id)) assert.equal(ours.idToToken(id), tokens[k], `${family}: token ${k} of ${JSON.stringify(first)}`);
  });
  for (const skip of [false, true]) assert.equal(ours.decode(got.ids, { skipSpecialTokens: skip }), await hf.decode(got.ids, skip), `${family}: decode ${JSON.stringify(first)} skip=${skip}`);
  counts[family] = (counts[family] ?? 0) + 1;
}

const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...debianTexts.slice(0, 200)) },
  { weight: 3, arbitrary: fc.constantFrom(...multilingual) },
  { weight: 3, arbitrary: fc.constantFrom(" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u200b", "\ufeff", "\u0085", "▁", "Ġ", ".", "'s", "'ll") },
  { weight: 2, arbitrary: fc.constantFrom("<s>", "</s>", "<mask>", " <mask> ", "<unk>", "<pad>", "[CLS]") },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)) },
  { weight: 2, arbitrary: fc.constantFrom("\u0301", "\u0308", "\u20dd", "\u200d", "\ufe0f", "\u{1f3fd}", "\u0e33", "\u094d") },
);
const text = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(""));

for (const family of families) {
  describe(`parity with Hugging Face: ${family.name}`, () => {
    const hf = HfTokenizer.fromString(JSON.stringify(family.json));
    const ours = PipelineTokenizer.fromTokenizerJson(family.json, family.config);
    const compare = compareWith;

    test("fixture strings, multilingual text and Debian descriptions, singles and pairs", async () => {
      for (const input of [...fixtureStrings, ...multilingual]) await compare(hf, ours, input, null, family.name);
      for (let k = 0; k + 1 < multilingual.length; k++) await compare(hf, ours, multilingual[k], multilingual[k + 1], family.name);
      for (const input of debianTexts.slice(0, 3000)) await compare(hf, ours, input, null, family.name);
      for (let k = 0; k + 1 < 600; k += 2) await compare(hf, ours, debianTexts[k], debianTexts[k + 1], family.name);
    });

    test("random Unicode texts and pairs (fast-check)", async () => {
      await fc.assert(
        fc.asyncProperty(text, fc.option(text, { nil: null }), async (first, second) => compare(hf, ours, first, second, family.name)),
        { numRuns: 400, seed: 20 },
      );
    });

    test("loadTokenizer picks the pipeline for this family", () => {
      const t = tokenizerFromJson(family.json, family.config);
      assert.deepEqual(Array.from(t.encodeText("hello world").ids), Array.from(ours.encodeText("hello world").ids));
    });
  });
}

describe("BPE merges formats", () => {
  test('"a b" strings and [a, b] pairs give the same tokenizer', { skip: !hasGpt2() }, () => {
    const pairs = robertaBpe("pairs");
    const strings = robertaBpe("strings");
    const a = PipelineTokenizer.fromTokenizerJson(pairs.tokenizerJson, pairs.tokenizerConfig);
    const b = PipelineTokenizer.fromTokenizerJson(strings.tokenizerJson, strings.tokenizerConfig);
    for (const input of [...multilingual, ...debianTexts.slice(0, 1000)]) assert.deepEqual(b.encodeText(input), a.encodeText(input));
  });
});

describe("SentencePiece .model without tokenizer.json", () => {
  test("a directory with only sentencepiece.bpe.model loads as the converted tokenizer.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "bertd-spm-"));
    copyFileSync(unigramModelPath, join(dir, "sentencepiece.bpe.model"));
    const fromModel = loadTokenizer(dir);
    const { tokenizerJson, tokenizerConfig } = xlmrUnigram();
    const fromJson = PipelineTokenizer.fromTokenizerJson(tokenizerJson, tokenizerConfig);
    assert.deepEqual(fromModel.specialIds, { cls: 0, pad: 1, sep: 2, unk: 3, mask: fromModel.vocabSize - 1 });
    for (const input of [...multilingual, ...debianTexts.slice(0, 500)]) assert.deepEqual(fromModel.encodeText(input), fromJson.encodeText(input));
  });

  test("a file that is not a SentencePiece model is a TokenizerLoadError", () => {
    const dir = mkdtempSync(join(tmpdir(), "bertd-spm-"));
    writeFileSync(join(dir, "sentencepiece.bpe.model"), "not a protobuf at all");
    assert.throws(() => loadTokenizer(dir), TokenizerLoadError);
  });
});

describe("component quirks", () => {
  test("Precompiled decodes the charsmap: quirks Hugging Face has and NFKC has not", async () => {
    const { tokenizerJson } = xlmrUnigram();
    const normalizer = { type: "Sequence", normalizers: [(tokenizerJson.normalizer as { normalizers: Json[] }).normalizers[0]] };
    const json = { ...tokenizerJson, normalizer };
    const ours = PipelineTokenizer.fromTokenizerJson(json, xlmrUnigram().tokenizerConfig);
    const hf = HfTokenizer.fromString(JSON.stringify(json));
    const compare = compareWith;
    for (const input of ["ﬁ\u0301", "Ａ\u0308", "①\u20dd", "～", "\ufeff", "\u0085", "𝔾", "\u200d", "آ"]) await compare(hf, ours, input, null, "Precompiled quirks");
  });

  test("unknown components are load errors naming them", () => {
    const { tokenizerJson, tokenizerConfig } = xlmrUnigram();
    for (const [part, value, name] of [
      ["normalizer", { type: "Prepend", prepend: "x" }, "Prepend"],
      ["pre_tokenizer", { type: "Digits" }, "Digits"],
      ["post_processor", { type: "Whatever" }, "Whatever"],
      ["decoder", { type: "CTC" }, "CTC"],
      ["model", { type: "WordLevel", vocab: {} }, "WordLevel"],
    ] as const) {
      assert.throws(() => PipelineTokenizer.fromTokenizerJson({ ...tokenizerJson, [part]: value }, tokenizerConfig), (e: unknown) => e instanceof TokenizerLoadError && e.message.includes(name));
    }
    const bpe = { type: "BPE", vocab: { a: 0 }, merges: [], dropout: 0.1 };
    assert.throws(() => PipelineTokenizer.fromTokenizerJson({ ...tokenizerJson, model: bpe }, tokenizerConfig), /dropout/);
  });

  test("parity counts", async () => {
    // Its own comparisons (it must pass alone): every family compares every multilingual text.
    for (const family of families) {
      const hf = HfTokenizer.fromString(JSON.stringify(family.json));
      const ours = PipelineTokenizer.fromTokenizerJson(family.json, family.config);
      const before = counts[family.name] ?? 0;
      for (const input of multilingual) await compareWith(hf, ours, input, null, family.name);
      assert.equal((counts[family.name] ?? 0) - before, multilingual.length, family.name);
    }
    console.log(`# parity cases: ${JSON.stringify(counts)}`);
    assert.ok(Object.keys(counts).length >= 2);
  });
});

describe("BertNormalizer and BertPreTokenizer character classes", () => {
  test("src/core/tokenizer/normalizers/bert-unicode-tables.ts is what the Rust crate says, code point by code point", () => {
    const check = spawnSync(process.execPath, ["--import", "tsx", join(root, "tools/tokenizer/make-bert-unicode-tables.ts"), "--check"], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });
});
