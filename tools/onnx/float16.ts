// The fp16 variant of a generated model, as Hugging Face's fp16 exports are laid out for GPUs: every
// float weight and constant stored as float16, the graph computing in float16, and Casts at the end
// so the outputs stay float32 (inputs are int64 ids either way).

import { DataType, intAttr, type OnnxModel, type OnnxNode, type OnnxTensor } from "./writer.js";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a float32, rounded to nearest even; overflow gives ±Infinity. */
export function float16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let bits = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && bits & 1)) bits++;
    return sign | bits;
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && bits & 1)) bits++; // may carry into the exponent: still right
  return sign | bits;
}

/** The float32 value of IEEE 754 binary16 bits (exact: every float16 is a float32). */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function toFloat16(tensor: OnnxTensor): OnnxTensor {
  if (!(tensor.data instanceof Float32Array)) return tensor;
  const bits = new Uint16Array(tensor.data.length);
  for (let i = 0; i < bits.length; i++) bits[i] = float16Bits(tensor.data[i]);
  return { ...tensor, data: bits };
}

/** The same graph in float16, with float32 outputs. */
export function convertToFloat16(model: OnnxModel): OnnxModel {
  const { graph } = model;
  const outputs = new Set(graph.outputs.filter((o) => o.elemType === DataType.FLOAT).map((o) => o.name));
  const renamed = (name: string) => (outputs.has(name) ? `${name}.fp16` : name);
  const nodes: OnnxNode[] = graph.nodes.map((node) => {
    const castsToFloat = node.opType === "Cast" && node.attributes.to?.kind === "int" && node.attributes.to.value === DataType.FLOAT;
    return {
      ...node,
      inputs: node.inputs.map(renamed),
      outputs: node.outputs.map(renamed),
      attributes: castsToFloat ? { ...node.attributes, to: intAttr(DataType.FLOAT16) } : node.attributes,
    };
  });
  for (const name of outputs) {
    nodes.push({ name: `/output_cast/${name}`, opType: "Cast", inputs: [renamed(name)], outputs: [name], attributes: { to: intAttr(DataType.FLOAT) } });
  }
  return {
    ...model,
    docString: `${model.docString} float16 weights and compute, float32 outputs.`,
    metadata: { ...model.metadata, "bertd.precision": "fp16" },
    graph: { ...graph, nodes, initializers: graph.initializers.map(toFloat16) },
  };
}
