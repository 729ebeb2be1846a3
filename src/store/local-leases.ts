import { aborted, cancelled, invalidArgument } from "../core/errors.js";
import type { HeadLease, LeaseOptions } from "./head-store.js";
import { replicaId } from "./replica-id.js";

/**
 * Head leases inside one process, for the embedded store: one writer per head, the same interface
 * as PostgreSQL's leases. A process that dies loses its leases with it, so they never expire.
 */
export class LocalLeases {
  private readonly held = new Map<string, { epoch: number; released: Promise<void> }>();
  private epoch = 0;

  async acquire(head: string, options: LeaseOptions): Promise<HeadLease> {
    let waiting = false;
    for (;;) {
      const current = this.held.get(head);
      if (!current) break;
      if (!options.wait) throw leaseHeld(head, replicaId(), current.epoch);
      if (!waiting) {
        waiting = true;
        options.onWait?.(replicaId(), current.epoch);
      }
      await untilReleasedOrAborted(current.released, options.signal);
      if (options.signal?.aborted) throw cancelled(`gave up waiting for the lease on head "${head}"`);
    }
    const epoch = ++this.epoch;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held.set(head, { epoch, released });
    const lost = new AbortController();
    return {
      head,
      holder: replicaId(),
      epoch,
      lost: lost.signal,
      release: async () => {
        if (this.held.get(head)?.epoch === epoch) this.held.delete(head);
        release();
      },
    };
  }

  /** Throws ABORTED unless the lease is still the head's current one. */
  check(lease: HeadLease): void {
    if (this.held.get(lease.head)?.epoch !== lease.epoch) {
      throw aborted(`the lease on head "${lease.head}" (epoch ${lease.epoch}) is no longer held: this stream can no longer write`);
    }
  }

  isHeld(head: string): boolean {
    return this.held.has(head);
  }
}

/** The ABORTED every store gives a second writer, naming the one that holds the head. */
export function leaseHeld(head: string, holder: string, epoch: number, expiresInMs?: number): Error {
  const expiry = expiresInMs === undefined ? "" : `, expires in ${(expiresInMs / 1000).toFixed(1)} s unless renewed`;
  return aborted(
    `head "${head}" is being adapted by another stream on replica ${holder} (lease epoch ${epoch}${expiry}): one writer per head; retry when it ends, or set config.wait_for_lease`,
  );
}

function untilReleasedOrAborted(released: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return released;
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    void released.then(done);
  });
}

/** DeleteHead while a writer holds the head. */
export function headBeingAdapted(head: string): Error {
  return invalidArgument(`head "${head}" is being adapted: end its Adapt stream first`);
}
