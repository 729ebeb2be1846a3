/**
 * A pair head's features, three blocks of the hidden size: the pair's pooled encoding (both texts
 * through the pair template together), then u ⊙ v and |u − v| of each text's own pooled encoding,
 * L2-normalized (Sentence-BERT's and InferSent's pair features). The joint block carries what a
 * model pretrained on pairs (next-sentence prediction, a cross-encoder) reads across the two texts;
 * the other two carry how alike the texts' embeddings are, which is what a bi-encoder knows: on
 * bertd's default model a linear head on the joint block alone sits at chance on a real pair task
 * (test/e2e/pair-quality.test.ts).
 */
export const PAIR_FEATURE_BLOCKS = 3;

export function pairFeatures(joint: Float32Array, first: Float32Array, second: Float32Array): Float32Array {
  const width = joint.length;
  const out = new Float32Array(PAIR_FEATURE_BLOCKS * width);
  out.set(joint);
  const nu = norm(first) || 1;
  const nv = norm(second) || 1;
  for (let i = 0; i < width; i++) {
    const u = first[i] / nu;
    const v = second[i] / nv;
    out[width + i] = u * v;
    out[2 * width + i] = Math.abs(u - v);
  }
  return out;
}

function norm(x: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  return Math.sqrt(sum);
}
