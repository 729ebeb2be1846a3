import fc from "fast-check";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BertTokenizer } from "../../src/core/tokenizer/index.js";
import { tokenStateOutputs } from "../../src/backends/onnx/outputs.js";
import { gatherStates } from "../../src/core/pooling.js";
import { alignWords, joinWords, splitWords } from "../../src/core/words.js";
import { DEFAULT_MODEL_DIR } from "../../src/config.js";

const tokenizer = BertTokenizer.fromDirectory(DEFAULT_MODEL_DIR);
const pieces = (word: string): string[] => Array.from(tokenizer.encode(word, { addSpecialTokens: false }).ids, (id) => tokenizer.idToToken(id));

/** Each aligned word's first piece is the first piece the word gives alone. */
function assertFirstPieces(words: readonly string[], maxLength = 512): void {
  const aligned = alignWords(tokenizer, joinWords(words), maxLength);
  let previous = 0;
  words.forEach((word, i) => {
    const alone = tokenizer.encode(word, { addSpecialTokens: false }).ids;
    const piece = aligned.firstPiece[i];
    if (alone.length === 0) {
      assert.equal(piece, -1, `${JSON.stringify(word)} has no piece`);
      return;
    }
    assert.ok(piece > previous, `first pieces increase (${JSON.stringify(word)})`);
    assert.equal(aligned.ids[piece], alone[0], `${JSON.stringify(word)} starts with ${tokenizer.idToToken(alone[0])}`);
    previous = piece;
  });
}

describe("splitWords", () => {
  test("splits at whitespace and splits punctuation and symbols off the ends of chunks", () => {
    const split = splitWords("  Maintainer: Jörg <jo@x.org>, v1.2-3!");
    assert.deepEqual(split.words, ["Maintainer", ":", "Jörg", "<", "jo@x.org", ">", ",", "v1.2-3", "!"]);
    split.words.forEach((word, i) => assert.equal(split.text.slice(split.starts[i], split.ends[i]), word));
  });

  test("keeps astral characters whole and gives UTF-16 offsets", () => {
    const split = splitWords("𝒳 (東京) 😀.");
    assert.deepEqual(split.words, ["𝒳", "(", "東京", ")", "😀", "."]);
    assert.deepEqual(Array.from(split.starts), [0, 3, 4, 6, 8, 10]);
  });

  test("a text of whitespace has no words", () => {
    assert.deepEqual(splitWords(" \t\n ").words, []);
  });
});

describe("alignWords: each word's first WordPiece", () => {
  test("accents: stripped in the ids, offsets still in the original text", () => {
    const aligned = alignWords(tokenizer, splitWords("Café Müller naïve"), 512);
    assert.deepEqual(Array.from(aligned.firstPiece, (p) => tokenizer.idToToken(aligned.ids[p])), ["cafe", "muller", "naive"]);
    assertFirstPieces(["Café", "Müller", "naïve", "Ελληνικά"]);
  });

  test("CJK: every ideograph is a piece; a word of ideographs starts at its first", () => {
    const aligned = alignWords(tokenizer, joinWords(["東京", "タワー", "北京市"]), 512);
    assert.deepEqual(Array.from(aligned.firstPiece, (p) => tokenizer.idToToken(aligned.ids[p])), ["東", pieces("タワー")[0], "北"]);
    assertFirstPieces(["東京", "タワー", "北京市", "x"]);
  });

  test("punctuation inside a word splits it into pieces; the word keeps its first", () => {
    assertFirstPieces(["jo@x.org", "1.2.3-4", "(", "don't", "...", "C++"]);
    const aligned = alignWords(tokenizer, joinWords(["jo@x.org", "ok"]), 512);
    assert.equal(aligned.firstPiece[1], aligned.ids.length - 2);
  });

  test("a word of many pieces does not shift the next word", () => {
    const long = "pneumonoultramicroscopicsilicovolcanoconiosis";
    assert.ok(pieces(long).length > 5);
    const aligned = alignWords(tokenizer, joinWords([long, "dog"]), 512);
    assert.equal(aligned.firstPiece[0], 1);
    assert.equal(tokenizer.idToToken(aligned.ids[aligned.firstPiece[1]]), "dog");
  });

  test("a word of dropped characters has no piece and the others keep theirs", () => {
    const aligned = alignWords(tokenizer, joinWords(["a", "\u200b", "b"]), 512);
    assert.deepEqual(Array.from(aligned.firstPiece), [1, -1, 2]);
    assert.deepEqual(Array.from(aligned.positions), [1, 2]);
  });

  test("truncation cutting a word: its first piece stays, the words after it lose theirs", () => {
    const long = "pneumonoultramicroscopicsilicovolcanoconiosis";
    // [CLS] the <pieces of long…> | cut | dog [SEP]
    const aligned = alignWords(tokenizer, joinWords(["the", long, "dog"]), 5);
    assert.equal(aligned.ids.length, 5);
    assert.equal(aligned.ids[0], tokenizer.clsId);
    assert.equal(aligned.ids[4], tokenizer.sepId);
    assert.deepEqual(Array.from(aligned.firstPiece), [1, 2, -1]);
    assert.deepEqual(Array.from(aligned.positions), [1, 2]);
    // A cut exactly before a word's first piece.
    assert.deepEqual(Array.from(alignWords(tokenizer, joinWords(["a", "b", "c"]), 4).firstPiece), [1, 2, -1]);
  });

  test("property: for any words, first pieces increase and equal each word's own first piece", () => {
    const alphabet = fc.constantFrom(..."abcxyzÀéüñßøΣσ東京語タワー한국@.,-'()0123456789!?€😀\u0301".split(""), "\u200b");
    const word = fc.array(alphabet, { minLength: 1, maxLength: 12 }).map((chars) => chars.join(""));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 20 }), (words) => assertFirstPieces(words)),
      { numRuns: 300 },
    );
  });
});

describe("token states out of a padded batch", () => {
  test("gatherStates copies the asked rows, each row's layers side by side, last layer first", () => {
    // 2 rows × sequence 3 × width 2; value = 100·layer + 10·(row·3 + position) + h
    const layer = (l: number): Float32Array => Float32Array.from({ length: 12 }, (_, i) => 100 * l + 10 * Math.floor(i / 2) + (i % 2));
    const out = new Float32Array(3 * 4);
    gatherStates([layer(0), layer(1)], Int32Array.of(2, 0, 1), Int32Array.of(1, 2), 3, 2, out);
    assert.deepEqual(Array.from(out), [20, 21, 120, 121, 30, 31, 130, 131, 40, 41, 140, 141]);
  });

  test("tokenStateOutputs takes last_hidden_state and the highest hidden_states.N, four layers at most", () => {
    assert.deepEqual(tokenStateOutputs(["last_hidden_state", "pooler_output"]), ["last_hidden_state"]);
    const names = ["last_hidden_state", "hidden_states.1", "hidden_states.10", "hidden_states.2", "hidden_states.9", "hidden_states.11", "logits"];
    assert.deepEqual(tokenStateOutputs(names), ["last_hidden_state", "hidden_states.11", "hidden_states.10", "hidden_states.9"]);
    // Numbered like Hugging Face's tuple (0 = embeddings, 2 = the last layer): the last layer once.
    assert.deepEqual(tokenStateOutputs(["last_hidden_state", "hidden_states.0", "hidden_states.1", "hidden_states.2"]), ["last_hidden_state", "hidden_states.1", "hidden_states.0"]);
  });
});
