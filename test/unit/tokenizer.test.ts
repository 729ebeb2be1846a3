import fc from "fast-check";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer as RustTokenizer } from "tokenizers";
import { BertTokenizer, TokenizerLoadError, truncateIds } from "../../src/core/tokenizer/index.js";
import { specFromTokenizerJson } from "../../src/core/tokenizer/loader.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const modelDir = join(root, "models/default");

type Json = Record<string, unknown>;
const readJson = (path: string): Json => JSON.parse(readFileSync(path, "utf8")) as Json;

interface FixtureSection {
  name: string;
  normalizer: Json;
  cases: { text: string; ids: number[] }[];
}
const fixture = readJson(join(root, "test/fixtures/tokenizer-parity.json")) as { sections: FixtureSection[] };
const tokenizerJson = readJson(join(modelDir, "tokenizer.json"));
const tokenizerConfig = readJson(join(modelDir, "tokenizer_config.json"));

/** tokenizer.json with another normalizer (and optionally more added tokens). */
function jsonVariant(normalizer: Json, extraAdded: Json[] = []): Json {
  return { ...tokenizerJson, normalizer, added_tokens: [...(tokenizerJson.added_tokens as Json[]), ...extraAdded] };
}

const ids = (tokenizer: BertTokenizer, text: string, addSpecialTokens = true): number[] => Array.from(tokenizer.encode(text, { addSpecialTokens }).ids);
const exactPath = (json: Json): BertTokenizer => new BertTokenizer(specFromTokenizerJson(json, tokenizerConfig), {}, { forceExactPath: true });

const uncased = BertTokenizer.fromDirectory(modelDir);
const section = (name: string): FixtureSection => {
  const found = fixture.sections.find((s) => s.name === name);
  assert.ok(found, `fixture section ${name}`);
  return found;
};

/** Strings that mix the character families where tokenizers go wrong (and lone surrogates). */
const nastyChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(..."abcXYZ019 .,-'[]#!?", "[CLS]", "[SEP]", "[cls]", "##", "\t", "\n", "\r\n", "  ") },
  { weight: 3, arbitrary: fc.constantFrom(..."éÉñÅøßİıΣσςΑΩжЖ", "e\u0301", "\u0301", "\u0308", "\u20dd", "ǅ", "ﬁ", "Ａ", "𝐀") },
  { weight: 2, arbitrary: fc.constantFrom(..."中文豈かカ한ㄱ。「」！", "𠀀", "\u{2f800}") },
  { weight: 2, arbitrary: fc.constantFrom("😀", "👍🏽", "👩‍👧", "🇫🇷", "\ufe0f", "\u200d", "\u200b", "\ufeff", "\u00ad", "\u2060", "\u180e") },
  { weight: 2, arbitrary: fc.constantFrom("\u0000", "\u0007", "\u000b", "\u001f", "\u007f", "\u0085", "\u00a0", "\u2003", "\u3000", "\u2028", "\ufffd", "\u0378", "\ue000", "\u{e0001}") },
  { weight: 2, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
);
const nastyString = fc.array(nastyChar, { maxLength: 30 }).map((parts) => parts.join(""));
const anyString = fc.oneof(nastyString, fc.string({ unit: "binary", maxLength: 40 }), fc.string({ maxLength: 40 }));

describe("parity with Hugging Face (test/fixtures/tokenizer-parity.json)", () => {
  const variants: [string, (normalizer: Json) => BertTokenizer[]][] = [
    ["uncased", () => [uncased, exactPath(tokenizerJson)]],
    ["cased", (n) => [BertTokenizer.fromTokenizerJson(jsonVariant(n), tokenizerConfig), exactPath(jsonVariant(n))]],
    ["cased-strip-accents", (n) => [BertTokenizer.fromTokenizerJson(jsonVariant(n), tokenizerConfig), exactPath(jsonVariant(n))]],
  ];
  for (const [name, make] of variants) {
    test(`${name}: every fixture string gives HF's ids (fast path, exact path, offsets path)`, () => {
      const { cases, normalizer } = section(name);
      assert.ok(cases.length > 100);
      const [fast, exact] = make(normalizer);
      for (const { text, ids: expected } of cases) {
        assert.deepEqual(ids(fast, text), expected, `fast path: ${JSON.stringify(text)}`);
        assert.deepEqual(ids(exact, text), expected, `exact path: ${JSON.stringify(text)}`);
        assert.deepEqual(Array.from(fast.encode(text, { offsets: true }).ids), expected, `offsets path: ${JSON.stringify(text)}`);
      }
    });
  }

  test("literal special tokens: matched case-sensitively on the raw text", () => {
    assert.deepEqual(ids(uncased, "[CLS]"), [101, 101, 102]);
    assert.deepEqual(ids(uncased, "a[MASK]b"), [101, 1037, 103, 1038, 102]);
    assert.deepEqual(ids(uncased, "[SEP] x", false), [102, 1060]);
    assert.deepEqual(ids(uncased, "[cls]", false), [1031, 18856, 2015, 1033]);
    assert.deepEqual(ids(uncased, "[Cls]", false), [1031, 18856, 2015, 1033]);
  });
});

describe("live differential test against Hugging Face's Rust tokenizers (npm binding)", () => {
  const hfUncased = RustTokenizer.fromString(JSON.stringify(tokenizerJson));
  // A normalized added token (matched after normalization) and an lstrip/rstrip one: the exact path.
  const extra = [
    { id: 30522, content: "Foo Bar", single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
    { id: 30523, content: "<x>", single_word: false, lstrip: true, rstrip: true, normalized: false, special: true },
  ];
  const extraJson = jsonVariant(tokenizerJson.normalizer as Json, extra);
  const hfExtra = RustTokenizer.fromString(JSON.stringify(extraJson));
  const oursExtra = BertTokenizer.fromTokenizerJson(extraJson, tokenizerConfig);
  const hfIds = async (tokenizer: RustTokenizer, text: string): Promise<number[]> => Array.from((await tokenizer.encode(text, null, { addSpecialTokens: true })).getIds());

  test("random strings give HF's ids", async () => {
    await fc.assert(
      fc.asyncProperty(anyString, async (text) => {
        assert.deepEqual(ids(uncased, text), await hfIds(hfUncased, text));
      }),
      { numRuns: 1500, seed: 42 },
    );
  });

  test("added tokens with normalized: true and lstrip/rstrip give HF's ids", async () => {
    for (const text of ["foo bar", "FOO BAR baz", "x  <x>  y", "<x>", "a <x>b", "Föo Bär", "fooBar", "foo  bar", "[CLS] foo bar <x>"]) {
      assert.deepEqual(ids(oursExtra, text), await hfIds(hfExtra, text), JSON.stringify(text));
    }
    const withTokens = fc.array(fc.oneof(nastyChar, fc.constantFrom("foo bar", "Foo Bar", "<x>", " <x> ")), { maxLength: 12 }).map((p) => p.join(""));
    await fc.assert(
      fc.asyncProperty(withTokens, async (text) => {
        assert.deepEqual(ids(oursExtra, text), await hfIds(hfExtra, text));
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe("loading", () => {
  let tmp = "";
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "bertd-tokenizer-"));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  test("vocab.txt + tokenizer_config.json loads the same tokenizer as tokenizer.json", () => {
    const dir = join(tmp, "vocab-only");
    mkdirSync(dir);
    copyFileSync(join(modelDir, "vocab.txt"), join(dir, "vocab.txt"));
    copyFileSync(join(modelDir, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
    const fromVocab = BertTokenizer.fromDirectory(dir);
    assert.deepEqual(fromVocab.config, uncased.config);
    assert.equal(fromVocab.vocabSize, uncased.vocabSize);
    for (const key of ["clsId", "sepId", "padId", "unkId", "maskId"] as const) assert.equal(fromVocab[key], uncased[key], key);
    for (let id = 0; id < uncased.vocabSize; id += 97) assert.equal(fromVocab.idToToken(id), uncased.idToToken(id));
    for (const { text } of section("uncased").cases) assert.deepEqual(ids(fromVocab, text), ids(uncased, text), JSON.stringify(text));

    // do_lower_case false in tokenizer_config.json ↔ the cased section of the fixture.
    const casedDir = join(tmp, "vocab-cased");
    mkdirSync(casedDir);
    copyFileSync(join(modelDir, "vocab.txt"), join(casedDir, "vocab.txt"));
    writeFileSync(join(casedDir, "tokenizer_config.json"), JSON.stringify({ ...tokenizerConfig, do_lower_case: false }));
    const cased = BertTokenizer.fromDirectory(casedDir);
    assert.equal(cased.config.lowercase, false);
    assert.equal(cased.config.stripAccents, false);
    for (const { text, ids: expected } of section("cased").cases) assert.deepEqual(ids(cased, text), expected, JSON.stringify(text));
  });

  test("fromVocab and the basic accessors", () => {
    const tokens = readFileSync(join(modelDir, "vocab.txt"), "utf8").split("\n").slice(0, -1);
    const t = BertTokenizer.fromVocab(tokens);
    assert.equal(t.vocabSize, 30522);
    assert.deepEqual([t.padId, t.unkId, t.clsId, t.sepId, t.maskId], [0, 100, 101, 102, 103]);
    assert.equal(t.tokenToId("the"), 1996);
    assert.equal(t.tokenToId("##s"), 2015);
    assert.equal(t.tokenToId("no such token"), undefined);
    assert.equal(t.idToToken(1996), "the");
    assert.throws(() => t.idToToken(30522), RangeError);
    assert.equal(t.config.modelMaxLength, 512);
    assert.deepEqual(ids(t, "Hello world"), ids(uncased, "Hello world"));
    const cased = BertTokenizer.fromVocab(tokens, { lowercase: false });
    assert.equal(cased.config.stripAccents, false);
    assert.deepEqual(ids(cased, "Hello"), [101, 100, 102]);
  });

  test("clear errors", () => {
    const missing = join(tmp, "does-not-exist");
    assert.throws(() => BertTokenizer.fromDirectory(missing), (e: unknown) => e instanceof TokenizerLoadError && e.message.includes(missing));
    const empty = join(tmp, "empty");
    mkdirSync(empty);
    assert.throws(() => BertTokenizer.fromDirectory(empty), /none of tokenizer\.json, sentencepiece\.bpe\.model, spiece\.model or vocab\.txt exists/);
    const broken = join(tmp, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, "tokenizer.json"), "{ not json");
    assert.throws(() => BertTokenizer.fromDirectory(broken), /broken[\\/]tokenizer\.json is not valid JSON/);
    const bpe = join(tmp, "bpe");
    mkdirSync(bpe);
    writeFileSync(join(bpe, "tokenizer.json"), JSON.stringify({ ...tokenizerJson, model: { type: "WordLevel", vocab: {} } }));
    assert.throws(() => BertTokenizer.fromDirectory(bpe), /bpe[\\/]tokenizer\.json: model type "WordLevel" is not supported/);
    assert.throws(() => BertTokenizer.fromVocab(["a", "b"]), /\[UNK\].*not in the vocabulary/);
  });
});

describe("encode", () => {
  test("addSpecialTokens: false drops [CLS]/[SEP]", () => {
    assert.deepEqual(ids(uncased, "hello world", false), [7592, 2088]);
    assert.deepEqual(ids(uncased, "", false), []);
  });

  test("offsets map tokens back to the original text (ASCII fixture strings)", () => {
    for (const { text } of section("uncased").cases) {
      if (!/^[\x20-\x7e]*$/.test(text)) continue;
      const { ids: tokenIds, offsets } = uncased.encode(text, { offsets: true });
      assert.ok(offsets);
      assert.equal(offsets.length, 2 * tokenIds.length);
      let previousEnd = 0;
      for (let k = 0; k < tokenIds.length; k++) {
        const start: number = offsets[2 * k];
        const end: number = offsets[2 * k + 1];
        const token = uncased.idToToken(tokenIds[k]);
        if (k === 0 || k === tokenIds.length - 1) {
          assert.deepEqual([start, end], [0, 0], "template specials");
          continue;
        }
        assert.ok(start < end && end <= text.length && start >= previousEnd, `${JSON.stringify(text)} token ${k}`);
        previousEnd = end;
        const piece = text.slice(start, end);
        if (token === "[UNK]") continue;
        if (/^\[(CLS|SEP|PAD|MASK|UNK)\]$/.test(token)) assert.equal(piece, token);
        else assert.equal(piece.toLowerCase(), token.replace(/^##/, ""), `${JSON.stringify(text)}: ${token}`);
      }
    }
  });

  test("offsets of non-ASCII text", () => {
    const text = "Crème\u00a0brûlée [MASK] 中文 e\u0301!";
    const { ids: tokenIds, offsets } = uncased.encode(text, { offsets: true, addSpecialTokens: false });
    const pieces = Array.from(tokenIds, (id, k) => [uncased.idToToken(id), text.slice(offsets![2 * k], offsets![2 * k + 1])]);
    assert.deepEqual(pieces, [
      ["cr", "Cr"],
      ["##eme", "ème"],
      ["br", "br"],
      ["##ule", "ûlé"],
      ["##e", "e"],
      ["[MASK]", "[MASK]"],
      ["中", "中"],
      ["文", "文"],
      ["e", "e"], // the stripped accent belongs to no token, as in the Rust crate
      ["!", "!"],
    ]);
  });

  test("properties: never throws, ids in range, [CLS] first / [SEP] last, deterministic, paths and cache agree", () => {
    const uncached = BertTokenizer.fromDirectory(modelDir, { wordCacheSize: 0 });
    const exact = exactPath(tokenizerJson);
    fc.assert(
      fc.property(anyString, (text) => {
        const first = uncased.encode(text).ids;
        assert.ok(first.length >= 2);
        assert.equal(first[0], uncased.clsId);
        assert.equal(first[first.length - 1], uncased.sepId);
        for (const id of first) assert.ok(Number.isInteger(id) && id >= 0 && id < uncased.vocabSize);
        assert.deepEqual(uncased.encode(text).ids, first);
        assert.deepEqual(uncached.encode(text).ids, first);
        assert.deepEqual(exact.encode(text).ids, first);
        const withOffsets = uncased.encode(text, { offsets: true });
        assert.deepEqual(withOffsets.ids, first);
        for (const offset of withOffsets.offsets!) assert.ok(offset <= text.length);
      }),
      { numRuns: 600, seed: 1 },
    );
    assert.equal(uncached.cachedWords, 0);
  });

  test("properties: offsets lie within the text, in order; decoding the pieces and encoding again gives the same ids", () => {
    /** Pieces joined back into text: "##" pieces glue onto the previous one, others are separated by a space. */
    const decode = (tokenIds: Int32Array): string => {
      let text = "";
      for (const id of tokenIds) {
        const token = uncased.idToToken(id);
        text += token.startsWith("##") ? token.slice(2) : `${text ? " " : ""}${token}`;
      }
      return text;
    };
    fc.assert(
      fc.property(anyString, (text) => {
        const { ids: tokenIds, offsets } = uncased.encode(text, { offsets: true, addSpecialTokens: false });
        let previousStart = 0;
        for (let k = 0; k < tokenIds.length; k++) {
          const [start, end] = [offsets![2 * k], offsets![2 * k + 1]];
          assert.ok(start <= end && end <= text.length, `token ${k} of ${JSON.stringify(text)}: ${start}..${end}`);
          assert.ok(start >= previousStart, `offsets go forward in ${JSON.stringify(text)}`);
          previousStart = start;
        }
        assert.deepEqual(Array.from(uncased.encode(decode(tokenIds), { addSpecialTokens: false }).ids), Array.from(tokenIds), `round trip of ${JSON.stringify(text)}`);
      }),
      { numRuns: 800, seed: 5 },
    );
  });

  test("adversarial inputs: long runs of one character family never throw and stay within the vocabulary", () => {
    const runs = fc.tuple(fc.constantFrom("a", "\u0301", "中", "😀", "\ud800", " ", "[", "#", "\u200d", "ǅ", "\u0000", "[CLS]", "x\u0301"), fc.integer({ min: 1, max: 3000 }));
    fc.assert(
      fc.property(fc.array(runs, { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.map(([unit, count]) => unit.repeat(count)).join("");
        const encoded = uncased.encode(text, { offsets: true });
        for (const id of encoded.ids) assert.ok(id >= 0 && id < uncased.vocabSize);
        for (const offset of encoded.offsets!) assert.ok(offset <= text.length);
      }),
      { numRuns: 60, seed: 9 },
    );
  });

  test("the word cache is bounded", () => {
    const small = BertTokenizer.fromDirectory(modelDir, { wordCacheSize: 8 });
    for (let i = 0; i < 100; i++) small.encode(`word${i} other${i} third${i}`);
    assert.ok(small.cachedWords <= 8);
    assert.deepEqual(ids(small, "word1 other2"), ids(uncased, "word1 other2"));
  });

  test("long inputs", () => {
    const text = "Debian package description with some words. ".repeat(2000);
    const out = uncased.encode(text).ids;
    assert.equal(out.length, 2 + 8 * 2000);
    const exotic = "naïve 中文 😀 ".repeat(500);
    assert.deepEqual(uncased.encode(exotic).ids, exactPath(tokenizerJson).encode(exotic).ids);
  });
});

describe("truncateIds", () => {
  const seq = Int32Array.from([101, 1, 2, 3, 4, 5, 102]);
  test("keeps [CLS] first and [SEP] last when hasSpecials", () => {
    assert.deepEqual(Array.from(truncateIds(seq, 5, "right", true)), [101, 1, 2, 3, 102]);
    assert.deepEqual(Array.from(truncateIds(seq, 5, "left", true)), [101, 3, 4, 5, 102]);
    assert.deepEqual(Array.from(truncateIds(seq, 2, "right", true)), [101, 102]);
    assert.throws(() => truncateIds(seq, 1, "left", true), RangeError);
  });
  test("plain cut without specials", () => {
    assert.deepEqual(Array.from(truncateIds(seq, 3, "right", false)), [101, 1, 2]);
    assert.deepEqual(Array.from(truncateIds(seq, 3, "left", false)), [4, 5, 102]);
    assert.deepEqual(Array.from(truncateIds(seq, 0, "left", false)), []);
  });
  test("returns the input when it fits, rejects bad lengths", () => {
    assert.equal(truncateIds(seq, 7, "right", true), seq);
    assert.equal(truncateIds(seq, 100, "left", false), seq);
    assert.throws(() => truncateIds(seq, -1, "right", false), RangeError);
    assert.throws(() => truncateIds(seq, 2.5, "right", false), RangeError);
  });
});
