import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { modelFileCandidates } from "../../backends/onnx/model-files.js";
import { PoolingMode } from "../../core/pooling.js";
import { readModelDirectory } from "../../core/model-directory.js";
import { metadataField, quantizeFile, QuantizeError } from "../../../tools/onnx/quantize.js";
import { FIDELITY_BAR, FIDELITY_METADATA_KEY, type FidelityReport, measureFidelity } from "../../backends/onnx/fidelity.js";
import { type Command, UsageError } from "../command.js";

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const f5 = (n: number): string => n.toFixed(5);

export function fidelityLines(report: FidelityReport): string[] {
  const lines = [
    `fidelity on ${report.texts} built-in texts, pooled embeddings against fp32 (cosine):`,
    `  one text at a time: mean ${f5(report.unbatched.mean)}, min ${f5(report.unbatched.min)}`,
    `  batches of 16:      mean ${f5(report.batched.mean)}, min ${f5(report.batched.min)}`,
  ];
  if (report.classifierAgreement !== undefined) lines.push(`  classifier top-1 agreement: ${(100 * report.classifierAgreement).toFixed(1)}%`);
  return lines;
}

export const quantize: Command = {
  name: "quantize",
  brief: "write a dynamic int8 copy of a model (model_quantized.onnx) and check its fidelity",
  summary:
    "Rewrites every MatMul with a constant 2-D weight of DIR's fp32 model into dynamic int8 (uint8 activations quantized at run time, " +
    "int8 weights with one scale per output column) and writes DIR/model_quantized.onnx, which `bertd serve` then prefers on the CPU. " +
    `Then compares pooled embeddings with fp32 on a built-in sample, one text at a time and batched, and warns below mean cosine ${FIDELITY_BAR.meanCosine} or minimum ${FIDELITY_BAR.minCosine}.`,
  usage: "bertd quantize --model-dir DIR [options]",
  client: false,
  options: {
    "model-dir": { type: "string", help: "the model directory (its model.onnx or onnx/model.onnx is quantized)", value: "DIR" },
    "model-file": { type: "string", help: "quantize this file of DIR instead (relative to DIR)", value: "NAME" },
    out: { type: "string", help: "where to write (default: model_quantized.onnx beside the source file)", value: "FILE" },
    embeddings: { type: "boolean", help: "quantize the embedding tables too (int8 rows; smaller file, a little less fidelity)" },
    "weight-bits": { type: "string", help: "8 (default) or 7: 7-bit weights avoid 16-bit saturation in AVX2 u8×s8 kernels of CPUs without VNNI", value: "BITS" },
    "no-check": { type: "boolean", help: "skip the fidelity check (and record none in the file)" },
    quiet: { type: "boolean", help: "print only warnings and errors" },
  },
  examples: ["bertd quantize --model-dir models/default", "bertd quantize --model-dir ./all-MiniLM-L6-v2 --out /tmp/minilm-int8.onnx --weight-bits 7"],
  async run({ values }) {
    const dirValue = values["model-dir"];
    if (typeof dirValue !== "string" || dirValue === "") throw new UsageError("--model-dir DIR is required (see bertd quantize --help)");
    const bitsValue = values["weight-bits"] ?? "8";
    if (bitsValue !== "8" && bitsValue !== "7") throw new UsageError(`--weight-bits must be 8 or 7, not ${String(bitsValue)}`);
    const dir = resolve(dirValue);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new QuantizeError(`model directory ${dir} does not exist`);
    const sourceName = typeof values["model-file"] === "string" ? values["model-file"] : modelFileCandidates("fp32", "cpu").find((name) => existsSync(join(dir, name)));
    if (!sourceName) throw new QuantizeError(`${dir} has no fp32 model (${modelFileCandidates("fp32", "cpu").join(", ")}) to quantize`);
    const source = join(dir, sourceName);
    if (!existsSync(source)) throw new QuantizeError(`${source} does not exist`);
    const output = resolve(typeof values.out === "string" ? values.out : join(dirname(source), "model_quantized.onnx"));
    if (output === source) throw new QuantizeError(`--out ${output} is the source file itself`);
    const log = (line: string): void => {
      if (!values.quiet) process.stdout.write(`${line}\n`);
    };

    const bytes = readFileSync(source);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const model = readModelDirectory(dir, { modelFile: sourceName });
    const pooling = model.sentenceTransformersPooling === PoolingMode.cls ? "cls" : "mean";
    let report: FidelityReport | undefined;
    const started = performance.now();
    const summary = await quantizeFile(
      source,
      output,
      bytes,
      { embeddings: values.embeddings === true, weightBits: bitsValue === "7" ? 7 : 8, source: { source_file: relative(dirname(output), source) || basename(source), source_sha256: sha256 } },
      values["no-check"]
        ? undefined
        : async (temp) => {
            report = await measureFidelity({ modelDir: dir, reference: source, candidate: temp, pooling });
            return metadataField(FIDELITY_METADATA_KEY, JSON.stringify({ ...report, bar: FIDELITY_BAR }));
          },
    );
    const left = summary.matmulsLeft > 0 ? `; ${summary.matmulsLeft} MatMuls between activations stay float` : "";
    const tables = values.embeddings ? `${summary.embeddingTables} embedding tables int8` : "embeddings float32";
    log(`quantized ${summary.matmuls} MatMuls to int8 (${bitsValue}-bit weights, per output column${left}; ${tables})`);
    log(`wrote ${output} (${mb(statSync(output).size)}, from ${mb(bytes.byteLength)})${summary.externalData ? ` and ${summary.externalData}` : ""} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (report) {
      for (const line of fidelityLines(report)) log(line);
      if (report.belowBar) {
        process.stderr.write(
          `bertd: warning: fidelity below the bar (mean cosine ≥ ${FIDELITY_BAR.meanCosine}, min ≥ ${FIDELITY_BAR.minCosine}): ` +
            "heads trained on the fp32 model will not be served on this file; try --weight-bits 7, or serve fp32\n",
        );
      }
    }
    return 0;
  },
};
