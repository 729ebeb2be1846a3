import { predictTags } from "../adaptation/token-examples.js";
import type { CallOptions, StageTimes } from "../core/encoder.js";
import { invalidArgument } from "../core/errors.js";
import { joinWords, rowsPerWord, splitWords } from "../core/words.js";
import { taggedText, type TaggedText } from "./entities.js";
import { tokenHead, type HeadRequest } from "./head-resolution.js";
import type { ServedHeads } from "./heads.js";

/** Texts to split into words, or pre-split words (one of the two). */
export interface TagInput extends HeadRequest {
  readonly texts: readonly string[];
  readonly words: readonly (readonly string[])[];
}

export interface Tagged {
  readonly results: TaggedText[];
  /** One per input, for Feedback (empty when predictions are not kept). */
  readonly predictionIds: string[];
  readonly headVersion: number;
  readonly inputCount: number;
  readonly inputTokens: number;
  readonly times: StageTimes;
}

/** Per-word tags of a TOKEN head, merged into entity spans. */
export async function tag(heads: ServedHeads, input: TagInput, minVersionWaitMs: number, call: CallOptions): Promise<Tagged> {
  const { encoder, registry } = heads;
  encoder.requireHiddenStates("Tag");
  if (!input.head) throw invalidArgument("head is empty: name the TOKEN head to tag with");
  if (input.texts.length > 0 && input.words.length > 0) throw invalidArgument("set texts or words, not both");
  if (input.texts.length === 0 && input.words.length === 0) throw invalidArgument("texts and words are empty: send texts, or pre-split words");
  const started = performance.now();
  const splits = input.texts.length > 0 ? input.texts.map(splitWords) : input.words.map((words, i) => joinWords(checkedWords(words, i)));
  const head = await tokenHead(registry, input, minVersionWaitMs, call.signal);
  const { aligned, tokens } = encoder.alignInputs(splits);
  const tokenized = performance.now();
  const { states, times } = await encoder.wordStates(aligned, call);
  const inferred = performance.now();
  const width = encoder.info.tokenStateWidth;
  const results = aligned.map((words, i) => {
    const rows = rowsPerWord(words, states[i], width);
    const { tags, scores } = predictTags(head.snapshot, rows);
    return taggedText(words, tags, scores, rows.map((row) => row !== undefined));
  });
  const store = heads.predictions;
  let predictionIds: string[] = [];
  if (store?.enabled) {
    const now = Date.now();
    const records = results.map((result) => ({
      id: store.newId(now),
      head: head.name,
      type: head.type,
      version: head.version,
      text: JSON.stringify(result.words.map((w) => w.word)),
      served: result.words.map((w) => w.label),
      scores: [],
      createdAtMs: now,
      expiresAtMs: now + store.windowMs,
    }));
    store.keep(records);
    predictionIds = records.map((record) => record.id);
  }
  return {
    results,
    predictionIds,
    headVersion: head.version,
    inputCount: splits.length,
    inputTokens: tokens,
    times: { tokenize: [started, tokenized], ...times, head: [inferred, performance.now()] },
  };
}

/** Pre-split words of input `input`: at least one, none blank. */
export function checkedWords(words: readonly string[], input: number): readonly string[] {
  if (words.length === 0) throw invalidArgument(`words[${input}] has no words`);
  const blank = words.findIndex((word) => word.trim().length === 0);
  if (blank >= 0) throw invalidArgument(`words[${input}].words[${blank}] is empty`);
  return words;
}
