// What a head is bound to. Heads read pooled embeddings; variants of one model (fp32, int8, fp16) give
// nearly the same embeddings, so a head trained on one may serve on another, but only when that has been
// measured. The identity is the sha256 of the fp32 file the variant stands for:
// - an fp32 file: its own hash (what heads were bound to before variants existed);
// - a file `bertd quantize` wrote: the source_sha256 in its metadata, when the fidelity it recorded
//   (pooled cosine on the built-in sample, batched and unbatched) meets FIDELITY_BAR;
// - another variant (a published model_quantized.onnx, model_fp16.onnx, …) beside an fp32 file: that
//   file's hash, when the same fidelity check, run at startup, meets the bar;
// - anything else (no fp32 file, below the bar, no fidelity recorded): the served file's own hash,
//   so heads trained elsewhere are not served on it.

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { FIDELITY_BAR, FIDELITY_METADATA_KEY, type FidelityReport, measureFidelity, passesFidelityBar } from "../backends/onnx/fidelity.js";
import { modelFileCandidates } from "../backends/onnx/model-files.js";
import { readModelView } from "../../tools/onnx/model-proto.js";
import { QUANTIZATION_METADATA_KEY } from "../../tools/onnx/quantize.js";
import { hashModelFile, type ModelDirectory } from "./model-directory.js";
import { PoolingMode } from "./pooling.js";

export interface HeadIdentity {
  /** The sha256 heads are bound to. */
  readonly hash: string;
  /** Why, in words, for the startup log and docs. */
  readonly reason: string;
  /** The fidelity that let heads cross from fp32, when they do. */
  readonly fidelity?: FidelityReport;
}

function metadataOf(path: string): ReadonlyMap<string, string> {
  if (statSync(path).size > 2 ** 31) return new Map();
  try {
    return readModelView(readFileSync(path), dirname(path)).metadata;
  } catch {
    return new Map();
  }
}

function parse<T>(json: string | undefined): T | undefined {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json) as T;
  } catch {
    return undefined;
  }
}

export async function headIdentity(model: ModelDirectory, servedHash: string): Promise<HeadIdentity> {
  const own = (reason: string): HeadIdentity => ({ hash: servedHash, reason });
  if (model.weights === "fp32") return own("the served fp32 file's sha256");
  const metadata = metadataOf(model.modelPath);
  const quantization = parse<{ source_sha256?: string; source_file?: string }>(metadata.get(QUANTIZATION_METADATA_KEY));
  if (quantization?.source_sha256) {
    const fidelity = parse<FidelityReport>(metadata.get(FIDELITY_METADATA_KEY));
    if (!fidelity) return own(`the served file's own sha256: it records no fidelity check (quantized with --no-check)`);
    if (!passesFidelityBar(fidelity)) return own(`the served file's own sha256: its recorded fidelity is below the bar (mean ≥ ${FIDELITY_BAR.meanCosine}, min ≥ ${FIDELITY_BAR.minCosine})`);
    return { hash: quantization.source_sha256, reason: `the sha256 of the fp32 file it was quantized from (${quantization.source_file ?? "?"}); fidelity recorded by bertd quantize`, fidelity };
  }
  const sibling = modelFileCandidates("fp32", "cpu").map((name) => join(model.dir, name)).find((path) => existsSync(path));
  if (!sibling) return own("the served file's own sha256: the directory has no fp32 file to compare with");
  const fidelity = await measureFidelity({
    modelDir: model.dir,
    reference: sibling,
    candidate: model.modelPath,
    pooling: model.sentenceTransformersPooling === PoolingMode.cls ? "cls" : "mean",
  });
  if (!passesFidelityBar(fidelity)) return own(`the served file's own sha256: measured fidelity against ${sibling} is below the bar`);
  return { hash: await hashModelFile(sibling), reason: `the sha256 of ${sibling}; fidelity measured at startup`, fidelity };
}
