import { FeedbackOutcome, type FeedbackItem } from "../../gen/bertd/v1/heads_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { FeedbackItemSchema } from "../../gen/bertd/v1/heads_pb.js";
import { type Command, UsageError, connect, stringOption } from "../command.js";
import { InputFileError, readInputFile } from "../input-file.js";
import { table } from "../output.js";
import { chunks } from "../texts.js";

type Item = MessageInitShape<typeof FeedbackItemSchema>;

const outcomeName = (outcome: FeedbackOutcome): string => (FeedbackOutcome[outcome] ?? String(outcome)).toLowerCase();

export const feedback: Command = {
  name: "feedback",
  brief: "answer predictions with their true labels (the head learns from them)",
  summary: [
    "Tell bertd the true labels of predictions it served (ids from `bertd classify --json`), or send full",
    "examples. Each item is answered: accepted (durably in the head's log), unknown_id, expired,",
    "invalid_label, duplicate (a prediction counts once), wrong_head or invalid. Exit 0 when every item",
    "was accepted or a duplicate, 1 otherwise.",
    "",
    "--file takes JSON lines: {\"prediction_id\": ID, \"labels\": [...]} or {\"head\": H, \"text\": T, \"labels\": [...]}",
    "(\"label\": L for one label).",
  ].join("\n"),
  usage: "bertd feedback ID LABEL… | --file F [options]",
  client: true,
  options: {
    file: { type: "string", value: "F", help: "JSON lines of items (see above)" },
    head: { type: "string", value: "H", help: "check that the predictions are this head's (WRONG_HEAD otherwise)" },
    json: { type: "boolean", help: "one JSON line per item: {\"id\", \"outcome\", \"detail\", \"servedVersion\", \"servedCorrect\"}" },
  },
  examples: ["bertd feedback p1.mk2x….Zq9 games", "bertd feedback --file corrections.jsonl --json"],
  async run({ values, positionals }) {
    const file = stringOption(values, "file");
    const head = stringOption(values, "head") ?? "";
    let items: Item[];
    if (file) {
      if (positionals.length > 0) throw new UsageError("give ID LABEL… or --file, not both");
      items = readInputFile(file, "jsonl").records.map(({ line, fields }) => itemOf(file, line, fields, head));
      if (items.length === 0) throw new UsageError(`${file} has no items`);
    } else {
      const [id, ...labels] = positionals;
      if (!id) throw new UsageError("expected a prediction id and its labels, or --file (see bertd feedback --help)");
      items = [{ predictionId: id, labels, head }];
    }
    const clients = connect(values);
    try {
      const call = clients.heads().unary("feedback");
      const rows: string[][] = [];
      let bad = 0;
      for (const batch of chunks(items, 500)) {
        const response = await call({ items: batch });
        response.results.forEach((result, i) => {
          const outcome = outcomeName(result.outcome).replace("feedback_outcome_", "");
          if (outcome !== "accepted" && outcome !== "duplicate") bad++;
          const id = batch[i].predictionId || result.exampleId;
          if (values.json) process.stdout.write(`${JSON.stringify({ id, outcome, detail: result.detail, head: result.head, servedVersion: result.servedVersion, servedCorrect: result.servedCorrect })}\n`);
          else rows.push([id ?? "", outcome, result.servedVersion ? `v${result.servedVersion} ${result.servedCorrect ? "right" : "wrong"}` : "", result.detail]);
        });
      }
      if (!values.json) process.stdout.write(`${table(["id", "outcome", "served", "detail"], rows)}\n`);
      return bad > 0 ? 1 : 0;
    } finally {
      clients.close();
    }
  },
};

function itemOf(file: string, line: number, fields: Readonly<Record<string, unknown>>, head: string): Item {
  const text = (name: string): string => {
    const value = fields[name];
    if (value === undefined) return "";
    if (typeof value !== "string") throw new InputFileError(file, line, `"${name}" must be a string`);
    return value;
  };
  let labels: string[];
  if (Array.isArray(fields.labels) && fields.labels.every((l) => typeof l === "string")) labels = fields.labels;
  else if (typeof fields.label === "string") labels = [fields.label];
  else throw new InputFileError(file, line, 'needs "labels" (an array of strings) or "label"');
  const predictionId = text("prediction_id") || text("predictionId");
  if (!predictionId && !text("text")) throw new InputFileError(file, line, 'needs "prediction_id", or "head" and "text"');
  return { predictionId, labels, head: text("head") || head, text: text("text"), id: text("id") } satisfies Partial<FeedbackItem>;
}
