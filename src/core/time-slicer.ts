import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Long main-thread work (replaying a head's log, hashing thousands of texts) in slices: `pause()` lets one
 * turn of the event loop run once `sliceMs` of work has passed since the last turn, so gRPC calls and
 * finished inference batches are not held up behind it.
 */
export class TimeSlicer {
  private since = performance.now();

  constructor(private readonly sliceMs = 5) {}

  async pause(): Promise<void> {
    if (performance.now() - this.since < this.sliceMs) return;
    await nextTurn();
    this.since = performance.now();
  }
}
