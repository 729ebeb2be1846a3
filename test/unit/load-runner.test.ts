import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration, withDuration, type Scenario } from "../../load-tests/lib/scenarios.js";
import { arrivalSchedule } from "../../load-tests/runner/executors.js";
import { checkThresholds, WorkloadStats } from "../../load-tests/runner/stats.js";

describe("load runner", () => {
  it("parses k6 durations", () => {
    assert.equal(parseDuration("30s"), 30);
    assert.equal(parseDuration("2m"), 120);
    assert.equal(parseDuration("1m30s"), 90);
    assert.equal(parseDuration("500ms"), 0.5);
    assert.throws(() => parseDuration("30"), /bad duration "30"/);
  });

  it("schedules a constant rate evenly and a ramp by its integral", () => {
    const constant = arrivalSchedule({ call: "embed", executor: "constant-arrival-rate", rate: 20, duration: "3s" });
    assert.equal(constant.length, 60);
    const gaps = constant.slice(1).map((t, i) => t - constant[i]);
    assert.ok(gaps.every((g) => Math.abs(g - 0.05) < 0.0015), "one call every 50 ms");
    // 0 → 100/s over 10 s: 500 arrivals, three times as many in the second half as in the first.
    const ramp = arrivalSchedule({ call: "embed", executor: "ramping-arrival-rate", startRate: 0, stages: [{ target: 100, duration: "10s" }] });
    assert.ok(Math.abs(ramp.length - 500) <= 1, String(ramp.length));
    const firstHalf = ramp.filter((t) => t < 5).length;
    assert.ok(Math.abs((ramp.length - firstHalf) / firstHalf - 3) < 0.05);
    // timeUnit: 60 per minute is 1 per second.
    assert.equal(arrivalSchedule({ call: "embed", executor: "constant-arrival-rate", rate: 60, timeUnit: "1m", duration: "5s" }).length, 5);
  });

  it("shortens every workload with --duration, ramps in proportion", () => {
    const scenario: Scenario = {
      description: "",
      workloads: {
        a: { call: "embed", executor: "ramping-arrival-rate", stages: [{ target: 10, duration: "20s" }, { target: 10, duration: "40s" }] },
        b: { call: "adapt", executor: "constant-vus", vus: 1, duration: "1m" },
      },
    };
    const short = withDuration(scenario, 6);
    assert.deepEqual(short.workloads.a.stages, [{ target: 10, duration: "2000ms" }, { target: 10, duration: "4000ms" }]);
    assert.equal(short.workloads.b.duration, "6000ms");
  });

  it("reports percentiles, errors by status, and the knee of a ramp", () => {
    const stats = new WorkloadStats("embed", 1);
    for (let s = 0; s < 5; s++) {
      const offered = (s + 1) * 10;
      const answered = s < 3 ? offered : offered / 2; // falls behind from the 4th second
      for (let i = 0; i < offered; i++) stats.offered(s + i / offered);
      for (let i = 0; i < answered; i++) stats.record(s < 2 ? 10 : 300, "OK", s + i / offered);
    }
    stats.record(5, "UNAVAILABLE", 0);
    const summary = stats.summary(5, 100);
    assert.equal(summary.codes.OK, 10 + 20 + 30 + 20 + 25);
    assert.equal(summary.codes.UNAVAILABLE, 1);
    assert.equal(summary.kneePerS, 20, "the 3rd second kept up but its p95 passed 100 ms");
    assert.equal(stats.summary(5, 1000).kneePerS, 30);
    const [p95, errors] = checkThresholds(summary, { p95Ms: 400, maxErrorRate: 0.001 });
    assert.equal(p95.passed, true);
    assert.equal(errors.passed, false);
    assert.ok(summary.p50Ms >= 290 && summary.p50Ms <= 310);
  });
});
