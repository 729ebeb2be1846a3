import type { LoggedExample } from "../store/head-store.js";

/**
 * The shadow rule (docs/feedback.md): a held-back candidate version is judged on the next `needed`
 * answered predictions served by the active version. For each, the candidate's own prediction and
 * what was served are both scored against the answer; once `needed` are scored, the candidate is
 * promoted when it got at least as many right as were served right.
 */
export class ShadowTrial {
  private scoredCount = 0;
  private candidateRight = 0;
  private servedRight = 0;

  constructor(
    readonly version: number,
    readonly needed: number,
  ) {}

  /** The rows this trial still scores: answered predictions served by the active version (not by the candidate), up to what is still needed. */
  eligible<R extends Pick<LoggedExample, "served">>(rows: readonly R[], activeVersion: number | undefined): R[] {
    const served = rows.filter((row) => row.served && row.served.version === activeVersion && row.served.version !== this.version);
    return served.slice(0, Math.max(0, this.needed - this.scoredCount));
  }

  /** One answered prediction: whether the candidate's prediction was right, and whether what was served was. */
  score(candidateCorrect: boolean, servedCorrect: boolean): void {
    if (this.complete) return;
    this.scoredCount++;
    if (candidateCorrect) this.candidateRight++;
    if (servedCorrect) this.servedRight++;
  }

  get complete(): boolean {
    return this.scoredCount >= this.needed;
  }

  /** Whether the candidate becomes active; undefined until the trial is complete. */
  get promote(): boolean | undefined {
    return this.complete ? this.candidateRight >= this.servedRight : undefined;
  }

  get tally(): { examples: number; candidateCorrect: number; servedCorrect: number } {
    return { examples: this.scoredCount, candidateCorrect: this.candidateRight, servedCorrect: this.servedRight };
  }
}
