import { existsSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { type AdaptProgress, type AdaptStarted, HeadType } from "../../gen/bertd/v1/heads_pb.js";
import { type Command, UsageError, type Values, connect, numberOption, stringOption } from "../command.js";
import { InputFileError, formatOf, readInputFile } from "../input-file.js";
import { type Series, writeLineChart } from "../line-chart.js";
import { adaptExamples } from "../teach/adapt-stream.js";
import { type ExampleFields, type FileExample, fileExamples, labelsOf } from "../teach/examples.js";
import { HEAD_OPTIONS, adaptConfigFromFlags } from "../teach/hyperparameters.js";
import { ACCURACY, SPAN_F1, holdoutLine, holdoutSummary } from "../teach/metrics.js";
import { TeachProgress } from "../teach/progress-display.js";
import { type Curves, PrefixHasher, prefixHash, readResumeState, removeResumeState, writeResumeState } from "../teach/resume-state.js";

const PREQUENTIAL_COLOR = [31, 119, 180] as const;
const HOLDOUT_COLOR = [255, 127, 14] as const;
const COMMITTED_COLOR = [44, 160, 44] as const;

export const teach: Command = {
  name: "teach",
  brief: "teach a head from a labelled .jsonl or .csv file, with live progress and a curve PNG",
  summary: [
    "Streams a labelled file into Adapt (one example per JSON line or CSV row, id `<file name>:<line>:<hash>`),",
    "commits, and prints the committed version and its holdout metrics. Progress (examples/s, running",
    "loss, prequential accuracy, ETA) goes to stderr; a PNG of the prequential (blue) and holdout (orange)",
    "accuracy, with the committed version's holdout accuracy (green), is written beside the file.",
    "--type token teaches a sequence-labelling head from JSON lines of words and one BIO tag per word",
    '({"words": ["Ann", "met", "Bo"], "tags": ["B-PER", "O", "B-PER"]}): it follows, plots and reports',
    "entity-level span F1 (precision and recall too) instead of accuracy.",
    "An interrupted run leaves <file>.<head>.teach.json beside the file; --resume continues after the",
    "last example of the file that the server has logged, so no example is sent twice.",
  ].join("\n"),
  usage: "bertd teach --head H --file data.jsonl|data.csv [options]",
  client: true,
  options: {
    head: { type: "string", value: "H", help: "the head to teach (created when new)" },
    file: { type: "string", value: "F", help: ".jsonl (one object per line) or .csv/.tsv with a header row (--type token: .jsonl)" },
    "text-field": { type: "string", value: "NAME", help: "field or column of the text (default: text)" },
    "label-field": { type: "string", value: "NAME", help: "field or column of the label(s) (default: label; a JSON array gives several)" },
    "pair-field": { type: "string", value: "NAME", help: "field or column of each example's second text: teaches a pair head (text, pair) on sentence pairs" },
    "label-separator": { type: "string", value: "S", help: "split a label cell into several labels (multilabel CSV)" },
    "id-field": { type: "string", value: "NAME", help: "take example ids from this field instead of <file name>:<line>:<hash of text and labels>" },
    "words-field": { type: "string", value: "NAME", help: "--type token: field of the words, a JSON array (default: words)" },
    "tags-field": { type: "string", value: "NAME", help: "--type token: field of the tags, one per word: O, B-TYPE, I-TYPE (default: tags)" },
    "weight-field": { type: "string", value: "NAME", help: "field or column of example weights" },
    labels: { type: "string", value: "A,B,…", help: "a new head's labels (default: every label in the file)" },
    resume: { type: "boolean", help: "continue an interrupted run of this file" },
    plot: { type: "string", value: "PATH", help: "where to write the PNG (default: <file>.<head>.png beside the file)" },
    "no-plot": { type: "boolean", help: "write no PNG" },
    "progress-every": { type: "string", value: "N", help: "examples between progress messages (and durable acknowledgements; default 50)" },
    json: { type: "boolean", help: "print the outcome as one JSON line on stdout" },
    ...HEAD_OPTIONS,
  },
  examples: [
    "bertd teach --head sections --file test/fixtures/debian-package-sections/train.jsonl",
    "bertd teach --head spam --file mail.csv --text-field body --label-field class --learning-rate 0.005 --replay-passes 10",
    "bertd teach --head sections --file train.jsonl --resume    # after an interrupted run",
    "bertd teach --head same-section --file pairs.jsonl --text-field a --pair-field b",
    "bertd teach --type token --head ner --file test/fixtures/debian-ner/train.jsonl",
  ],
  async run({ values, positionals }) {
    const head = stringOption(values, "head");
    const file = stringOption(values, "file");
    if (!head || !file) throw new UsageError("--head and --file are required (see bertd teach --help)");
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (see bertd teach --help)`);
    const config = { ...adaptConfigFromFlags(values), pair: values["pair-field"] !== undefined };
    const token = config.type === HeadType.TOKEN;
    const metric = token ? SPAN_F1 : ACCURACY;
    const progressEvery = numberOption(values, "progress-every", { integer: true, min: 1 }) ?? 50;
    const fields = exampleFields(values, token, file);
    const input = readInputFile(file);
    const { examples, problems } = fileExamples(input, fields);
    if (problems.length > 0) {
      for (const problem of problems.slice(0, -1)) process.stderr.write(`bertd: ${problem.message}\n`);
      const last = problems[problems.length - 1];
      throw new InputFileError(last.file, last.line, `${last.problem}${problems.length > 1 ? ` (and ${problems.length - 1} more above; nothing was sent)` : " (nothing was sent)"}`);
    }
    if (examples.length === 0) throw new UsageError(`${file} holds no examples`);
    const labels = stringOption(values, "labels")?.split(",").map((l) => l.trim()) ?? fileLabels(examples, token);

    const stem = join(dirname(file), basename(file, extname(file)));
    const statePath = `${file}.${head}.teach.json`;
    const plotPath = values["no-plot"] ? undefined : (stringOption(values, "plot") ?? `${stem}.${head}.png`);
    const saved = readResumeState(statePath);
    if (saved && saved.head !== head) throw new UsageError(`${statePath} is a run of head "${saved.head}", not "${head}"`);
    if (values.resume && !saved) process.stderr.write(`note: ${statePath} does not exist; resuming after the last example of this file the server has logged, if any\n`);
    if (!values.resume && saved) process.stderr.write(`note: an interrupted run left ${statePath}; --resume would continue it. Starting at the first line (the server skips ids it has logged).\n`);
    let curves: Curves = values.resume && saved ? saved.curves : { prequential: [], holdout: [] };
    const indexOf = new Map(examples.map((e, i) => [e.id, i]));
    let start = 0;
    let display: TeachProgress | undefined;
    const plan = (log: AdaptStarted): FileExample[] => {
      if (values.resume) {
        // The server's log is the truth (it may hold examples logged after the last acknowledgement);
        // the state file covers a log whose last example is from another file.
        const logged = indexOf.get(log.lastLoggedId);
        start = logged !== undefined ? logged + 1 : log.loggedExamples > 0n ? (saved?.processed ?? 0) : 0;
        if (start > 0) {
          const lastLine = examples[start - 1].line;
          if (saved && prefixHash(input.bytes, saved.lastLine) !== saved.prefixSha256) {
            throw new InputFileError(file, saved.lastLine, "the file changed before the point the interrupted run reached: teach it again without --resume");
          }
          process.stderr.write(`resuming after line ${lastLine}: the server has logged this file up to there\n`);
        }
        if (start === 0) curves = { prequential: [], holdout: [] };
      }
      display = new TeachProgress(examples.length, start, token);
      return examples.slice(start);
    };

    const lineOf = new Map(examples.map((e) => [e.id, e.line]));
    const hasher = new PrefixHasher(input.bytes);
    const totals = { accepted: 0, duplicate: 0, rejected: 0 };
    const rejections: string[] = [];
    const onProgress = (p: AdaptProgress): void => {
      const processed = Number(p.accepted + p.duplicate + p.rejected);
      Object.assign(totals, { accepted: Number(p.accepted), duplicate: Number(p.duplicate), rejected: Number(p.rejected) });
      for (const r of p.rejections) rejections.push(`${file}:${lineOf.get(r.id) ?? "?"}: rejected by the server: ${r.reason}`);
      const done = start + processed;
      if (processed > 0) {
        curves.prequential.push([done, metric.prequential(p)]);
        if (p.holdout && p.holdout.examples > 0n) curves.holdout.push([done, metric.holdout(p.holdout)]);
        const lastLine = examples[done - 1].line;
        writeResumeState(statePath, { format: 1, head, processed: done, lastLine, lastDurableId: p.lastDurableId, prefixSha256: hasher.upTo(lastLine), curves });
      }
      display?.update({ done, loss: p.runningLoss, prequentialAccuracy: p.prequentialAccuracy, prequentialSpanF1: p.prequentialSpanF1 });
    };

    const interrupt = new AbortController();
    const onSignal = (): void => interrupt.abort();
    process.once("SIGINT", onSignal);
    const clients = connect(values);
    let outcome;
    try {
      outcome = await adaptExamples(clients.heads(), { ...config, head, labels, progressEvery }, plan, onProgress, { signal: interrupt.signal });
    } catch (error) {
      display?.stop();
      if (interrupt.signal.aborted) {
        process.stderr.write(`interrupted: nothing was committed; what the server acknowledged is kept. Continue with:\n  bertd teach --head ${head} --file ${file} --resume\n`);
        return 130;
      }
      if (existsSync(statePath)) process.stderr.write(`what the server acknowledged is kept; continue with: bertd teach --head ${head} --file ${file} --resume\n`);
      throw error;
    } finally {
      process.off("SIGINT", onSignal);
      clients.close();
    }
    display?.stop();
    for (const line of rejections.slice(0, 20)) process.stderr.write(`${line}\n`);
    if (rejections.length > 20) process.stderr.write(`… and ${rejections.length - 20} more rejections\n`);
    removeResumeState(statePath);

    const committed = outcome.committed[outcome.committed.length - 1];
    if (plotPath) {
      const series: Series[] = [
        { points: curves.prequential, color: PREQUENTIAL_COLOR, label: `prequential ${metric.name}` },
        { points: curves.holdout, color: HOLDOUT_COLOR, label: `holdout ${metric.name} (during the stream)` },
      ];
      if (committed?.holdout && committed.holdout.examples > 0n) {
        const y = metric.holdout(committed.holdout);
        series.push({ points: [[examples.length * 0.96, y], [examples.length, y]], color: COMMITTED_COLOR, label: `committed v${committed.version} holdout ${metric.name}` });
      }
      writeLineChart(plotPath, series, examples.length, { xLabel: "examples" });
    }
    const result = {
      head,
      version: committed?.version ?? 0,
      promoted: committed?.promoted ?? false,
      promotionReason: committed?.promotionReason ?? "",
      holdout: holdoutSummary(committed?.holdout, token),
      sent: examples.length - start,
      resumedAfter: start,
      ...totals,
      prequentialAccuracy: outcome.last?.prequentialAccuracy ?? 0,
      ...(token ? { prequentialSpanF1: outcome.last?.prequentialSpanF1 ?? 0 } : {}),
      plot: plotPath ?? null,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const prequential = token ? `prequential span F1 ${(result.prequentialSpanF1 ?? 0).toFixed(4)}, word accuracy ${result.prequentialAccuracy.toFixed(4)}` : `prequential accuracy ${result.prequentialAccuracy.toFixed(4)}`;
      process.stdout.write(
        [
          `head ${head}: committed v${result.version}${result.promoted ? ", now served" : ", not promoted"} (${result.promotionReason})`,
          holdoutLine(result.holdout),
          `examples: ${result.accepted} accepted, ${result.duplicate} duplicate, ${result.rejected} rejected; ${prequential}`,
          ...(plotPath ? [`curves: ${plotPath}`] : []),
        ].join("\n") + "\n",
      );
    }
    return 0;
  },
};

/** Which fields hold an example: text and label(s), or (--type token, JSON lines only) words and tags. */
function exampleFields(values: Values, token: boolean, file: string): ExampleFields {
  const common = { id: stringOption(values, "id-field"), weight: stringOption(values, "weight-field") };
  const misplaced = (token ? ["text-field", "label-field", "label-separator", "pair-field"] : ["words-field", "tags-field"]).find((flag) => values[flag] !== undefined);
  if (misplaced) throw new UsageError(`--${misplaced} ${token ? "is for text heads, not --type token" : "needs --type token"} (see bertd teach --help)`);
  if (!token) {
    const labelSeparator = stringOption(values, "label-separator");
    return { ...common, text: stringOption(values, "text-field") ?? "text", label: stringOption(values, "label-field") ?? "label", labelSeparator, pair: stringOption(values, "pair-field") };
  }
  if (formatOf(file) !== "jsonl") throw new UsageError(`--type token reads JSON lines (.jsonl) with a words array and a tags array; ${file} is not .jsonl`);
  return { ...common, words: stringOption(values, "words-field") ?? "words", tags: stringOption(values, "tags-field") ?? "tags" };
}

/** A new head's labels: every label (or tag) in the file, sorted; O first for tags. */
function fileLabels(examples: readonly FileExample[], token: boolean): string[] {
  const labels = [...new Set(examples.flatMap((e) => labelsOf(e.content)))].sort();
  return token && labels.includes("O") ? ["O", ...labels.filter((label) => label !== "O")] : labels;
}
