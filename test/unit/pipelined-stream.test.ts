import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import { Metadata, status, type ServerDuplexStream } from "@grpc/grpc-js";
import { invalidArgument } from "../../src/core/errors.js";
import { createLogger } from "../../src/telemetry/logger.js";
import type { CallObserver } from "../../src/telemetry/call-observer.js";
import { CallLogger } from "../../src/transport/calls.js";
import { PipelinedStream } from "../../src/transport/pipelined-stream.js";

/** The parts of a grpc-js server duplex stream that PipelinedStream uses, recording what it does. */
class FakeCall extends EventEmitter {
  readonly metadata = new Metadata();
  paused = false;
  readonly written: string[] = [];
  ends = 0;
  failure: { code: number; details: string } | undefined;

  constructor() {
    super();
    // What grpc-js does with an "error" event on a server stream: the call's final status.
    this.on("error", (error: { code: number; details: string }) => (this.failure = { code: error.code, details: error.details }));
  }
  getDeadline(): number {
    return Infinity;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  write(message: string): boolean {
    this.written.push(message);
    return true;
  }
  end(): void {
    this.ends++;
  }
}

function open(pauseAt: number, resumeBelow: number) {
  const call = new FakeCall();
  const finished: { method: string; code: string }[] = [];
  const observer: CallObserver = { finished: (method, code) => finished.push({ method, code }) };
  const calls = new CallLogger(createLogger("silent", false), observer);
  const stream = new PipelinedStream(call as unknown as ServerDuplexStream<string, string>, calls, "/test.v1.Test/Stream", { pauseAt, resumeBelow });
  return { call, calls, finished, stream };
}

describe("PipelinedStream", () => {
  test("messages come out in order; next ends with the client's end", async () => {
    const { call, stream } = open(10, 10);
    call.emit("data", "a");
    call.emit("data", "b");
    assert.equal(stream.queued, 2);
    const later = stream.next().then(async (first) => [first, await stream.next(), await stream.next(), await stream.next()]);
    setImmediate(() => {
      call.emit("data", "c");
      call.emit("end");
    });
    assert.deepEqual(await later, ["a", "b", "c", undefined]);
  });

  test("reading pauses at pauseAt held messages and resumes once fewer than resumeBelow are held", async () => {
    const { call, stream } = open(3, 2);
    for (const m of ["a", "b"]) call.emit("data", m);
    assert.equal(call.paused, false);
    call.emit("data", "c");
    assert.equal(call.paused, true, "three held");
    for (let i = 0; i < 3; i++) await stream.next();
    assert.equal(call.paused, true, "taken is not released");
    stream.release();
    assert.equal(call.paused, true, "two still held");
    stream.release();
    assert.equal(call.paused, false, "one held");
  });

  test("settled waits for every received message to be released", async () => {
    const { call, stream } = open(10, 10);
    call.emit("data", "a");
    call.emit("data", "b");
    let settled = false;
    const done = stream.settled().then(() => (settled = true));
    await stream.next();
    stream.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false);
    await stream.next();
    stream.release();
    await done;
    assert.equal(settled, true);
  });

  test("a stop condition ends a wait; notify makes next look at it again", async () => {
    const { stream } = open(10, 10);
    let stop = false;
    const waiting = stream.next(() => stop);
    stop = true;
    stream.notify();
    assert.equal(await waiting, undefined);
  });

  test("succeed logs once and ends once; fail after it does nothing", async () => {
    const { call, calls, finished, stream } = open(10, 10);
    stream.write("x");
    stream.succeed({ requests: 1 });
    stream.succeed();
    stream.fail(invalidArgument("late"));
    assert.deepEqual(finished, [{ method: "/test.v1.Test/Stream", code: "OK" }]);
    assert.equal(call.ends, 1);
    assert.deepEqual(call.written, ["x"]);
    assert.equal(call.failure, undefined);
    await calls.idle();
  });

  test("fail writes its last message and ends the call with the error's status", async () => {
    const { call, calls, finished, stream } = open(10, 10);
    stream.fail(invalidArgument("bad request"), {}, "last");
    assert.deepEqual(call.written, ["last"]);
    assert.deepEqual(call.failure, { code: status.INVALID_ARGUMENT, details: "bad request" });
    assert.equal(call.ends, 0);
    assert.deepEqual(finished, [{ method: "/test.v1.Test/Stream", code: "INVALID_ARGUMENT" }]);
    await calls.idle();
  });

  test("once cancelled, next gives nothing, writes are dropped and failing only logs", async () => {
    const { call, finished, stream } = open(10, 10);
    call.emit("data", "a");
    call.emit("cancelled");
    assert.equal(stream.cancelled, true);
    assert.equal(await stream.next(), undefined);
    stream.write("dropped");
    stream.fail(new Error("gone"), {}, "dropped too");
    assert.deepEqual(call.written, []);
    assert.equal(call.failure, undefined);
    assert.deepEqual(finished, [{ method: "/test.v1.Test/Stream", code: "INTERNAL" }]);
  });
});
