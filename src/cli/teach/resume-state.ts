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

/** sha256 of the file's bytes up to the end of `line` (1-based). */
export function prefixHash(bytes: Buffer, line: number): string {
  let end = 0;
  for (let l = 0; l < line; l++) {
    const newline = bytes.indexOf(0x0a, end);
    end = newline === -1 ? bytes.length : newline + 1;
  }
  return createHash("sha256").update(bytes.subarray(0, end)).digest("hex");
}
