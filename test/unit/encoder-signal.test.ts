import assert from "node:assert/strict";
import { getEventListeners, setMaxListeners } from "node:events";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config.js";
import { RANDOM_MODEL_DIR } from "../helpers/server-process.js";
import { EncoderModel } from "../../src/core/encoder.js";
import { readModelDirectory } from "../../src/core/model-directory.js";
import { ServiceError } from "../../src/core/errors.js";
import { PoolingMode } from "../../src/core/pooling.js";
import { createLogger } from "../../src/telemetry/logger.js";

// An Adapt stream passes one signal to every inference call it makes, for as long as it runs: a
// listener left behind per call kept each settled request (and its batch's output buffers) alive.
describe("inference calls sharing one long-lived signal", () => {
  let encoder: EncoderModel;
  before(async () => {
    const config = loadConfig([]);
    encoder = await EncoderModel.open({
      model: readModelDirectory(RANDOM_MODEL_DIR),
      device: { kind: "cpu" },
      workers: 1,
      intraOpThreads: 1,
      spinning: false,
      graphPooling: false,
      limits: config,
      maxClientBatchSize: config.maxClientBatchSize,
      maxInputChars: config.maxInputChars,
      maxSequenceLength: 0,
      defaultTruncation: "right",
      log: createLogger("silent", false),
    });
  });
  after(() => encoder.close());

  it("leave no listener on the signal once they have answered", async () => {
    const controller = new AbortController();
    for (let i = 0; i < 25; i++) {
      const { ids } = encoder.tokenizeInputs([`call ${i} of a long stream`, "a second row"], "right");
      const vectors = await encoder.pooled(ids, PoolingMode.mean, { priority: "background", signal: controller.signal });
      assert.equal(vectors.length, 2);
    }
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("still cancel a call that is waiting when the signal aborts, and leave no listener behind", async () => {
    const controller = new AbortController();
    setMaxListeners(30, controller.signal);
    const calls = Array.from({ length: 20 }, (_, i) => {
      const { ids } = encoder.tokenizeInputs([`queued call ${i} `.repeat(20)], "right");
      return encoder.pooled(ids, PoolingMode.mean, { priority: "background", signal: controller.signal }).then(
        () => "ok",
        (error: ServiceError) => error.kind,
      );
    });
    controller.abort();
    const outcomes = await Promise.all(calls);
    assert.ok(outcomes.includes("cancelled"), JSON.stringify(outcomes));
    assert.ok(outcomes.every((o) => o === "ok" || o === "cancelled"), JSON.stringify(outcomes));
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });
});
