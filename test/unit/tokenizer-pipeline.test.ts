/**
 * The generic tokenizer pipeline (src/core/tokenizer/pipeline.ts) against the fast BertTokenizer,
 * and both against Hugging Face's Rust tokenizers (the official `tokenizers` binding) for what the
 * parity fixture cannot show: pairs, type ids, truncation, templates, decoding.
 */
import fc from "fast-check";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer as HfTokenizer, type Encoding as HfEncoding, type TruncationOptions } from "tokenizers";
import {
  BertTokenizer,
  PairNotSupportedError,
  PipelineTokenizer,
  TokenizerLoadError,
  TruncationError,
  loadTokenizer,
  tokenizerFromJson,
  type Encoding,
  type EncodingOptions,
  type Tokenizer,
  type Truncation,
} from "../../src/core/tokenizer/index.js";
import { truncateSequences, type TokenSequence } from "../../src/core/tokenizer/truncation.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const modelDir = join(root, "models/default");

type Json = Record<string, unknown>;
const readJson = (path: string): Json => JSON.parse(readFileSync(path, "utf8")) as Json;
const tokenizerJson = readJson(join(modelDir, "tokenizer.json"));
const tokenizerConfig = readJson(join(modelDir, "tokenizer_config.json"));
const fixture = readJson(join(root, "test/fixtures/tokenizer-parity.json")) as { sections: { name: string; normalizer: Json; cases: { text: string; ids: number[] }[] }[] };

const debianTexts = ["train", "validation", "test"].flatMap((split) =>
  readFileSync(join(root, `test/fixtures/debian-package-sections/${split}.jsonl`), "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { text: string }).text),
);
const debianPairs: [string, string][] = [];
for (let i = 0; i + 1 < debianTexts.length; i += 2) debianPairs.push([debianTexts[i], debianTexts[i + 1]]);

/** tokenizer.json with other parts (normalizer, post_processor, more added tokens…). */
function variant(parts: Json, extraAdded: Json[] = []): Json {
  return { ...tokenizerJson, ...parts, added_tokens: [...(tokenizerJson.added_tokens as Json[]), ...extraAdded] };
}

/** The fast path and the pipeline for one tokenizer.json. */
function both(json: Json): [BertTokenizer, PipelineTokenizer] {
  return [BertTokenizer.fromTokenizerJson(json, tokenizerConfig), PipelineTokenizer.fromTokenizerJson(json, tokenizerConfig)];
}

const plain = (encoding: Encoding): Record<string, number[]> => ({
  ids: Array.from(encoding.ids),
  typeIds: Array.from(encoding.typeIds),
  offsets: Array.from(encoding.offsets),
  attentionMask: Array.from(encoding.attentionMask),
  specialTokensMask: Array.from(encoding.specialTokensMask),
  sequenceIds: Array.from(encoding.sequenceIds),
});

/** What an encode call gave: the encoding, or the error class it threw. */
function outcome(run: () => Encoding): Record<string, number[]> | string {
  try {
    return plain(run());
  } catch (error) {
    return (error as Error).name;
  }
}

function assertAgree(fast: Tokenizer, pipeline: Tokenizer, first: string, second: string | null, options: EncodingOptions = {}): void {
  const run = (t: Tokenizer) => () => (second === null ? t.encodeText(first, options) : t.encodePair(first, second, options));
  assert.deepEqual(outcome(run(pipeline)), outcome(run(fast)), `${JSON.stringify(first)} / ${JSON.stringify(second)} ${JSON.stringify(options)}`);
}

/** Strings where tokenizers go wrong: literal specials, marks, CJK, astral, controls, lone surrogates, odd spaces. */
const piece = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...debianTexts.slice(0, 200)) },
  { weight: 4, arbitrary: fc.constantFrom(" ", "  ", "\t", "\n", ".", ",", "-", "'", "#", "##", "[", "]", "(", ")") },
  { weight: 3, arbitrary: fc.constantFrom("[CLS]", "[SEP]", "[MASK]", "[cls]", "<x>", " <x> ", "Foo Bar", "foo bar") },
  { weight: 3, arbitrary: fc.constantFrom("Ünïcödé", "e\u0301", "\u0308", "İ", "ΣΑΣ", "ß", "ﬁ", "Ａ", "中文字", "한국어", "。", "😀", "👩‍👧", "𠀀") },
  { weight: 2, arbitrary: fc.constantFrom("\u0000", "\u0007", "\u00ad", "\u200b", "\u200d", "\ufeff", "\u00a0", "\u3000", "\u2028", "\ufffd", "\ue000") },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
);
const text = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(""));
const truncation: fc.Arbitrary<Truncation | undefined> = fc.option(
  fc.record({
    maxLength: fc.integer({ min: 0, max: 40 }),
    direction: fc.constantFrom("right" as const, "left" as const),
    strategy: fc.constantFrom("longest_first" as const, "only_first" as const, "only_second" as const),
  }),
  { nil: undefined },
);

describe("the generic pipeline agrees with the fast path", () => {
  // A normalized added token (matched after normalization: the fast path's exact path) and an lstrip/rstrip one.
  const extraAdded = [
    { id: 30522, content: "Foo Bar", single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
    { id: 30523, content: "<x>", single_word: false, lstrip: true, rstrip: true, normalized: false, special: true },
  ];
  const tokenizers: [string, Json][] = [
    ...fixture.sections.map((section): [string, Json] => [section.name, variant({ normalizer: section.normalizer })]),
    ["no normalizer", variant({ normalizer: null })],
    ["added tokens", variant({}, extraAdded)],
  ];

  test("fixture strings: the pipeline gives the fixture's (Rust tokenizers') ids, and the fast path's encodings (offsets included)", () => {
    for (const section of fixture.sections) {
      const [fast, pipeline] = both(variant({ normalizer: section.normalizer }));
      for (const { text: input, ids } of section.cases) {
        assert.deepEqual(Array.from(pipeline.encode(input).ids), ids, `${section.name}: ${JSON.stringify(input)}`);
        assertAgree(fast, pipeline, input, null);
        assertAgree(fast, pipeline, input, null, { addSpecialTokens: false });
      }
    }
  });

  test("every Debian description, alone and in pairs", () => {
    const [fast, pipeline] = both(tokenizerJson);
    for (const input of debianTexts) assertAgree(fast, pipeline, input, null);
    for (const [first, second] of debianPairs) assertAgree(fast, pipeline, first, second);
    for (const [first, second] of debianPairs.slice(0, 1500)) {
      assertAgree(fast, pipeline, first, second, { truncation: { maxLength: 16 } });
      assertAgree(fast, pipeline, first, second, { truncation: { maxLength: 13, strategy: "only_second", direction: "left" } });
    }
  });

  for (const [name, json] of tokenizers) {
    test(`random texts and pairs, random truncation (${name})`, () => {
      const [fast, pipeline] = both(json);
      fc.assert(
        fc.property(text, fc.option(text, { nil: null }), truncation, fc.boolean(), (first, second, cut, addSpecialTokens) => {
          assertAgree(fast, pipeline, first, second, { truncation: cut, addSpecialTokens });
          const ids = Array.from(fast.encode(first).ids);
          assert.deepEqual(pipeline.decode(ids, { skipSpecialTokens: true }), fast.decode(ids, { skipSpecialTokens: true }));
        }),
        { numRuns: 400, seed: 17 },
      );
    });
  }

  test("encode() is encodeText() without the extra arrays, on both", () => {
    const [fast, pipeline] = both(tokenizerJson);
    for (const input of debianTexts.slice(0, 500)) {
      for (const tokenizer of [fast, pipeline]) {
        const full = tokenizer.encodeText(input);
        const short = tokenizer.encode(input, { offsets: true });
        assert.deepEqual(short.ids, full.ids);
        assert.deepEqual(short.offsets, full.offsets);
        assert.equal(tokenizer.encode(input).offsets, undefined);
      }
    }
  });
});

/** Hugging Face's offsets count code points; ours UTF-16 units. */
function utf16Offsets(input: string, offsets: [number, number][]): number[] {
  const unitOf: number[] = [];
  let unit = 0;
  for (const ch of input) {
    unitOf.push(unit);
    unit += ch.length;
  }
  unitOf.push(unit);
  return offsets.flatMap(([start, end]) => [unitOf[start], unitOf[end]]);
}

function hfPlain(encoding: HfEncoding, first: string, second: string | null): Record<string, number[]> {
  const sequenceIds = encoding.getSequenceIds();
  const offsets = encoding.getOffsets().flatMap(([start, end], k) => {
    const source = sequenceIds[k] === 1 ? second! : first;
    return sequenceIds[k] === null || sequenceIds[k] === undefined ? [start, end] : utf16Offsets(source, [[start, end]]);
  });
  return {
    ids: encoding.getIds(),
    typeIds: encoding.getTypeIds(),
    offsets,
    attentionMask: encoding.getAttentionMask(),
    specialTokensMask: encoding.getSpecialTokensMask(),
    sequenceIds: sequenceIds.map((id) => (id === null || id === undefined ? -1 : id)),
  };
}

const STRATEGY = { longest_first: "LongestFirst", only_first: "OnlyFirst", only_second: "OnlySecond" } as const;

/** Ours against the binding for the same tokenizer.json, inputs and truncation. */
async function assertHfParity(json: Json, inputs: (string | [string, string])[], cut?: Truncation): Promise<void> {
  const hf = HfTokenizer.fromString(JSON.stringify(json));
  if (cut) hf.setTruncation(cut.maxLength, { strategy: STRATEGY[cut.strategy ?? "longest_first"] as TruncationOptions["strategy"], direction: cut.direction ?? "right" });
  const ours = BertTokenizer.fromTokenizerJson(json, tokenizerConfig);
  const pipeline = PipelineTokenizer.fromTokenizerJson(json, tokenizerConfig);
  for (const input of inputs) {
    const [first, second] = typeof input === "string" ? [input, null] : input;
    let expected: Record<string, number[]> | "error";
    try {
      expected = hfPlain(await hf.encode(first, second), first, second);
    } catch {
      expected = "error";
    }
    for (const tokenizer of [ours, pipeline]) {
      const got = outcome(() => (second === null ? tokenizer.encodeText(first, { truncation: cut }) : tokenizer.encodePair(first, second, { truncation: cut })));
      assert.deepEqual(got === "TruncationError" ? "error" : got, expected, `${tokenizer.constructor.name}: ${JSON.stringify(input)} ${JSON.stringify(cut)}`);
    }
  }
}

describe("parity with Hugging Face's Rust tokenizers (the `tokenizers` binding)", () => {
  test("Debian pairs: ids, type ids, offsets, masks, sequence ids", async () => {
    await assertHfParity(tokenizerJson, debianPairs);
  });

  test("truncation of texts and pairs: longest_first, only_first, only_second, both directions", async () => {
    const pairs = debianPairs.slice(0, 400);
    const singles = debianTexts.slice(0, 400);
    for (const cut of [
      { maxLength: 16 },
      { maxLength: 17, direction: "left" as const },
      { maxLength: 3 },
      { maxLength: 12, strategy: "only_first" as const },
      { maxLength: 12, strategy: "only_second" as const, direction: "left" as const },
      { maxLength: 24, strategy: "only_second" as const },
    ]) {
      await assertHfParity(tokenizerJson, pairs, cut);
      if (cut.strategy === undefined) await assertHfParity(tokenizerJson, singles, cut);
    }
  });

  test("random Debian pairs under random truncation", async () => {
    const hf = HfTokenizer.fromString(JSON.stringify(tokenizerJson));
    const fast = BertTokenizer.fromTokenizerJson(tokenizerJson, tokenizerConfig);
    const pipeline = PipelineTokenizer.fromTokenizerJson(tokenizerJson, tokenizerConfig);
    const texts = fc.array(fc.constantFrom(...debianTexts.slice(0, 300)), { minLength: 1, maxLength: 3 }).map((parts) => parts.join(" "));
    await fc.assert(
      fc.asyncProperty(texts, fc.option(texts, { nil: null }), truncation, async (first, second, cut) => {
        if (cut) hf.setTruncation(cut.maxLength, { strategy: STRATEGY[cut.strategy!] as TruncationOptions["strategy"], direction: cut.direction });
        else hf.disableTruncation();
        let expected: Record<string, number[]> | "error";
        try {
          expected = cut && cut.maxLength < (second === null ? 2 : 3) ? "error" : hfPlain(await hf.encode(first, second), first, second);
        } catch {
          expected = "error";
        }
        for (const tokenizer of [fast, pipeline]) {
          const got = outcome(() => (second === null ? tokenizer.encodeText(first, { truncation: cut }) : tokenizer.encodePair(first, second, { truncation: cut })));
          assert.deepEqual(got === "TruncationError" ? "error" : got, expected, `${JSON.stringify([first, second])} ${JSON.stringify(cut)}`);
        }
      }),
      { numRuns: 500, seed: 23 },
    );
  });

  test("longest_first splits the room as the binding does, for every pair of lengths", async () => {
    const hf = HfTokenizer.fromString(JSON.stringify(tokenizerJson));
    const fast = BertTokenizer.fromTokenizerJson(tokenizerJson, tokenizerConfig);
    const words = (n: number): string => "a ".repeat(n).trim();
    for (const maxLength of [3, 8, 10, 13]) {
      hf.setTruncation(maxLength);
      for (let n1 = 0; n1 <= 14; n1++) {
        for (let n2 = 0; n2 <= 14; n2++) {
          const expected = (await hf.encode(words(n1), words(n2))).getSequenceIds();
          const got = fast.encodePair(words(n1), words(n2), { truncation: { maxLength } }).sequenceIds;
          const lengths = (ids: ArrayLike<number | null | undefined>): number[] => [0, 1].map((s) => Array.from(ids).filter((id) => id === s).length);
          assert.deepEqual(lengths(got), lengths(expected), `${n1} + ${n2} in ${maxLength}`);
        }
      }
    }
  });

  test("a template with more special tokens (MPNet-style <s> A </s></s> B </s>) reserves all of them", async () => {
    const special = (id: string, typeId = 0): Json => ({ SpecialToken: { id, type_id: typeId } });
    const sequence = (id: string, typeId = 0): Json => ({ Sequence: { id, type_id: typeId } });
    const json = variant(
      {
        post_processor: {
          type: "TemplateProcessing",
          single: [special("<s>"), sequence("A"), special("</s>")],
          pair: [special("<s>"), sequence("A"), special("</s>"), special("</s>"), sequence("B", 1), special("</s>", 1)],
          special_tokens: { "<s>": { id: "<s>", ids: [30522], tokens: ["<s>"] }, "</s>": { id: "</s>", ids: [30523], tokens: ["</s>"] } },
        },
      },
      [
        { id: 30522, content: "<s>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: 30523, content: "</s>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
    );
    const pairs = debianPairs.slice(0, 300);
    await assertHfParity(json, pairs);
    await assertHfParity(json, pairs, { maxLength: 15 });
    await assertHfParity(json, [...pairs, "a </s> b"], { maxLength: 4 });
    const encoding = PipelineTokenizer.fromTokenizerJson(json, tokenizerConfig).encodePair("one two three", "four five six", { truncation: { maxLength: 8 } });
    assert.deepEqual(Array.from(encoding.ids), [30522, 2028, 2048, 30523, 30523, 2176, 2274, 30523]);
    assert.deepEqual(Array.from(encoding.typeIds), [0, 0, 0, 0, 0, 1, 1, 1]);
  });

  test("BertProcessing and no post-processor", async () => {
    const bertProcessing = variant({ post_processor: { type: "BertProcessing", sep: ["[SEP]", 102], cls: ["[CLS]", 101] } });
    await assertHfParity(bertProcessing, debianPairs.slice(0, 200));
    await assertHfParity(bertProcessing, debianPairs.slice(0, 200), { maxLength: 10 });
    const none = variant({ post_processor: null });
    await assertHfParity(none, [...debianPairs.slice(0, 200), ...debianTexts.slice(0, 200)]);
    await assertHfParity(none, debianPairs.slice(0, 200), { maxLength: 9, strategy: "only_first" });
  });

  test("decode, with and without special tokens", async () => {
    const hf = HfTokenizer.fromString(JSON.stringify(tokenizerJson));
    const [fast, pipeline] = both(tokenizerJson);
    const samples = [...debianTexts.slice(0, 1000), "Don't stop , it 's fine ! isn't it ? [MASK] do not", "naïve Café 中文 😀"];
    for (const input of samples) {
      const ids = Array.from(fast.encode(input).ids);
      for (const skipSpecialTokens of [false, true]) {
        const expected = await hf.decode(ids, skipSpecialTokens);
        assert.equal(fast.decode(ids, { skipSpecialTokens }), expected, JSON.stringify(input));
        assert.equal(pipeline.decode(ids, { skipSpecialTokens }), expected, JSON.stringify(input));
      }
    }
    assert.throws(() => fast.decode([7592, 999_999]), RangeError);
  });
});

describe("truncateSequences (Hugging Face's truncate_encodings table)", () => {
  const sequence = (length: number): TokenSequence => ({
    ids: Int32Array.from({ length }, (_, k) => k + 1),
    offsets: new Uint32Array(2 * length),
    words: Uint32Array.from({ length }, (_, k) => k),
  });
  test("longest_first, max 7", () => {
    const expected: [number, number, number, number][] = [
      [0, 0, 0, 0], [0, 2, 0, 2], [0, 4, 0, 4], [0, 8, 0, 7],
      [2, 0, 2, 0], [2, 2, 2, 2], [2, 4, 2, 4], [2, 8, 2, 5],
      [4, 0, 4, 0], [4, 2, 4, 2], [4, 4, 3, 4], [4, 8, 3, 4],
      [8, 0, 7, 0], [8, 2, 5, 2], [8, 4, 4, 3], [8, 8, 3, 4],
    ];
    for (const [n1, n2, m1, m2] of expected) {
      const [a, b] = truncateSequences(sequence(n1), sequence(n2), { maxLength: 7 }, 0);
      assert.deepEqual([a.ids.length, b!.ids.length], [m1, m2], `${n1} + ${n2}`);
    }
    const [zeroA, zeroB] = truncateSequences(sequence(4), sequence(4), { maxLength: 3 }, 3);
    assert.deepEqual([zeroA.ids.length, zeroB!.ids.length], [0, 0]);
  });
  test("direction, only_* strategies and their errors", () => {
    assert.deepEqual(Array.from(truncateSequences(sequence(5), null, { maxLength: 3, direction: "left" }, 0)[0].ids), [3, 4, 5]);
    assert.deepEqual(Array.from(truncateSequences(sequence(5), null, { maxLength: 5 }, 2)[0].ids), [1, 2, 3]);
    const [a, b] = truncateSequences(sequence(3), sequence(5), { maxLength: 6, strategy: "only_second" }, 0);
    assert.deepEqual([a.ids.length, b!.ids.length], [3, 3]);
    assert.throws(() => truncateSequences(sequence(3), sequence(2), { maxLength: 2, strategy: "only_second" }, 0), TruncationError);
    assert.throws(() => truncateSequences(sequence(3), null, { maxLength: 2, strategy: "only_second" }, 0), TruncationError);
    assert.equal(truncateSequences(sequence(3), null, { maxLength: 3, strategy: "only_second" }, 0)[0].ids.length, 3);
    assert.throws(() => truncateSequences(sequence(3), null, { maxLength: 1 }, 2), TruncationError);
  });
});

describe("loading: stages chosen by tokenizer.json", () => {
  test("loadTokenizer gives the fast path for BERT files, the pipeline when asked; both load the same model", () => {
    const fast = loadTokenizer(modelDir);
    const pipeline = loadTokenizer(modelDir, { pipeline: true });
    assert.ok(fast instanceof BertTokenizer);
    assert.ok(pipeline instanceof PipelineTokenizer);
    assert.equal(pipeline.vocabSize, fast.vocabSize);
    assert.deepEqual(pipeline.specialIds, fast.specialIds);
    assert.deepEqual(fast.specialIds, { cls: 101, sep: 102, pad: 0, unk: 100, mask: 103 });
    assert.equal(pipeline.modelMaxLength, 512);
    assert.equal(pipeline.tokenToId("the"), 1996);
    assert.equal(pipeline.idToToken(1996), "the");
    assert.ok(tokenizerFromJson(tokenizerJson, tokenizerConfig) instanceof BertTokenizer);
  });

  test("an unknown component is a load error naming it", () => {
    const cases: [Json, RegExp][] = [
      [{ model: { type: "WordLevel", vocab: {} } }, /model type "WordLevel" is not supported/],
      [{ model: { type: "Unigram", vocab: [] } }, /Unigram model.vocab must be a non-empty array/],
      [{ normalizer: { type: "Prepend" } }, /normalizer "Prepend" is not supported/],
      [{ pre_tokenizer: { type: "Digits" } }, /pre_tokenizer "Digits" is not supported/],
      [{ post_processor: { type: "Whatever" } }, /post_processor "Whatever" is not supported/],
      [{ decoder: { type: "CTC" } }, /decoder "CTC" is not supported/],
      [{ post_processor: { type: "TemplateProcessing", single: [{ Sequence: { id: "A", type_id: 0 } }], pair: [{ Sequence: { id: "A", type_id: 0 } }] } }, /pair has no sequence B/],
    ];
    for (const [parts, message] of cases) {
      assert.throws(() => PipelineTokenizer.fromTokenizerJson(variant(parts), tokenizerConfig), (e: unknown) => e instanceof TokenizerLoadError && message.test(e.message));
      assert.throws(() => tokenizerFromJson(variant(parts), tokenizerConfig), TokenizerLoadError);
    }
  });

  test("a TemplateProcessing without a pair template encodes single texts and refuses pairs", () => {
    const processor = { ...(tokenizerJson.post_processor as Json) };
    delete processor.pair;
    const [fast, pipeline] = both(variant({ post_processor: processor }));
    for (const tokenizer of [fast, pipeline]) {
      assert.deepEqual(Array.from(tokenizer.encodeText("hello world").ids), [101, 7592, 2088, 102]);
      assert.throws(() => tokenizer.encodePair("a", "b"), PairNotSupportedError);
    }
  });

  test("truncation never cuts the template: too small a maxLength is a TruncationError", () => {
    const [fast, pipeline] = both(tokenizerJson);
    for (const tokenizer of [fast, pipeline]) {
      assert.deepEqual(Array.from(tokenizer.encodeText("one two three", { truncation: { maxLength: 3 } }).ids), [101, 2028, 102]);
      assert.deepEqual(Array.from(tokenizer.encodePair("one two", "three four", { truncation: { maxLength: 3 } }).ids), [101, 102, 102]);
      assert.throws(() => tokenizer.encodePair("one", "two", { truncation: { maxLength: 2 } }), TruncationError);
      assert.throws(() => tokenizer.encodeText("one", { truncation: { maxLength: 1 } }), TruncationError);
      assert.deepEqual(Array.from(tokenizer.encodeText("one two", { truncation: { maxLength: 1 }, addSpecialTokens: false }).ids), [2028]);
    }
  });
});
