/** Evaluation and prequential bookkeeping. */

/** Per-term log-loss cap: −ln(1e-15), i.e. probabilities clipped to [1e-15, 1 − 1e-15] (as scikit-learn did). */
export const MAX_LOSS_TERM = -Math.log(1e-15);

/** True/false positive and false negative counts per label index (indices may grow). */
export class LabelConfusion {
  readonly tp: number[] = [];
  readonly fp: number[] = [];
  readonly fn: number[] = [];

  private ensure(i: number): void {
    while (this.tp.length <= i) {
      this.tp.push(0);
      this.fp.push(0);
      this.fn.push(0);
    }
  }

  add(label: number, truth: boolean, predicted: boolean): void {
    if (!truth && !predicted) return;
    this.ensure(label);
    if (truth && predicted) this.tp[label]++;
    else if (predicted) this.fp[label]++;
    else this.fn[label]++;
  }

  /**
   * Mean over labels with any support (TP + FP + FN > 0, i.e. present in the truth or the predictions, as
   * scikit-learn's average='macro') of F1 = 2TP / (2TP + FP + FN). `empty` is returned when no label has
   * support.
   */
  macroF1(empty: number): number {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < this.tp.length; i++) {
      const denom = 2 * this.tp[i] + this.fp[i] + this.fn[i];
      if (denom === 0) continue;
      sum += (2 * this.tp[i]) / denom;
      count++;
    }
    return count === 0 ? empty : sum / count;
  }
}

/** Size of the recent-accuracy window. */
export const RECENT_WINDOW = 256;

/**
 * Prequential (test-then-train) counters: each training example is scored by the head before it learns from
 * it. Cumulative accuracy and loss, plus accuracy over the last RECENT_WINDOW examples.
 */
export class PrequentialStats {
  seen = 0;
  correct = 0;
  lossSum = 0;
  readonly window = new Uint8Array(RECENT_WINDOW);
  windowPos = 0;
  windowFilled = 0;
  windowCorrect = 0;

  record(correct: boolean, loss: number): void {
    this.seen++;
    if (correct) this.correct++;
    this.lossSum += loss;
    const bit = correct ? 1 : 0;
    if (this.windowFilled === RECENT_WINDOW) this.windowCorrect -= this.window[this.windowPos];
    else this.windowFilled++;
    this.window[this.windowPos] = bit;
    this.windowCorrect += bit;
    this.windowPos = (this.windowPos + 1) % RECENT_WINDOW;
  }

  get accuracy(): number {
    return this.seen === 0 ? 0 : this.correct / this.seen;
  }

  get recentAccuracy(): number {
    return this.windowFilled === 0 ? 0 : this.windowCorrect / this.windowFilled;
  }

  get meanLoss(): number {
    return this.seen === 0 ? 0 : this.lossSum / this.seen;
  }
}
