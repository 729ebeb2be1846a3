import { hostname } from "node:os";

/** This replica's name in lease messages: the host (the pod's name under Kubernetes) and the pid. */
export function replicaId(): string {
  return `${hostname()}/${process.pid}`;
}
