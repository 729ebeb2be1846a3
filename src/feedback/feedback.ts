import { createHash } from "node:crypto";
import { invalidArgument } from "../core/errors.js";
import { HeadTrainer, isHoldout, isTag } from "../heads/index.js";
import type { FeedbackExample, HeadStore, StoredHeadType } from "../store/head-store.js";
import { servedCorrect } from "./live-metrics.js";
import type { PredictionStore } from "./prediction-store.js";

export type FeedbackOutcome = "accepted" | "unknown_id" | "expired" | "invalid_label" | "duplicate" | "wrong_head" | "invalid";

export interface FeedbackItem {
  readonly predictionId: string;
  readonly labels: readonly string[];
  readonly head: string;
  readonly text: string;
  readonly id: string;
}

export interface FeedbackResult {
  readonly outcome: FeedbackOutcome;
  readonly detail: string;
  readonly head: string;
  readonly exampleId: string;
  readonly servedVersion: number;
  readonly servedCorrect: boolean;
}

/** What feedback reports, for metrics and for the heads that learn from it. */
export interface FeedbackObserver {
  feedback(head: string, outcome: FeedbackOutcome, count: number): void;
  /** A head logged new feedback (its learner may pick it up now). */
  logged?(head: string): void;
}

/** Most items in one Feedback call. */
export const MAX_FEEDBACK_ITEMS = 1000;

/** What a head's newest version says about the labels feedback may carry and the holdout split. */
interface HeadRules {
  readonly type: StoredHeadType;
  readonly pair: boolean;
  readonly labels: readonly string[];
  readonly allowNewLabels: boolean;
  readonly holdoutFraction: number;
  readonly seed: number;
}

interface Candidate {
  readonly index: number;
  readonly example: FeedbackExample;
}

/**
 * Feedback: answers to served predictions (by id) and full examples, checked, then logged durably in
 * their heads' example logs (an accepted item is on disk when the call returns). An id the log already
 * holds is a DUPLICATE: the first answer counts, once.
 */
export class Feedback {
  private readonly rules = new Map<string, HeadRules>();

  constructor(
    private readonly store: HeadStore,
    private readonly predictions: PredictionStore,
    private readonly maxInputChars: number,
    private readonly observer?: FeedbackObserver,
  ) {}

  async submit(items: readonly FeedbackItem[]): Promise<FeedbackResult[]> {
    if (items.length === 0) throw invalidArgument("items is empty: send at least one {prediction_id, labels} or {head, text, labels}");
    if (items.length > MAX_FEEDBACK_ITEMS) throw invalidArgument(`items has ${items.length} entries, over the limit of ${MAX_FEEDBACK_ITEMS} per call`);
    const results = new Array<FeedbackResult>(items.length);
    const byHead = new Map<string, Candidate[]>();
    const seen = new Set<string>();
    await Promise.all(
      items.map(async (item, index) => {
        const resolved = await this.resolve(item);
        if ("outcome" in resolved) {
          results[index] = resolved;
          return;
        }
        const key = `${resolved.head}\0${resolved.example.id}`;
        if (seen.has(key)) {
          results[index] = result("duplicate", resolved.head, `${resolved.example.id} is answered twice in this call: the first answer counts`, resolved.example.id);
          return;
        }
        seen.add(key);
        let group = byHead.get(resolved.head);
        if (!group) byHead.set(resolved.head, (group = []));
        group.push({ index, example: resolved.example });
      }),
    );
    for (const [head, candidates] of byHead) {
      candidates.sort((a, b) => a.index - b.index);
      const inserted = await this.store.appendFeedback(head, candidates.map((c) => c.example));
      const type = this.rules.get(head)?.type ?? "multiclass";
      for (const { index, example } of candidates) {
        if (!inserted.has(example.id)) {
          results[index] = result("duplicate", head, `${example.id} was already answered (feedback on one prediction counts once: the first answer is kept)`, example.id);
          continue;
        }
        const served = example.served;
        results[index] = {
          outcome: "accepted",
          detail: "",
          head,
          exampleId: example.id,
          servedVersion: served?.version ?? 0,
          servedCorrect: served ? servedCorrect(type, example.labels, served.labels) : false,
        };
      }
      if (inserted.size > 0) this.observer?.logged?.(head);
    }
    const counts = new Map<string, number>();
    for (const r of results) counts.set(`${r.head}\0${r.outcome}`, (counts.get(`${r.head}\0${r.outcome}`) ?? 0) + 1);
    for (const [key, count] of counts) {
      const [head, outcome] = key.split("\0");
      this.observer?.feedback(head, outcome as FeedbackOutcome, count);
    }
    return results;
  }

  /** The example an item adds to which head's log, or why it adds none. */
  private async resolve(item: FeedbackItem): Promise<FeedbackResult | { head: string; example: FeedbackExample }> {
    if (item.predictionId) {
      if (item.text) return result("invalid", item.head, "set prediction_id or text (a full example), not both", item.predictionId);
      const lookup = await this.predictions.find(item.predictionId);
      if ("outcome" in lookup) {
        // The prediction is gone, but its answer may be logged already: that is a duplicate.
        if (item.head && (await this.store.getHead(item.head)) && (await this.store.hasExample(item.head, item.predictionId))) {
          return result("duplicate", item.head, `${item.predictionId} was already answered (feedback on one prediction counts once: the first answer is kept)`, item.predictionId);
        }
        return result(lookup.outcome, item.head, lookup.detail, item.predictionId);
      }
      const prediction = lookup.found;
      if (item.head && item.head !== prediction.head) {
        return result("wrong_head", item.head, `prediction ${item.predictionId} was made by head "${prediction.head}", not "${item.head}"`, item.predictionId);
      }
      const rules = await this.rulesOf(prediction.head);
      if (typeof rules === "string") return result("invalid", prediction.head, rules, item.predictionId);
      const problem = labelProblem(rules, item.labels, prediction.type === "token" ? (JSON.parse(prediction.text) as string[]).length : undefined);
      if (problem) return result("invalid_label", prediction.head, problem, item.predictionId);
      return {
        head: prediction.head,
        example: {
          id: prediction.id,
          text: prediction.text,
          labels: item.labels,
          weight: 1,
          holdout: isHoldout(prediction.id, rules.holdoutFraction, rules.seed),
          served: { version: prediction.version, labels: prediction.served },
        },
      };
    }
    if (!item.head) return result("invalid", "", "an item needs a prediction_id, or head, text and labels (a full example)", item.id);
    if (!item.text) return result("invalid", item.head, "a full example needs text", item.id);
    if (item.text.length > this.maxInputChars) return result("invalid", item.head, `text has ${item.text.length} characters, over the limit of ${this.maxInputChars} (--max-input-chars)`, item.id);
    const rules = await this.rulesOf(item.head);
    if (typeof rules === "string") return result("invalid", item.head, rules, item.id);
    if (rules.type === "token") return result("invalid", item.head, `head "${item.head}" is a TOKEN head: full examples go through Adapt (words and tags); answer Tag predictions by prediction_id`, item.id);
    if (rules.pair) return result("invalid", item.head, `head "${item.head}" is a pair head: full examples go through Adapt (text and text_pair); answer Classify predictions by prediction_id`, item.id);
    const problem = labelProblem(rules, item.labels);
    if (problem) return result("invalid_label", item.head, problem, item.id);
    const id = item.id || `text:${createHash("sha256").update(item.text).digest("base64url")}`;
    return { head: item.head, example: { id, text: item.text, labels: item.labels, weight: 1, holdout: isHoldout(id, rules.holdoutFraction, rules.seed) } };
  }

  /** The head's label rules from its newest version; a string says why feedback cannot go to it. */
  private async rulesOf(head: string): Promise<HeadRules | string> {
    const record = await this.store.getHead(head);
    if (!record) return `head "${head}" does not exist`;
    if (record.latestVersion === 0) return `head "${head}" has no version yet: commit an Adapt stream first`;
    const key = `${head}\0${record.latestVersion}`;
    const cached = this.rules.get(key);
    if (cached) return cached;
    const stored = await this.store.loadVersion(head, record.latestVersion);
    if (!stored) return `head "${head}" has no version ${record.latestVersion}`;
    const trainer = HeadTrainer.restore(stored.state);
    const rules: HeadRules = { type: record.type, pair: record.input === "pair", labels: trainer.labels, allowNewLabels: trainer.allowNewLabels, holdoutFraction: trainer.config.holdoutFraction, seed: trainer.config.seed };
    for (const old of this.rules.keys()) if (old.startsWith(`${head}\0`)) this.rules.delete(old);
    this.rules.set(key, rules);
    this.rules.set(head, rules);
    return rules;
  }
}

function labelProblem(rules: HeadRules, labels: readonly string[], words?: number): string | undefined {
  if (rules.type === "multiclass" && labels.length !== 1) return `a MULTICLASS head takes exactly one label; got ${labels.length}`;
  if (rules.type === "token" && labels.length !== words) return `a TOKEN prediction takes one tag per word: ${words} words, ${labels.length} tags`;
  const empty = labels.findIndex((label) => !label);
  if (empty >= 0) return `labels[${empty}] is empty`;
  if (rules.type === "multilabel" && new Set(labels).size !== labels.length) return "labels has a label twice";
  if (rules.type === "token") {
    const bad = labels.find((tag) => !isTag(tag));
    if (bad !== undefined) return `"${bad}" is not a tag (O, B-TYPE or I-TYPE)`;
  }
  if (rules.allowNewLabels) return undefined;
  const unknown = labels.find((label) => !rules.labels.includes(label));
  return unknown === undefined ? undefined : `label "${unknown}" is not one of the head's labels (${rules.labels.slice(0, 20).join(", ")}${rules.labels.length > 20 ? ", …" : ""}) and the head does not allow new labels`;
}

function result(outcome: FeedbackOutcome, head: string, detail: string, exampleId: string): FeedbackResult {
  return { outcome, detail, head, exampleId, servedVersion: 0, servedCorrect: false };
}
