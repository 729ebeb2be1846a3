import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

/** Waits until the probe holds (log lines reach a test through the server's stdout a moment after the response). */
export async function eventually(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting until ${what}`);
}
