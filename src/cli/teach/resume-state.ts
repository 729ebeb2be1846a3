import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

/**
 * What an interrupted `bertd teach` leaves beside its file: how many examples the server has
 * processed (and so made durable or rejected), and a hash of the file up to there, so a resumed run
 * starts after them and refuses a file that changed before that point.
 */
export interface ResumeState {
  readonly format: 1;
  readonly head: string;
  /** Examples of the file the server has processed, in file order. */
  readonly processed: number;
  /** The file line of the last of them. */
  readonly lastLine: number;
  readonly lastDurableId: string;
  readonly prefixSha256: string;
  readonly curves: Curves;
}

export interface Curves {
  /** [examples processed in the file, accuracy] */
  readonly prequential: [number, number][];
  readonly holdout: [number, number][];
}

export function readResumeState(path: string): ResumeState | undefined {
  if (!existsSync(path)) return undefined;
  const state = JSON.parse(readFileSync(path, "utf8")) as ResumeState;
  if (state.format !== 1) throw new Error(`${path}: not a bertd teach state file (format ${String(state.format)})`);
  return state;
}

/** Written atomically (temporary file, then rename): a kill never leaves half a state. */
export function writeResumeState(path: string, state: ResumeState): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

export function removeResumeState(path: string): void {
  rmSync(path, { force: true });
}

/** sha256 of the file's bytes up to the end of a line (1-based), for lines that only grow: hashed once, incrementally. */
export class PrefixHasher {
  private readonly hash = createHash("sha256");
  private line = 0;
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  upTo(line: number): string {
    if (line < this.line) throw new Error(`line ${line} is before line ${this.line}, already hashed`);
    for (; this.line < line; this.line++) {
      const newline = this.bytes.indexOf(0x0a, this.offset);
      const end = newline === -1 ? this.bytes.length : newline + 1;
      this.hash.update(this.bytes.subarray(this.offset, end));
      this.offset = end;
    }
    return this.hash.copy().digest("hex");
  }
}

export function prefixHash(bytes: Buffer, line: number): string {
  return new PrefixHasher(bytes).upTo(line);
}
