import type { TrainConfig } from "./config.js";

type ScheduleConfig = Pick<TrainConfig, "learningRate" | "warmupSteps" | "schedule" | "decaySteps" | "minLearningRateRatio">;

/**
 * Learning rate of optimizer step `step` (1-based: the first update is step 1).
 *   warmup   step ≤ W:  lr · step / W
 *   then     p = min(1, (step − W) / decaySteps), floor r = minLearningRateRatio
 *            constant: lr
 *            linear:   lr · (1 − (1 − r) · p)
 *            cosine:   lr · (r + (1 − r) · (1 + cos(π p)) / 2)
 * so the decay ends at step W + decaySteps at exactly r · lr and stays there.
 */
export function learningRateAt(step: number, config: ScheduleConfig): number {
  const lr = config.learningRate;
  const t = Math.max(1, step);
  const w = config.warmupSteps;
  if (t <= w) return (lr * t) / w;
  if (config.schedule === "constant") return lr;
  const p = Math.min(1, (t - w) / config.decaySteps);
  const r = config.minLearningRateRatio;
  if (config.schedule === "linear") return lr * (1 - (1 - r) * p);
  return lr * (r + ((1 - r) * (1 + Math.cos(Math.PI * p))) / 2);
}
