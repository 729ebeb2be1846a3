// How close a quantized graph stays to the fp32 one: cosine similarity of pooled embeddings over a
// built-in sample, run one text at a time and as one padded batch (dynamic activation scales depend on
// the batch), and top-1 agreement of the model's own classifier when it has one.

import * as ort from "onnxruntime-node";
import { BertTokenizer } from "../../core/tokenizer/index.js";
import { FIDELITY_SAMPLE } from "./fidelity-sample.js";

export const FIDELITY_BAR = { meanCosine: 0.99, minCosine: 0.97 } as const;

/** The model file's metadata_props key holding the FidelityReport `bertd quantize` measured. */
export const FIDELITY_METADATA_KEY = "bertd.fidelity";

export interface CosineStats {
  readonly mean: number;
  readonly min: number;
}

export interface FidelityReport {
  readonly texts: number;
  readonly unbatched: CosineStats;
  readonly batched: CosineStats;
  /** Top-1 agreement of the graph's `logits` output, when it has one. */
  readonly classifierAgreement?: number;
  readonly belowBar: boolean;
}

/** Both runs (batched and one at a time) meet the bar. */
export function passesFidelityBar(report: Pick<FidelityReport, "unbatched" | "batched">): boolean {
  return [report.unbatched, report.batched].every((s) => s.mean >= FIDELITY_BAR.meanCosine && s.min >= FIDELITY_BAR.minCosine);
}

interface Run {
  readonly pooled: Float32Array[];
  readonly top1?: number[];
}

type Pooling = "mean" | "cls";

async function runGraph(session: ort.InferenceSession, batches: Int32Array[][], pooling: Pooling): Promise<Run> {
  const pooled: Float32Array[] = [];
  const top1: number[] = [];
  const hasLogits = session.outputNames.includes("logits");
  for (const batch of batches) {
    const length = Math.max(...batch.map((ids) => ids.length));
    const n = batch.length;
    const ids = new BigInt64Array(n * length);
    const mask = new BigInt64Array(n * length);
    batch.forEach((seq, b) => seq.forEach((id, t) => ((ids[b * length + t] = BigInt(id)), (mask[b * length + t] = 1n))));
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      if (name === "input_ids") feeds[name] = new ort.Tensor("int64", ids, [n, length]);
      else if (name === "attention_mask") feeds[name] = new ort.Tensor("int64", mask, [n, length]);
      else if (name === "token_type_ids") feeds[name] = new ort.Tensor("int64", new BigInt64Array(n * length), [n, length]);
      else throw new Error(`the graph has an input ${name} the fidelity check does not know how to fill`);
    }
    const out = await session.run(feeds, ["last_hidden_state", ...(hasLogits ? ["logits"] : [])]);
    const hidden = out.last_hidden_state.data as Float32Array;
    const width = hidden.length / (n * length);
    for (let b = 0; b < n; b++) {
      const v = new Float32Array(width);
      const count = pooling === "cls" ? 1 : batch[b].length;
      for (let t = 0; t < count; t++) for (let d = 0; d < width; d++) v[d] += hidden[(b * length + t) * width + d] / count;
      pooled.push(v);
    }
    if (hasLogits) {
      const logits = out.logits.data as Float32Array;
      const labels = logits.length / n;
      for (let b = 0; b < n; b++) {
        let best = 0;
        for (let l = 1; l < labels; l++) if (logits[b * labels + l] > logits[b * labels + best]) best = l;
        top1.push(best);
      }
    }
  }
  return { pooled, top1: hasLogits ? top1 : undefined };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / Math.sqrt(na * nb);
}

function stats(reference: readonly Float32Array[], candidate: readonly Float32Array[]): CosineStats {
  const cosines = reference.map((r, i) => cosine(r, candidate[i]));
  return { mean: cosines.reduce((a, b) => a + b, 0) / cosines.length, min: Math.min(...cosines) };
}

export interface FidelityOptions {
  readonly modelDir: string;
  readonly reference: string | Uint8Array;
  readonly candidate: string | Uint8Array;
  readonly pooling?: Pooling;
  readonly texts?: readonly string[];
  readonly maxLength?: number;
}

/** Runs both graphs on the sample (one text at a time, then in batches of 16) and compares. */
export async function measureFidelity(options: FidelityOptions): Promise<FidelityReport> {
  const tokenizer = BertTokenizer.fromDirectory(options.modelDir);
  const maxLength = options.maxLength ?? 128;
  const encoded = (options.texts ?? FIDELITY_SAMPLE).map((text) => {
    const ids = tokenizer.encode(text).ids;
    return ids.length > maxLength ? Int32Array.from([...ids.subarray(0, maxLength - 1), ids[ids.length - 1]]) : ids;
  });
  const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, graphOptimizationLevel: "all", executionProviders: ["cpu"] };
  const open = (model: string | Uint8Array): Promise<ort.InferenceSession> =>
    typeof model === "string" ? ort.InferenceSession.create(model, sessionOptions) : ort.InferenceSession.create(model, sessionOptions);
  const [reference, candidate] = await Promise.all([open(options.reference), open(options.candidate)]);
  try {
    const single = encoded.map((ids) => [ids]);
    const batched: Int32Array[][] = [];
    for (let i = 0; i < encoded.length; i += 16) batched.push(encoded.slice(i, i + 16));
    const pooling = options.pooling ?? "mean";
    const ref = await runGraph(reference, batched, pooling);
    const candSingle = await runGraph(candidate, single, pooling);
    const candBatched = await runGraph(candidate, batched, pooling);
    const unbatched = stats(ref.pooled, candSingle.pooled);
    const batchedStats = stats(ref.pooled, candBatched.pooled);
    let classifierAgreement: number | undefined;
    if (ref.top1 && candBatched.top1 && candSingle.top1) {
      const agree = ref.top1.filter((label, i) => label === candSingle.top1![i] && label === candBatched.top1![i]).length;
      classifierAgreement = agree / ref.top1.length;
    }
    const report = { texts: encoded.length, unbatched, batched: batchedStats, classifierAgreement };
    return { ...report, belowBar: !passesFidelityBar(report) };
  } finally {
    await Promise.all([reference.release(), candidate.release()]);
  }
}
