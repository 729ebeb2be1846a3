import * as ort from "onnxruntime-node";

/** Direct ONNX Runtime, one unpadded sequence at a time: the ground truth Embed is compared with. */
export class ReferenceModel {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async open(modelPath: string): Promise<ReferenceModel> {
    return new ReferenceModel(await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, executionProviders: ["cpu"] }));
  }

  async run(ids: ArrayLike<number>): Promise<{ hidden: Float32Array[]; pooler?: Float32Array }> {
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(Array.from(ids, (id) => BigInt(id))), [1, n]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
    };
    if (this.session.inputNames.includes("token_type_ids")) feeds.token_type_ids = new ort.Tensor("int64", new BigInt64Array(n), [1, n]);
    const out = await this.session.run(feeds);
    const flat = out.last_hidden_state.data as Float32Array;
    const width = flat.length / n;
    const hidden = Array.from({ length: n }, (_, t) => flat.slice(t * width, (t + 1) * width));
    const pooler = out.pooler_output ? (out.pooler_output.data as Float32Array).slice() : undefined;
    return { hidden, pooler };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Reference pooling in float64, written independently of src/core/pooling.ts. */
export function referencePool(hidden: Float32Array[], pooler: Float32Array | undefined, mode: "cls" | "mean" | "max" | "pooler"): number[] {
  const width = hidden[0].length;
  if (mode === "cls") return Array.from(hidden[0]);
  if (mode === "pooler") return Array.from(pooler!);
  const out = new Array<number>(width).fill(mode === "max" ? -Infinity : 0);
  for (const token of hidden) {
    for (let h = 0; h < width; h++) out[h] = mode === "max" ? Math.max(out[h], token[h]) : out[h] + token[h] / hidden.length;
  }
  return out;
}

export function finish(vector: number[], dimensions: number, normalize: boolean): number[] {
  const cut = dimensions > 0 ? vector.slice(0, dimensions) : vector.slice();
  if (!normalize) return cut;
  const norm = Math.hypot(...cut);
  return cut.map((v) => v / norm);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
