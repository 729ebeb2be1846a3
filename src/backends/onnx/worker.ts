import { parentPort, workerData } from "node:worker_threads";
import { LOGITS, gatherStates, poolBatch } from "../../core/pooling.js";
import type { Batch } from "../batch-runner.js";
import { planRuns, runPlanned, type RunReadouts } from "./batch-runs.js";
import { packInputs } from "./input-packing.js";
import { asFloat32, hiddenSizeOf, tokenStateOutputs } from "./outputs.js";
import type { BatchJob, FromWorker, WorkerInit } from "./protocol.js";
import { openSession } from "./session.js";
import { takeWorkerExit } from "./worker-faults.js";

const port = parentPort!;
const init = workerData as WorkerInit;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

try {
  const { session, provider, fallbackReason } = await openSession(init);
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
    const outputs = await session.run(feeds, [...fetches, ...(wantsLogits ? ["logits"] : []), ...(wantsStates ? lowerLayers : [])]);
    const inferred = performance.now();
    const pooled = new Float32Array(rows * hiddenSize);
    if (hasHidden) {
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

  post({ type: "ready", provider, fallbackReason, inputNames: session.inputNames, outputNames: session.outputNames, hiddenSize, tokenStateOutputs: stateOutputs });
} catch (error) {
  post({ type: "failed", message: (error as Error).message });
}
