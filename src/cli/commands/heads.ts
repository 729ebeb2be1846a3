import { HeadType, Promotion, type HeadPolicy, type LiveMetrics } from "../../gen/bertd/v1/heads_pb.js";
import { type Command, UsageError, choiceOption, connect, numberOption } from "../command.js";
import { table } from "../output.js";
import { holdoutSummary } from "../teach/metrics.js";

const typeName = (type: HeadType): string => (type === HeadType.MULTILABEL ? "multilabel" : type === HeadType.TOKEN ? "token" : "multiclass");

export const heads: Command = {
  name: "heads",
  brief: "list, show, roll back or delete heads",
  summary: [
    "Manage heads:",
    "  list                 every head: type, active and latest version, labels",
    "  show H               a head's versions: holdout accuracy, macro-F1, log-loss (span F1 of token heads), examples, steps;",
    "                       live accuracy and macro-F1 (feedback on what each version served) and the learning policy",
    "  policy H [--publish-every N] [--publish-seconds T] [--promotion P] [--shadow K] [--off]",
    "                       learn continuously from feedback: publish a version every N examples and/or T seconds",
    "  rollback H [--to V]  serve version V (default: the newest version older than the active one)",
    "  delete H             delete a head, its versions and its example log",
  ].join("\n"),
  usage: "bertd heads list | show H | policy H [options] | rollback H [--to V] | delete H   [options]",
  client: true,
  options: {
    to: { type: "string", value: "V", help: "rollback: the version to serve" },
    "publish-every": { type: "string", value: "N", help: "policy: publish after N new examples (0 = not by count)" },
    "publish-seconds": { type: "string", value: "T", help: "policy: publish every T seconds when there are new examples (0 = not by time)" },
    promotion: { type: "string", value: "P", help: "policy: if-better (default; also if_better), always or never" },
    shadow: { type: "string", value: "K", help: "policy: score a candidate on K live feedback items before promoting it (0 = off)" },
    off: { type: "boolean", help: "policy: stop learning continuously" },
    json: { type: "boolean", help: "print the response as JSON" },
  },
  examples: ["bertd heads list", "bertd heads show sections", "bertd heads policy sections --publish-every 200 --publish-seconds 600", "bertd heads rollback sections --to 2", "bertd heads delete sections"],
  async run({ values, positionals }) {
    const [action, head, ...rest] = positionals;
    const needsHead = action === "show" || action === "rollback" || action === "delete" || action === "policy";
    if (action === undefined || !(needsHead || action === "list")) throw new UsageError(`expected list, show, policy, rollback or delete; got ${action ?? "nothing"} (see bertd heads --help)`);
    if (needsHead && !head) throw new UsageError(`heads ${action} needs a head name: bertd heads ${action} H (see bertd heads --help)`);
    if (rest.length > 0 || (action === "list" && head)) throw new UsageError(`unexpected argument "${rest[0] ?? head}"`);
    const json = values.json === true;
    const print = (text: string): boolean => process.stdout.write(`${text}\n`);
    const clients = connect(values);
    try {
      const client = clients.heads();
      if (action === "list") {
        const { heads: list } = await client.unary("listHeads")({});
        if (json) print(JSON.stringify(list.map((h) => ({ name: h.name, type: typeName(h.type), activeVersion: h.activeVersion, latestVersion: h.latestVersion, labels: h.labels, readOnly: h.readOnly }))));
        else if (list.length === 0) print("no heads yet: bertd teach --head NAME --file data.jsonl creates one");
        else print(table(["head", "type", "active", "latest", "labels"], list.map((h) => [h.name + (h.readOnly ? " (read-only)" : ""), typeName(h.type), String(h.activeVersion), String(h.latestVersion), labelList(h.labels)])));
      } else if (action === "show") {
        const response = await client.unary("getHead")({ head });
        const summary = response.head!;
        const token = summary.type === HeadType.TOKEN;
        const versions = response.versions.map((v) => ({
          version: v.version,
          createdAt: new Date(Number(v.createdAtMs)).toISOString(),
          trainedExamples: Number(v.trainedExamples),
          steps: Number(v.steps),
          holdout: holdoutSummary(v.holdout, token),
        }));
        const live = liveOf(response.live);
        const policy = response.policy;
        const versionsWithLive = versions.map((v, i) => ({ ...v, live: liveOf(response.versions[i].live) }));
        if (json) print(JSON.stringify({ name: summary.name, type: typeName(summary.type), activeVersion: summary.activeVersion, labels: summary.labels, modelHash: response.modelHash, live, policy: policy ? policyJson(policy) : undefined, versions: versionsWithLive }));
        else {
          print(`head ${summary.name}: ${typeName(summary.type)}, active v${summary.activeVersion} of ${summary.latestVersion}, ${summary.labels.length} labels (${labelList(summary.labels)})`);
          print(live.examples > 0 ? `live (feedback on served predictions): accuracy ${live.accuracy.toFixed(4)}, macro-F1 ${live.macroF1.toFixed(4)} over ${live.examples}` : "live: no feedback yet");
          if (policy?.continuous) {
            const p = policyJson(policy);
            print(`policy: continuous, publish ${publishEvery(p)}, promotion ${p.promotion.replace("_", "-")}${p.shadowExamples ? `, shadow ${p.shadowExamples}` : ""}`);
          }
          print(
            table(
              ["version", "created (UTC)", "examples", "steps", "holdout", "accuracy", "macro-F1", "log-loss", ...(token ? ["span F1"] : []), "live", "live acc."],
              versionsWithLive.map((v) => [
                `${v.version === summary.activeVersion ? "* " : ""}${v.version}`,
                v.createdAt.slice(0, 19).replace("T", " "),
                String(v.trainedExamples),
                String(v.steps),
                String(v.holdout.examples),
                v.holdout.accuracy.toFixed(4),
                v.holdout.macroF1.toFixed(4),
                v.holdout.logLoss.toFixed(4),
                ...(token ? [(v.holdout.spanF1 ?? 0).toFixed(4)] : []),
                String(v.live.examples),
                v.live.examples > 0 ? v.live.accuracy.toFixed(4) : "",
              ]),
            ),
          );
        }
      } else if (action === "policy") {
        const promotion = choiceOption(values, "promotion", ["if-better", "if_better", "always", "never"] as const) ?? "if-better";
        const result = await client.unary("setHeadPolicy")({
          head,
          policy: {
            continuous: values.off !== true,
            publishEveryExamples: numberOption(values, "publish-every", { integer: true, min: 0 }) ?? 0,
            publishEverySeconds: numberOption(values, "publish-seconds", { integer: true, min: 0 }) ?? 0,
            promotion: PROMOTIONS[promotion],
            shadowExamples: numberOption(values, "shadow", { integer: true, min: 0 }) ?? 0,
          },
        });
        const p = policyJson(result.policy!);
        print(json ? JSON.stringify({ head, policy: p }) : p.continuous ? `head ${head}: learns continuously, publishing ${publishEvery(p)} (promotion ${p.promotion.replace("_", "-")})` : `head ${head}: no longer learns continuously`);
      } else if (action === "rollback") {
        let version = numberOption(values, "to", { integer: true, min: 1 });
        if (version === undefined) {
          const response = await client.unary("getHead")({ head });
          const active = response.head?.activeVersion ?? 0;
          version = Math.max(0, ...response.versions.map((v) => v.version).filter((v) => v < active));
          if (version === 0) throw new UsageError(`head "${head}" has no version older than the active v${active}: give --to V`);
        }
        const result = await client.unary("setActiveVersion")({ head, version });
        print(json ? JSON.stringify({ head, previousVersion: result.previousVersion, activeVersion: result.activeVersion }) : `head ${head}: now serving v${result.activeVersion} (was v${result.previousVersion})`);
      } else {
        await client.unary("deleteHead")({ head });
        print(json ? JSON.stringify({ head, deleted: true }) : `deleted head ${head}`);
      }
      return 0;
    } finally {
      clients.close();
    }
  },
};

// if-better as bertd teach --promotion spells it; if_better as the JSON output and the server's logs do.
const PROMOTIONS = { "if-better": Promotion.IF_BETTER, if_better: Promotion.IF_BETTER, always: Promotion.ALWAYS, never: Promotion.NEVER } as const;

/** "every 200 examples or 600 s", "every 200 examples", "every 600 s". */
function publishEvery(p: { publishEveryExamples: number; publishEverySeconds: number }): string {
  const parts = [p.publishEveryExamples ? `${p.publishEveryExamples} examples` : "", p.publishEverySeconds ? `${p.publishEverySeconds} s` : ""].filter((x) => x !== "");
  return parts.length > 0 ? `every ${parts.join(" or ")}` : "on no schedule (--publish-every or --publish-seconds sets one)";
}

function liveOf(live: LiveMetrics | undefined): { examples: number; accuracy: number; macroF1: number } {
  return { examples: Number(live?.examples ?? 0), accuracy: live?.accuracy ?? 0, macroF1: live?.macroF1 ?? 0 };
}

function policyJson(policy: HeadPolicy): { continuous: boolean; publishEveryExamples: number; publishEverySeconds: number; promotion: string; shadowExamples: number } {
  const promotion = policy.promotion === Promotion.ALWAYS ? "always" : policy.promotion === Promotion.NEVER ? "never" : "if_better";
  return { continuous: policy.continuous, publishEveryExamples: policy.publishEveryExamples, publishEverySeconds: policy.publishEverySeconds, promotion, shadowExamples: policy.shadowExamples };
}

function labelList(labels: readonly string[]): string {
  return labels.length > 8 ? `${labels.slice(0, 8).join(", ")}, … (${labels.length})` : labels.join(", ");
}
