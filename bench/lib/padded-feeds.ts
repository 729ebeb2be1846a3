import * as ort from "onnxruntime-node";

/** Rows of token ids as one right-padded batch of a BERT graph's int64 inputs (token types all 0). */
export function paddedFeeds(rows: Int32Array[], withTypes: boolean): Record<string, ort.Tensor> {
  const sequence = Math.max(...rows.map((ids) => ids.length));
  const ids = new BigInt64Array(rows.length * sequence);
  const mask = new BigInt64Array(rows.length * sequence);
  rows.forEach((row, b) => row.forEach((id, t) => ((ids[b * sequence + t] = BigInt(id)), (mask[b * sequence + t] = 1n))));
  const shape = [rows.length, sequence];
  const out: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", ids, shape), attention_mask: new ort.Tensor("int64", mask, shape) };
  if (withTypes) out.token_type_ids = new ort.Tensor("int64", new BigInt64Array(rows.length * sequence), shape);
  return out;
}
