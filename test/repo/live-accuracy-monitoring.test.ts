import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { ROOT } from "../helpers/server-process.js";

interface Panel {
  readonly title: string;
  readonly fieldConfig?: { defaults?: { unit?: string; min?: number; max?: number } };
  readonly targets: { expr: string }[];
}

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly annotations?: { summary?: string };
}

const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana-dashboard.json`, "utf8")) as { panels: Panel[] };
const rules = (parse(readFileSync(`${ROOT}deploy/prometheus-alerts.yaml`, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const feedbackDoc = readFileSync(`${ROOT}docs/feedback.md`, "utf8").replace(/\s+/g, " ");

describe("live accuracy in the dashboard and the alert rules", () => {
  it("has a dashboard panel of live accuracy and macro-F1 per head, as fractions, and one of feedback by outcome", () => {
    const live = dashboard.panels.find((p) => p.targets.some((t) => /\bbertd_head_live_accuracy\b/.test(t.expr)));
    assert.ok(live, "a panel plots bertd_head_live_accuracy");
    assert.match(live.title, /live accuracy/i);
    assert.ok(live.targets.some((t) => /\bbertd_head_live_macro_f1\b/.test(t.expr)), "the same panel plots live macro-F1");
    for (const target of live.targets) assert.match(target.expr, /by \(head\)/, `${target.expr}: one series per head`);
    assert.deepEqual([live.fieldConfig?.defaults?.unit, live.fieldConfig?.defaults?.min, live.fieldConfig?.defaults?.max], ["percentunit", 0, 1]);
    const outcomes = dashboard.panels.find((p) => p.targets.some((t) => /rate\(bertd_feedback_total\[/.test(t.expr)));
    assert.ok(outcomes, "a panel plots the rate of feedback");
    assert.ok(outcomes.targets.some((t) => /by \(outcome\)/.test(t.expr)), "by outcome");
  });

  it("has an alert on a drop of live accuracy against an earlier value, guarded by the window's size, as docs/feedback.md says", () => {
    const rule = rules.find((r) => /\bbertd_head_live_accuracy\b/.test(r.expr));
    assert.ok(rule, "an alert rule uses bertd_head_live_accuracy");
    assert.equal(rule.alert, "BertdHeadLiveAccuracyDrop");
    const drop = /\(max by \(head\) \(bertd_head_live_accuracy\) - max by \(head\) \(bertd_head_live_accuracy offset (\d+)([hd])\)\) < -(0\.\d+)/.exec(rule.expr);
    assert.ok(drop, `${rule.expr}: live accuracy now minus live accuracy some time before, under a negative threshold`);
    const guard = /and max by \(head\) \(bertd_head_live_examples\) >= (\d+)/.exec(rule.expr);
    assert.ok(guard, `${rule.expr}: only with enough answered predictions in the window`);
    assert.match(rule.for ?? "", /^\d+m$/, "held for some minutes (a few bad answers do not page)");
    assert.match(rule.annotations?.summary ?? "", /\{\{ \$labels\.head \}\}/, "the summary names the head");

    const [, ago, unit, threshold] = drop;
    const points = Math.round(Number(threshold) * 100);
    const before = unit === "d" ? (ago === "1" ? "a day before" : `${ago} days before`) : `${ago} hours before`;
    const minutes = Number(rule.for!.slice(0, -1));
    const documented = `\`BertdHeadLiveAccuracyDrop\` (live accuracy ${points} points under its value ${before}, with at least ${guard[1]} answered predictions in the window, for ${minutes} minutes)`;
    assert.ok(feedbackDoc.includes(documented), `docs/feedback.md describes the rule as it is: ${documented}`);
  });
});
