import { type Command, UsageError, choiceOption, connect, numberOption, stringOption } from "../command.js";
import { readInputFile, textField } from "../input-file.js";
import { clip, table } from "../output.js";
import { HEAD_VERSION_OPTIONS, headVersion } from "../texts.js";
import { TRUNCATIONS } from "./embed.js";

export const rerank: Command = {
  name: "rerank",
  brief: "rank documents against a query with a cross-encoder or a pair head",
  summary: [
    "Scores each DOC against QUERY with Rerank and prints them best first: the model's own classifier when",
    "the served model is a cross-encoder, or a pair head taught with `bertd teach --pair-field` (--head, --label).",
    "Scores are probabilities (sigmoid of one logit, softmax of two) unless --raw.",
  ].join("\n"),
  usage: "bertd rerank [options] QUERY DOC… | QUERY --file F",
  client: true,
  options: {
    file: { type: "string", value: "F", help: "read the documents from F: .jsonl (see --text-field), .csv/.tsv with a header row, or one per line" },
    "text-field": { type: "string", value: "NAME", help: "field or column holding each document (default: text)" },
    head: { type: "string", value: "H", help: "a pair head (default: the model's own classifier)" },
    label: { type: "string", value: "L", help: "with --head: the label whose probability is the score" },
    "top-n": { type: "string", value: "N", help: "print the best N (default: all)" },
    raw: { type: "boolean", help: "raw scores: the logit (log-odds) instead of a probability" },
    truncation: { type: "string", value: "MODE", help: "right, left or none" },
    ...HEAD_VERSION_OPTIONS,
    json: { type: "boolean", help: 'one JSON line per rank: {"index", "score", "document"}' },
  },
  examples: [
    'bertd rerank "play chess" "a chess engine" "a mail client" "chess board GUI"',
    "bertd rerank --head same-section --label same \"3D puzzle game\" --file descriptions.txt --top-n 5",
  ],
  async run({ values, positionals }) {
    const [query, ...rest] = positionals;
    if (query === undefined) throw new UsageError("nothing to rank: give QUERY and DOC arguments, or QUERY and --file (see bertd rerank --help)");
    const file = stringOption(values, "file");
    if (file !== undefined && rest.length > 0) throw new UsageError("give DOC arguments or --file, not both (see bertd rerank --help)");
    const field = stringOption(values, "text-field") ?? "text";
    const documents = file === undefined ? rest : readInputFile(file).records.map((record) => textField(file, record, field));
    if (documents.length === 0) throw new UsageError(file === undefined ? "no documents: give DOC arguments after QUERY, or --file" : `${file} holds no documents`);
    const truncation = choiceOption(values, "truncation", Object.keys(TRUNCATIONS) as (keyof typeof TRUNCATIONS)[]);
    const clients = connect(values);
    try {
      const response = await clients.encoder().unary("rerank")({
        query,
        documents,
        topN: numberOption(values, "top-n", { integer: true, min: 0 }) ?? 0,
        head: stringOption(values, "head") ?? "",
        label: stringOption(values, "label") ?? "",
        rawScores: values.raw === true,
        truncation: truncation ? TRUNCATIONS[truncation] : undefined,
        ...headVersion(values),
      });
      if (values.json) {
        for (const rank of response.ranks) process.stdout.write(`${JSON.stringify({ index: rank.index, score: rank.score, document: documents[rank.index] })}\n`);
      } else {
        const rows = response.ranks.map((rank, i) => [String(i + 1), rank.score.toFixed(values.raw ? 3 : 4), String(rank.index), clip(documents[rank.index], 60)]);
        process.stdout.write(`${table(["rank", "score", "doc", "document"], rows)}\n(${response.head} v${response.headVersion}, ${response.usage?.inputTokens ?? 0} tokens)\n`);
      }
      return 0;
    } finally {
      clients.close();
    }
  },
};
