import { ort } from "./session.js";

export interface PackedInputs {
  readonly feeds: Record<string, ort.Tensor>;
  /** The padded length: the longest row's. */
  readonly sequence: number;
}

/**
 * A batch's rows (their token ids back to back, `lengths[b]` for row b) as the model's int64 inputs,
 * padded on the right to the longest row: input_ids, attention_mask and, when the graph takes them,
 * token_type_ids (`typeIds`, laid out like `ids`, or all 0 without them). A graph without
 * token_type_ids gets none: its segments are all type 0 (RoBERTa-style pairs).
 */
export function packInputs(ids: Int32Array, lengths: Int32Array, withTokenTypes: boolean, typeIds?: Int32Array): PackedInputs {
  const rows = lengths.length;
  let sequence = 0;
  for (let b = 0; b < rows; b++) sequence = Math.max(sequence, lengths[b]);
  const shape = [rows, sequence];
  // int64 tensors written through an int32 view: ids are non-negative, so the high words stay 0.
  const idsBuffer = new BigInt64Array(rows * sequence);
  const maskBuffer = new BigInt64Array(rows * sequence);
  const ids32 = new Int32Array(idsBuffer.buffer);
  const mask32 = new Int32Array(maskBuffer.buffer);
  let offset = 0;
  for (let b = 0; b < rows; b++) {
    const length = lengths[b];
    const row = b * sequence;
    for (let t = 0; t < length; t++) {
      ids32[2 * (row + t)] = ids[offset + t];
      mask32[2 * (row + t)] = 1;
    }
    offset += length;
  }
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor("int64", idsBuffer, shape),
    attention_mask: new ort.Tensor("int64", maskBuffer, shape),
  };
  if (withTokenTypes) {
    const typesBuffer = new BigInt64Array(rows * sequence);
    if (typeIds) {
      const types32 = new Int32Array(typesBuffer.buffer);
      let from = 0;
      for (let b = 0; b < rows; b++) {
        const row = b * sequence;
        for (let t = 0; t < lengths[b]; t++) types32[2 * (row + t)] = typeIds[from + t];
        from += lengths[b];
      }
    }
    feeds.token_type_ids = new ort.Tensor("int64", typesBuffer, shape);
  }
  return { feeds, sequence };
}
