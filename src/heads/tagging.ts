/** BIO/IOB2 tags, entity spans and entity-level metrics (seqeval's default, non-strict mode). */

export const OUTSIDE = "O";
const TAG = /^([BI])-(\S.*)$/su;

/** Whether a tag is O, B-TYPE or I-TYPE (TYPE non-empty, not starting with whitespace). */
export function isTag(tag: string): boolean {
  return tag === OUTSIDE || TAG.test(tag);
}

/** An entity over words [start, end) (word indices). */
export interface WordSpan {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Entity spans of a tag sequence, repairing invalid ones as seqeval does: an I-X that does not
 * continue an X entity (after O, after another type, or first) starts a new X entity. Tags that are
 * not O/B-X/I-X count as O.
 */
export function spansOf(tags: readonly string[]): WordSpan[] {
  const spans: WordSpan[] = [];
  let type: string | undefined;
  let start = 0;
  const close = (end: number): void => {
    if (type !== undefined) spans.push({ type, start, end });
    type = undefined;
  };
  tags.forEach((tag, i) => {
    const match = TAG.exec(tag);
    if (!match) {
      close(i);
      return;
    }
    const [, prefix, kind] = match;
    if (prefix === "I" && type === kind) return;
    close(i);
    type = kind;
    start = i;
  });
  close(tags.length);
  return spans;
}

/** Entity-level counts, summed over sentences: exact span and type match. */
export class SpanCounts {
  truePositives = 0;
  predicted = 0;
  actual = 0;

  add(truth: readonly string[], predicted: readonly string[]): void {
    const key = (s: WordSpan): string => `${s.type}\0${s.start}\0${s.end}`;
    const gold = new Set(spansOf(truth).map(key));
    const guessed = spansOf(predicted).map(key);
    this.actual += gold.size;
    this.predicted += guessed.length;
    for (const span of guessed) if (gold.has(span)) this.truePositives++;
  }

  get precision(): number {
    return this.predicted === 0 ? 0 : this.truePositives / this.predicted;
  }

  get recall(): number {
    return this.actual === 0 ? 0 : this.truePositives / this.actual;
  }

  /** Micro-averaged F1 over entity types, as seqeval's f1_score; 0 when nothing was predicted or expected. */
  get f1(): number {
    const p = this.precision;
    const r = this.recall;
    return p + r === 0 ? 0 : (2 * p * r) / (p + r);
  }
}
