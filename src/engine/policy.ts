import type { AdaptDeps } from "../adaptation/adapt-run.js";
import { invalidArgument, notFound } from "../core/errors.js";
import type { HeadPolicy, StoredHeadType, StoredPolicy } from "../store/head-store.js";

/** Most examples or seconds between publications a policy may ask for. */
const MAX_EVERY = 10_000_000;

/** Checks a continuous-learning policy for a head of this type, naming the field. */
export function checkPolicy(policy: HeadPolicy, type: StoredHeadType, field = "policy"): HeadPolicy {
  for (const key of ["publishEveryExamples", "publishEverySeconds", "shadowExamples"] as const) {
    if (policy[key] > MAX_EVERY) throw invalidArgument(`${field}.${snake(key)} ${policy[key]} is over the limit of ${MAX_EVERY}`);
  }
  if (policy.continuous && policy.publishEveryExamples === 0 && policy.publishEverySeconds === 0) {
    throw invalidArgument(`${field}: a continuous head needs publish_every_examples or publish_every_seconds (or both) > 0`);
  }
  // The shadow rule compares served labels per prediction; a TOKEN head's candidate would never be decided.
  if (type === "token" && policy.shadowExamples > 0) throw invalidArgument(`${field}.shadow_examples: shadow scoring is for MULTICLASS and MULTILABEL heads, not TOKEN heads`);
  return policy;
}

export async function setHeadPolicy(deps: Pick<AdaptDeps, "store">, head: string, policy: HeadPolicy): Promise<StoredPolicy> {
  if (!head) throw invalidArgument("head is empty");
  const record = await deps.store.getHead(head);
  if (!record) throw notFound(`head "${head}" does not exist`);
  checkPolicy(policy, record.type);
  if (record.latestVersion === 0) throw invalidArgument(`head "${head}" has no version yet: commit an Adapt stream first (its config is what continuous learning continues with)`);
  return deps.store.setPolicy(head, policy);
}

export async function headPolicy(deps: Pick<AdaptDeps, "store">, head: string): Promise<StoredPolicy | undefined> {
  return deps.store.getPolicy(head);
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
