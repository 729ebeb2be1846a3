import type { TaggedInput } from "../../gen/bertd/v1/encoder_pb.js";
import { type Command, type Parsed, UsageError, connect, stringOption } from "../command.js";
import { formatOf, wordsField } from "../input-file.js";
import { clip, table } from "../output.js";
import { HEAD_VERSION_OPTIONS, TEXT_INPUT_OPTIONS, chunks, headVersion, inputTexts, inputs } from "../texts.js";

export const tag: Command = {
  name: "tag",
  brief: "entities (and per-word tags) from a TOKEN head: a table, or JSON lines",
  summary: [
    "Tags each word of each input with a TOKEN head and prints the entities (type, text, score) as a table,",
    "or one JSON line per input with --json. --per-word adds each word's tag and score. Texts are split into",
    "words by the server; with --words each TEXT is split at whitespace and --file is JSON lines with a words array.",
  ].join("\n"),
  usage: "bertd tag --head H [options] TEXT… | --file F",
  client: true,
  options: {
    head: { type: "string", value: "H", help: "the TOKEN head (required)" },
    ...TEXT_INPUT_OPTIONS,
    words: { type: "boolean", help: "inputs are words: TEXTs split at whitespace, or --file F.jsonl with a words array (see --words-field)" },
    "words-field": { type: "string", value: "NAME", help: "with --words: the field of the words array (default: words)" },
    ...HEAD_VERSION_OPTIONS,
    "per-word": { type: "boolean", help: "also each word's tag and score" },
    json: { type: "boolean", help: 'one JSON line per input: {"text", "version", "entities": [{"type", "text", "start", "end", "score"}]}, and "words" with --per-word' },
  },
  examples: [
    'bertd tag --head ner "Matthias Klose uploaded python3.11 3.11.2-6 to unstable."',
    "bertd tag --head ner --file sentences.txt --json > entities.jsonl",
    "bertd tag --head ner --words --file test/fixtures/debian-ner/test.jsonl --per-word",
  ],
  async run(parsed) {
    const head = stringOption(parsed.values, "head");
    if (!head) throw new UsageError("--head is required (see bertd tag --help)");
    const perWord = parsed.values["per-word"] === true;
    const json = parsed.values.json === true;
    // With words, offsets (and so the text shown) refer to the words joined by single spaces.
    const requests: { text: string; words?: string[] }[] = parsed.values.words ? wordInputs(this, parsed).map((words) => ({ words, text: words.join(" ") })) : textInputs(this, parsed).map((text) => ({ text }));
    const versions = headVersion(parsed.values);
    const clients = connect(parsed.values);
    try {
      const call = clients.encoder().unary("tag");
      const tagged: { text: string; result: TaggedInput }[] = [];
      let headVersionServed = 0;
      for (const batch of chunks(requests, 64)) {
        const input = parsed.values.words ? { words: batch.map((r) => ({ words: r.words })) } : { texts: batch.map((r) => r.text) };
        const response = await call({ head, ...versions, ...input });
        headVersionServed = response.headVersion;
        response.results.forEach((result, i) => {
          const { text } = batch[i];
          if (json) process.stdout.write(`${JSON.stringify(jsonLine(text, headVersionServed, result, perWord))}\n`);
          else tagged.push({ text, result });
        });
      }
      if (!json) process.stdout.write(`${tables(tagged, perWord)}\n(head ${head} v${headVersionServed})\n`);
      return 0;
    } finally {
      clients.close();
    }
  },
};

function textInputs(command: Command, parsed: Parsed): string[] {
  if (parsed.values["words-field"] !== undefined) throw new UsageError("--words-field needs --words (see bertd tag --help)");
  return inputTexts(command, parsed);
}

function wordInputs(command: Command, parsed: Parsed): string[][] {
  const file = stringOption(parsed.values, "file");
  if (parsed.values["text-field"] !== undefined) throw new UsageError("--text-field is for texts, not --words; see --words-field");
  if (file !== undefined && formatOf(file) !== "jsonl") throw new UsageError(`--words --file reads JSON lines (.jsonl) with a words array; ${file} is not .jsonl`);
  const field = stringOption(parsed.values, "words-field") ?? "words";
  return inputs(command, parsed, {
    argument: (text) => {
      const words = text.split(/\s+/).filter((word) => word !== "");
      if (words.length === 0) throw new UsageError("an empty TEXT has no words");
      return words;
    },
    record: (path, record) => wordsField(path, record, field),
  });
}

function jsonLine(text: string, version: number, result: TaggedInput, perWord: boolean): object {
  const entities = result.entities.map(({ type, text: entity, start, end, score }) => ({ type, text: entity, start, end, score }));
  if (!perWord) return { text, version, entities };
  const words = result.words.map(({ word, label, score, start, end, encoded }) => ({ word, label, score, start, end, ...(encoded ? {} : { encoded }) }));
  return { text, version, entities, words };
}

/** The entities of every input in one table; with per-word, then each input's words and tags. */
function tables(tagged: readonly { text: string; result: TaggedInput }[], perWord: boolean): string {
  const rows = tagged.flatMap(({ text, result }) => {
    const shown = clip(text, 40);
    if (result.entities.length === 0) return [[shown, "-", "", ""]];
    return result.entities.map((e, i) => [i === 0 ? shown : "", e.type, clip(e.text, 32), e.score.toFixed(3)]);
  });
  const blocks = [table(["text", "type", "entity", "score"], rows)];
  if (perWord) {
    for (const { text, result } of tagged) {
      const words = result.words.map((w) => [clip(w.word, 32), w.label, w.encoded ? w.score.toFixed(3) : "", w.encoded ? "" : "past the model's maximum length"]);
      blocks.push(`\n${clip(text, 100)}\n${table(["word", "tag", "score", ""], words)}`);
    }
  }
  return blocks.join("\n");
}
