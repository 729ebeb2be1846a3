import type { InferenceSession, Tensor } from "onnxruntime-node";
import { BackendError } from "./session.js";

/** Reading what a BERT export outputs: its hidden size, which outputs make a token state, float16 as float32. */

let halfTable: Float32Array | undefined;

/** The value of every float16 bit pattern, built once (65,536 entries). */
function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[bits] = fraction ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** A float32 or float16 output as float32 (fp16 exports may keep float16 outputs). */
export function asFloat32(tensor: Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") {
    const bits = tensor.data as Uint16Array;
    const table = float16Table();
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
    return out;
  }
  throw new BackendError(`model output of type ${tensor.type}; bertd reads float32 or float16 outputs`);
}

/** The width of last_hidden_state, from the session's output metadata. */
export function hiddenSizeOf(session: InferenceSession): number {
  const meta = session.outputMetadata.find((m) => m.name === "last_hidden_state");
  if (!meta) throw new Error(`the model has no last_hidden_state output (outputs: ${session.outputNames.join(", ")})`);
  const dims = meta.isTensor ? meta.shape : [];
  const width = dims[dims.length - 1];
  if (typeof width !== "number" || width <= 0) throw new Error("last_hidden_state has no fixed hidden size");
  return width;
}

/** Layers concatenated into a token state when the export outputs hidden states: the last one and up to 3 below it. */
export const TOKEN_STATE_LAYERS = 4;

/**
 * The outputs whose rows make a token state, last layer first: `last_hidden_state`, then the
 * export's `hidden_states.N` outputs from the highest N down, TOKEN_STATE_LAYERS in all at most.
 * An export that numbers them 0 (the embeddings) … L, as Hugging Face's hidden_states tuple does, has
 * the last layer twice: its hidden_states.L is left out.
 */
export function tokenStateOutputs(outputNames: readonly string[]): string[] {
  const layers = outputNames
    .map((name) => /^hidden_states\.(\d+)$/u.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((match) => match[0]);
  if (layers.includes("hidden_states.0")) layers.shift();
  return ["last_hidden_state", ...layers.slice(0, TOKEN_STATE_LAYERS - 1)];
}
