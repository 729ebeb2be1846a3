/**
 * Model directories of each tokenizer family, generated (tools/generator, a graph without
 * token_type_ids as XLM-R and RoBERTa exports have) with the non-BERT tokenizer fixtures, served by
 * a real server: Tokenize gives Hugging Face's ids and offsets (the `tokenizers` binding), Embed
 * equals a direct ONNX Runtime run on those ids, Adapt teaches a head that Classify serves, and
 * GetModelInfo names the tokenizer type.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Tokenizer as HfTokenizer } from "tokenizers";
import { tokenizerFromJson } from "../../src/core/tokenizer/index.js";
import { Pooling } from "../../src/gen/bertd/v1/encoder_pb.js";
import { generateBertModel } from "../../tools/generator/index.js";
import { hasGpt2, robertaBpe, unigramModelPath, xlmrUnigram } from "../fixtures/tokenizers/fixtures.js";
import { adapt, toyExamples } from "../helpers/adapt-client.js";
import { ReferenceModel, finish, maxAbsDiff, referencePool } from "../helpers/reference.js";
import { ROOT, startServer, type ServerProcess } from "../helpers/server-process.js";

type Json = Record<string, unknown>;

const texts = [
  ...readFileSync(join(ROOT, "test/fixtures/debian-package-sections/test.jsonl"), "utf8")
    .trim()
    .split("\n")
    .slice(0, 8)
    .map((line) => (JSON.parse(line) as { text: string }).text),
  "这是一个文本向量化的测试句子",
  "emoji 😀 👩‍👧‍👦 done, café ﬁnance ②",
  "a <mask> b </s> c",
  "  leading and   inner spaces ",
];

/** Hugging Face's offsets count code points; the Tokenize RPC's are UTF-16 units. */
function utf16Offsets(text: string, offsets: number[][]): [number[], number[]] {
  const unitOf: number[] = [];
  let unit = 0;
  for (const ch of text) {
    unitOf.push(unit);
    unit += ch.length;
  }
  unitOf.push(unit);
  return [offsets.map(([start]) => unitOf[start]), offsets.map(([, end]) => unitOf[end])];
}

interface Family {
  name: string;
  type: string;
  tokenizer: { tokenizerJson: Json; tokenizerConfig: Json };
  /** Write the tokenizer files into the model directory. */
  files: (dir: string) => void;
}

const writeJson = (dir: string, { tokenizerJson, tokenizerConfig }: { tokenizerJson: Json; tokenizerConfig: Json }): void => {
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
};

const families: Family[] = [
  { name: "Unigram, XLM-R layout tokenizer.json", type: "Unigram", tokenizer: xlmrUnigram(), files: (dir) => writeJson(dir, xlmrUnigram()) },
  // Only the SentencePiece model: converted at load as transformers' XLMRobertaConverter does.
  { name: "Unigram, sentencepiece.bpe.model only", type: "Unigram", tokenizer: xlmrUnigram(), files: (dir) => copyFileSync(unigramModelPath, join(dir, "sentencepiece.bpe.model")) },
];
if (hasGpt2()) families.push({ name: "byte-level BPE, RoBERTa layout", type: "BPE", tokenizer: robertaBpe(), files: (dir) => writeJson(dir, robertaBpe()) });

for (const [k, family] of families.entries()) {
  describe(`a ${family.name} model directory, served`, () => {
    const hf = HfTokenizer.fromString(JSON.stringify(family.tokenizer.tokenizerJson));
    const dir = mkdtempSync(join(tmpdir(), "bertd-family-"));
    let server: ServerProcess;
    let reference: ReferenceModel;

    before(async () => {
      const vocabSize = tokenizerFromJson(family.tokenizer.tokenizerJson, family.tokenizer.tokenizerConfig).vocabSize;
      await generateBertModel({ outDir: dir, layers: 1, hidden: 64, heads: 2, intermediate: 128, vocabSize, vocabDir: null, tokenTypeIds: false, seed: 30 + k });
      family.files(dir);
      [server, reference] = await Promise.all([startServer(["--model-dir", dir, "--data-dir", mkdtempSync(join(tmpdir(), "bertd-family-data-"))]), ReferenceModel.open(join(dir, "model.onnx"))]);
    });
    after(async () => {
      await reference?.close();
      if (server) assert.equal(await server.stop(), 0);
    });

    it("Tokenize gives the ids and offsets of Hugging Face's tokenizer, and a pair's type ids", async () => {
      const tokenize = server.encoder().unary("tokenize");
      const singles = await tokenize({ inputs: texts, addSpecialTokens: true });
      for (const [i, text] of texts.entries()) {
        const want = await hf.encode(text);
        const got = singles.encodings[i];
        assert.deepEqual(got.ids, want.getIds(), `ids of ${JSON.stringify(text)}`);
        const [starts, ends] = utf16Offsets(text, want.getOffsets());
        assert.deepEqual([got.offsetStarts, got.offsetEnds], [starts, ends], `offsets of ${JSON.stringify(text)}`);
        assert.equal(got.tokens.length, got.ids.length);
      }
      const pairs = await tokenize({ inputs: texts.slice(0, 4), textPairs: texts.slice(4, 8), addSpecialTokens: true });
      for (let i = 0; i < 4; i++) {
        const want = await hf.encode(texts[i], texts[i + 4]);
        assert.deepEqual([pairs.encodings[i].ids, pairs.encodings[i].typeIds], [want.getIds(), want.getTypeIds()], `pair ${i}`);
      }
    });

    it("Embed equals a direct ONNX Runtime run on Hugging Face's ids, and counts its tokens", async () => {
      const response = await server.encoder().unary("embed")({ inputs: texts, pooling: Pooling.MEAN, normalize: true });
      let tokens = 0;
      for (const [i, text] of texts.entries()) {
        const ids = (await hf.encode(text)).getIds();
        tokens += ids.length;
        const run = await reference.run(ids);
        const want = finish(referencePool(run.hidden, run.pooler, "mean"), 0, true);
        const diff = maxAbsDiff(response.embeddings[i].values, want);
        assert.ok(diff <= 1e-5, `input ${i}: max abs diff ${diff}`);
      }
      assert.equal(response.usage?.inputTokens, tokens);
    });

    it("Adapt teaches a head that Classify serves", async () => {
      const examples = toyExamples(120);
      const result = await adapt(server.heads(), { head: "topics", labels: ["sport", "food"], hyperparameters: { seed: 7n, replayPasses: 3, holdoutFraction: 0.2 } }, examples);
      assert.equal(result.committed.length, 1);
      assert.ok(result.committed[0].promoted);
      // A random encoder: the head fits the examples it learnt from, not more.
      const response = await server.encoder().unary("classify")({ head: "topics", inputs: examples.slice(0, 16).map((e) => e.text), topK: 1 });
      assert.equal(response.headVersion, 1);
      const right = response.predictions.filter((p, i) => p.labels[0].label === examples[i].labels[0]).length;
      console.log(`# ${family.name}: ${right}/16 right, holdout accuracy ${result.committed[0].holdout?.accuracy}`);
      assert.ok(right >= 12, `${right} of 16 learnt examples classified right`);
    });

    it("GetModelInfo names the tokenizer type and its vocabulary", async () => {
      const info = await server.encoder().unary("getModelInfo")({});
      assert.equal(info.tokenizerType, family.type);
      assert.equal(info.vocabularySize, hf.getVocabSize(true));
    });
  });
}
