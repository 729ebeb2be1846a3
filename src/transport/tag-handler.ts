import { create } from "@bufbuild/protobuf";
import type { HeadRegistry } from "../adaptation/head-registry.js";
import { predictTags, type WordScorer } from "../adaptation/token-examples.js";
import type { EncoderModel } from "../core/encoder.js";
import { invalidArgument, unavailable } from "../core/errors.js";
import { joinWords, rowsPerWord, splitWords, type AlignedWords } from "../core/words.js";
import { spansOf } from "../heads/index.js";
import { TagResponseSchema, type TagRequest } from "../gen/bertd/v1/encoder_pb.js";
import type { CallLogger } from "./calls.js";

/** Encoder.Tag: per-word tags of a TOKEN head, merged into entity spans. */
export function tagHandler(deps: { encoder: () => EncoderModel | undefined; registry: () => HeadRegistry | undefined; calls: CallLogger; minVersionWaitMs: number }) {
  return deps.calls.unary("Tag", async (request: TagRequest, context) => {
    const encoder = deps.encoder();
    const registry = deps.registry();
    if (!encoder || !registry) throw unavailable("the model is still loading: retry shortly");
    if (!request.head) throw invalidArgument("head is empty: name the TOKEN head to tag with");
    if (request.texts.length > 0 && request.words.length > 0) throw invalidArgument("set texts or words, not both");
    if (request.texts.length === 0 && request.words.length === 0) throw invalidArgument("texts and words are empty: send texts, or pre-split words");
    const started = performance.now();
    const splits = request.texts.length > 0 ? request.texts.map(splitWords) : request.words.map((input, i) => joinWords(checkedWords(input.words, i)));
    const head = await registry.resolve(request.head, request, deps.minVersionWaitMs, context.signal);
    if (head.type !== "token") throw invalidArgument(`head "${request.head}" is ${head.type.toUpperCase()}, not TOKEN: use Classify`);
    const { aligned, tokens } = encoder.alignInputs(splits);
    const tokenized = performance.now();
    const { states, times } = await encoder.wordStates(aligned, { deadline: context.deadline, signal: context.signal });
    const inferred = performance.now();
    const width = encoder.info.tokenStateWidth;
    const results = aligned.map((words, i) => tagged(words, rowsPerWord(words, states[i], width), head.snapshot));
    deps.calls.stages(context, { tokenize: [started, tokenized], ...times, head: [inferred, performance.now()] });
    const inputCount = splits.length;
    return {
      response: create(TagResponseSchema, { results, headVersion: head.version, usage: { inputTokens: tokens } }),
      fields: { head: request.head, version: head.version, inputCount, inputTokens: tokens },
    };
  });
}

function checkedWords(words: readonly string[], input: number): readonly string[] {
  if (words.length === 0) throw invalidArgument(`words[${input}] has no words`);
  const blank = words.findIndex((word) => word.trim().length === 0);
  if (blank >= 0) throw invalidArgument(`words[${input}].words[${blank}] is empty`);
  return words;
}

function tagged(words: AlignedWords, rows: (Float32Array | undefined)[], scorer: WordScorer) {
  const { tags, scores } = predictTags(scorer, rows);
  return {
    words: words.words.map((word, i) => ({ word, label: tags[i], score: scores[i], start: words.starts[i], end: words.ends[i], encoded: rows[i] !== undefined })),
    entities: spansOf(tags).map((span) => {
      const start = words.starts[span.start];
      const end = words.ends[span.end - 1];
      let sum = 0;
      for (let i = span.start; i < span.end; i++) sum += scores[i];
      return { type: span.type, start, end, text: words.text.slice(start, end), score: sum / (span.end - span.start) };
    }),
  };
}
