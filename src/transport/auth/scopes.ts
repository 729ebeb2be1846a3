import type { Scope } from "./key-store.js";

/** Services anyone may call: probes and tooling need no key. */
const OPEN_SERVICES = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

/** Methods whose scope differs from their service's. */
const METHOD_SCOPES: Record<string, Scope> = {
  "bertd.v1.Heads/Adapt": "adapt",
  // Feedback teaches heads, like Adapt; a policy is part of how a head is taught.
  "bertd.v1.Heads/Feedback": "adapt",
  "bertd.v1.Heads/FeedbackStream": "adapt",
  "bertd.v1.Heads/SetHeadPolicy": "adapt",
  // Reads: a client that classifies needs to see which heads and versions exist.
  "bertd.v1.Heads/ListHeads": "infer",
  "bertd.v1.Heads/GetHead": "infer",
};

/** Every other method of a service (a new Encoder RPC is inference). */
const SERVICE_SCOPES: Record<string, Scope> = {
  "bertd.v1.Encoder": "infer",
  "bertd.v1.Heads": "admin",
};

/** The scope a call to `path` ("/package.Service/Method") needs; undefined when it needs no key. */
export function scopeOf(path: string): Scope | undefined {
  const name = path.startsWith("/") ? path.slice(1) : path;
  const service = name.slice(0, name.lastIndexOf("/"));
  if (OPEN_SERVICES.has(service)) return undefined;
  // Unknown services are closed by default.
  return METHOD_SCOPES[name] ?? SERVICE_SCOPES[service] ?? "admin";
}
