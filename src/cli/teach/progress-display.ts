import { SingleBar } from "cli-progress";

export interface Snapshot {
  readonly done: number;
  readonly loss: number;
  readonly prequentialAccuracy: number;
  /** TOKEN heads: entity-level F1 of the sentences predicted before they were learned. */
  readonly prequentialSpanF1?: number;
}

/** The live view of a teach run on stderr: a progress bar on a terminal, a plain line every few seconds otherwise. */
export class TeachProgress {
  private readonly bar?: SingleBar;
  private readonly startedAt = performance.now();
  private lastLine = 0;
  /** The count the last plain line showed: stop() does not repeat a line already printed. */
  private printedDone = -1;
  private latest: Snapshot;

  constructor(
    private readonly total: number,
    private readonly startAt: number,
    private readonly spans = false,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 5000,
  ) {
    this.latest = { done: startAt, loss: 0, prequentialAccuracy: 0, prequentialSpanF1: 0 };
    if (stream.isTTY) {
      this.bar = new SingleBar({
        stream,
        format: `{bar} {percentage}% {value}/{total} | {speed} ex/s | loss {loss} | prequential {accuracy}${spans ? ", span F1 {spanF1}" : ""} | ETA {remaining}`,
        barsize: 24,
        hideCursor: true,
      });
      this.bar.start(total, startAt, this.payload());
    }
  }

  update(snapshot: Snapshot): void {
    this.latest = snapshot;
    if (this.bar) this.bar.update(snapshot.done, this.payload());
    else if (performance.now() - this.lastLine >= this.plainEveryMs) this.printLine();
  }

  stop(): void {
    if (this.bar) this.bar.stop();
    else if (this.latest.done !== this.printedDone) this.printLine();
  }

  private rate(): number {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return seconds > 0 ? (this.latest.done - this.startAt) / seconds : 0;
  }

  private eta(): string {
    const rate = this.rate();
    if (rate <= 0) return "?";
    const seconds = Math.round((this.total - this.latest.done) / rate);
    return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s` : `${seconds}s`;
  }

  private payload(): Record<string, string> {
    return {
      speed: this.rate().toFixed(0),
      loss: this.latest.loss.toFixed(3),
      accuracy: `${(100 * this.latest.prequentialAccuracy).toFixed(1)}%`,
      spanF1: `${(100 * (this.latest.prequentialSpanF1 ?? 0)).toFixed(1)}%`,
      remaining: this.eta(),
    };
  }

  private printLine(): void {
    this.lastLine = performance.now();
    this.printedDone = this.latest.done;
    const p = this.payload();
    const percent = this.total > 0 ? ((100 * this.latest.done) / this.total).toFixed(0) : "100";
    const prequential = this.spans ? `prequential ${p.accuracy} of words, span F1 ${p.spanF1}` : `prequential ${p.accuracy}`;
    this.stream.write(`teach: ${this.latest.done}/${this.total} (${percent}%) ${p.speed} ex/s, loss ${p.loss}, ${prequential}, ETA ${p.remaining}\n`);
  }
}
