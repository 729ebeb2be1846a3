import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import type { Tensor } from "onnxruntime-node";
import { LOGITS, PoolingMode, gatherStates, poolBatch } from "../../core/pooling.js";
import type { Batch } from "../batch-runner.js";
import { planRuns, runPlanned, type RunReadouts } from "./batch-runs.js";
import { packInputs } from "./input-packing.js";
import { asFloat32, hiddenSizeOf, tokenStateOutputs } from "./outputs.js";
import { POOLED_OUTPUTS, withPooledOutputs } from "./pooled-outputs.js";
import type { BatchJob, FromWorker, WorkerInit } from "./protocol.js";
import { openSession } from "./session.js";
import { takeWorkerExit } from "./worker-faults.js";

const port = parentPort!;
const init = workerData as WorkerInit;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * The session on the model with pooling outputs when asked for and possible; else on the file as it is,
 * and why not. A rewrite ONNX Runtime refuses falls back to the file.
 */
async function open(): Promise<{ opened: Awaited<ReturnType<typeof openSession>>; graphPooling: boolean; reason?: string }> {
  if (!init.graphPooling) return { opened: await openSession(init), graphPooling: false };
  let reason: string;
  try {
    const pooled = withPooledOutputs(readFileSync(init.modelPath), dirname(init.modelPath));
    if ("bytes" in pooled) return { opened: await openSession({ ...init, modelBytes: pooled.bytes }), graphPooling: true };
    reason = pooled.reason;
  } catch (error) {
    reason = `the rewritten graph failed: ${(error as Error).message}`;
  }
  return { opened: await openSession(init), graphPooling: false, reason };
}

try {
  const { opened, graphPooling, reason: graphPoolingReason } = await open();
  const { session, provider, fallbackReason } = opened;
  const hasLogits = session.outputNames.includes("logits");
  // A classifier-only export (a sequence-classification export with only `logits`) serves LOGITS rows alone.
  const hasHidden = session.outputNames.includes("last_hidden_state") || !hasLogits;
  const hiddenSize = hasHidden ? hiddenSizeOf(session) : 0;
  const hasTokenTypes = session.inputNames.includes("token_type_ids");
  const hasPooler = session.outputNames.includes("pooler_output");
  const fetches = !hasHidden ? [] : hasPooler ? ["last_hidden_state", "pooler_output"] : ["last_hidden_state"];
  const stateOutputs = hasHidden ? tokenStateOutputs(session.outputNames) : [];
  const lowerLayers = stateOutputs.slice(1);

  port.on("message", (job: BatchJob) => {
    void run(job).catch((error: unknown) => post({ type: "error", id: job.id, message: (error as Error).message }));
  });

  async function run(job: BatchJob): Promise<void> {
    if (takeWorkerExit(init.faults, job.ids)) process.exit(70);
    if (!hasHidden && job.modes.some((mode) => mode !== LOGITS)) {
      throw new Error("the model is a classifier-only export (no last_hidden_state): only its logits can be read");
    }
    const done = await runPlanned(job, planRuns(job.lengths, provider === "cpu"), infer);
    const transfer = [done.pooled.buffer, ...(done.logits ? [done.logits.buffer] : []), ...(done.states ? [done.states.buffer] : [])] as ArrayBuffer[];
    post({ type: "done", id: job.id, ...done }, transfer);
  }

  async function infer(batch: Batch): Promise<RunReadouts> {
    const rows = batch.lengths.length;
    const { feeds, sequence } = packInputs(batch.ids, batch.lengths, hasTokenTypes, batch.typeIds);
    const started = performance.now();
    const wantsLogits = hasLogits && batch.modes.includes(LOGITS);
    const wantsStates = batch.positions.length > 0;
    // Mean and CLS rows come pooled from the graph; max rows and token states need every token's state.
    const pooledByGraph = graphPooling && !wantsStates && !batch.modes.includes(PoolingMode.max);
    const rowFetches = pooledByGraph ? graphFetches(batch.modes) : fetches;
    const names = [...rowFetches, ...(wantsLogits ? ["logits"] : []), ...(wantsStates ? lowerLayers : [])];
    // Rows that read nothing (a Tag of an empty text: token states at no position) need no run.
    const outputs = names.length > 0 ? await session.run(feeds, names) : {};
    const inferred = performance.now();
    const pooled = new Float32Array(rows * hiddenSize);
    if (pooledByGraph) copyPooledRows(outputs, batch.modes, pooled);
    else if (hasHidden) {
      const pooler = hasPooler ? asFloat32(outputs.pooler_output) : undefined;
      poolBatch(asFloat32(outputs.last_hidden_state), pooler, batch.lengths, batch.modes, sequence, hiddenSize, pooled);
    }
    const logits = wantsLogits ? asFloat32(outputs.logits).slice() : undefined;
    let states: Float32Array | undefined;
    if (wantsStates) {
      states = new Float32Array(batch.positions.length * hiddenSize * stateOutputs.length);
      const layers = stateOutputs.map((name) => asFloat32(outputs[name]));
      gatherStates(layers, batch.positions, batch.positionCounts, sequence, hiddenSize, states);
    }
    for (const tensor of Object.values(outputs)) tensor.dispose();
    return {
      pooled,
      hiddenSize,
      logits,
      labelCount: logits ? logits.length / rows : 0,
      states,
      inferenceMs: inferred - started,
      poolingMs: performance.now() - inferred,
      paddedTokens: rows * sequence,
    };
  }

  /** The pooled outputs a batch of these modes reads. */
  function graphFetches(modes: Uint8Array): string[] {
    const names: string[] = [];
    if (modes.includes(PoolingMode.mean)) names.push(POOLED_OUTPUTS.mean);
    if (modes.includes(PoolingMode.cls)) names.push(POOLED_OUTPUTS.cls);
    if (modes.includes(PoolingMode.pooler) && hasPooler) names.push("pooler_output");
    return names;
  }

  /** Each mean, CLS or pooler row from the output that pooled it. */
  function copyPooledRows(outputs: Record<string, Tensor>, modes: Uint8Array, pooled: Float32Array): void {
    const sources = new Map<number, Float32Array>();
    if (outputs[POOLED_OUTPUTS.mean]) sources.set(PoolingMode.mean, asFloat32(outputs[POOLED_OUTPUTS.mean]));
    if (outputs[POOLED_OUTPUTS.cls]) sources.set(PoolingMode.cls, asFloat32(outputs[POOLED_OUTPUTS.cls]));
    if (outputs.pooler_output) sources.set(PoolingMode.pooler, asFloat32(outputs.pooler_output));
    for (let b = 0; b < modes.length; b++) {
      const source = sources.get(modes[b]);
      if (modes[b] === PoolingMode.pooler && !source) throw new Error("the model has no pooler_output");
      if (source) pooled.set(source.subarray(b * hiddenSize, (b + 1) * hiddenSize), b * hiddenSize);
    }
  }

  post({
    type: "ready",
    provider,
    fallbackReason,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    hiddenSize,
    tokenStateOutputs: stateOutputs,
    graphPooling,
    // A classifier-only export pools nothing: no reason to report.
    graphPoolingReason: hasHidden ? graphPoolingReason : undefined,
  });
} catch (error) {
  post({ type: "failed", message: (error as Error).message });
}
