import { type Command, UsageError, choiceOption, connect, numberOption, stringOption } from "../command.js";
import { clip, table } from "../output.js";
import { HEAD_VERSION_OPTIONS, TEXT_INPUT_OPTIONS, chunks, headVersion, inputTexts } from "../texts.js";
import { TRUNCATIONS } from "./embed.js";

export const classify: Command = {
  name: "classify",
  brief: "labels and scores from a head: a table, or JSON lines",
  summary: "Labels and scores of a head for each input: a table, or one JSON line per input with --json.",
  usage: "bertd classify --head H [options] TEXT… | --file F",
  client: true,
  options: {
    head: { type: "string", value: "H", help: "the head (required; `model` = the model's own classifier)" },
    ...TEXT_INPUT_OPTIONS,
    "top-k": { type: "string", value: "K", help: "labels per input, best first (default 3; 0 = all)" },
    ...HEAD_VERSION_OPTIONS,
    truncation: { type: "string", value: "MODE", help: "right, left or none" },
    json: { type: "boolean", help: 'one JSON line per input: {"text", "version", "predictionId", "labels": [{"label", "score"}]} (answer it with bertd feedback)' },
  },
  examples: ['bertd classify --head sections "a puzzle game" "a mail client"', "bertd classify --head sections --file new.csv --top-k 1 --json > predictions.jsonl"],
  async run(parsed) {
    const head = stringOption(parsed.values, "head");
    if (!head) throw new UsageError("--head is required (see bertd classify --help)");
    const texts = inputTexts(this, parsed);
    const topK = numberOption(parsed.values, "top-k", { integer: true, min: 0 }) ?? 3;
    const versions = headVersion(parsed.values);
    const truncation = choiceOption(parsed.values, "truncation", Object.keys(TRUNCATIONS) as (keyof typeof TRUNCATIONS)[]);
    const clients = connect(parsed.values);
    try {
      const call = clients.encoder().unary("classify");
      const rows: string[][] = [];
      let headVersion = 0;
      let index = 0;
      for (const batch of chunks(texts, 64)) {
        const response = await call({ head, inputs: batch, topK, ...versions, truncation: truncation ? TRUNCATIONS[truncation] : undefined });
        headVersion = response.headVersion;
        for (const prediction of response.predictions) {
          const text = texts[index++];
          const labels = prediction.labels.map(({ label, score }) => ({ label, score }));
          if (parsed.values.json) process.stdout.write(`${JSON.stringify({ text, version: headVersion, predictionId: prediction.predictionId, labels })}\n`);
          else rows.push([clip(text, 48), ...labels.slice(0, 1).flatMap((l) => [l.label, l.score.toFixed(3)]), labels.slice(1).map((l) => `${l.label} ${l.score.toFixed(3)}`).join(", ")]);
        }
      }
      if (!parsed.values.json) process.stdout.write(`${table(["text", "label", "score", "next"], rows)}\n(head ${head} v${headVersion})\n`);
      return 0;
    } finally {
      clients.close();
    }
  },
};
