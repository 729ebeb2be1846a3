import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, markdownOptionTable, parseDevice } from "../../src/config.js";
import { ROOT } from "../helpers/server-process.js";

describe("config", () => {
  it("takes defaults, then environment variables, then flags", () => {
    assert.equal(loadConfig([], {}).port, 50051);
    assert.equal(loadConfig([], { BERTD_PORT: "7000" }).port, 7000);
    assert.equal(loadConfig(["--port", "8000"], { BERTD_PORT: "7000" }).port, 8000);
    assert.equal(loadConfig(["--port=9000"], {}).port, 9000);
    assert.equal(loadConfig(["--no-warmup"], {}).warmup, false);
    assert.equal(loadConfig(["--log-pretty"], {}).logPretty, true);
  });

  it("rejects bad values naming the option", () => {
    assert.throws(() => loadConfig(["--port", "abc"], {}), (e: Error) => e instanceof ConfigError && /--port \(BERTD_PORT\) must be an integer/.test(e.message));
    assert.throws(() => loadConfig(["--workers", "0"], {}), /--workers .* must be ≥ 1/);
    assert.throws(() => loadConfig(["--truncation", "middle"], {}), /--truncation .* must be one of right, left, none/);
    assert.throws(() => loadConfig(["--bogus"], {}), /unknown option --bogus/);
    assert.throws(() => loadConfig(["--device", "tpu"], {}), /--device must be cpu, cuda, cuda:N or auto/);
    assert.throws(() => loadConfig(["--store", "mysql://u:secret@db/x"], {}), (e: Error) => /--store \(BERTD_STORE\) must be sqlite or a postgres:\/\/ URL; got "mysql:\/\/u:\*\*\*@db\/x"/.test(e.message));
    assert.equal(loadConfig([], { BERTD_STORE: "postgresql://bertd@db:5432/heads" }).store, "postgresql://bertd@db:5432/heads");
    assert.equal(loadConfig([], {}).store, "sqlite");
  });

  it("parses devices", () => {
    assert.deepEqual(parseDevice("cpu"), { kind: "cpu" });
    assert.deepEqual(parseDevice("cuda"), { kind: "cuda", deviceId: 0 });
    assert.deepEqual(parseDevice("cuda:3"), { kind: "cuda", deviceId: 3 });
    assert.deepEqual(parseDevice("auto"), { kind: "auto", deviceId: 0 });
  });

  it("on CUDA, batch and queue budgets default larger unless set", () => {
    const cpu = loadConfig([], {});
    const cuda = loadConfig(["--device", "cuda:1"], {});
    assert.deepEqual([cpu.maxBatchTokens, cpu.maxBatchSize, cpu.maxQueueTokens], [8192, 128, 262144]);
    assert.deepEqual([cuda.maxBatchTokens, cuda.maxBatchSize, cuda.maxQueueTokens], [32768, 256, 1048576]);
    assert.equal(loadConfig(["--device", "cuda", "--max-batch-tokens", "4096"], {}).maxBatchTokens, 4096);
    assert.equal(loadConfig([], { BERTD_DEVICE: "cuda", BERTD_MAX_BATCH_SIZE: "64" }).maxBatchSize, 64);
    assert.equal(loadConfig(["--device", "auto"], {}).maxBatchTokens, 8192);
    assert.throws(() => loadConfig(["--precision", "int4"], {}), /--precision .* must be one of auto, fp32, fp16, int8/);
  });

  it("is documented in docs/options.md, option for option", () => {
    const options = readFileSync(`${ROOT}docs/options.md`, "utf8");
    assert.ok(options.includes(markdownOptionTable()), "docs/options.md's option table matches src/config.ts (regenerate it from markdownOptionTable())");
  });
});
