import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PNG } from "pngjs";
import { ROOT } from "./server-process.js";

export const LAUNCHER = join(ROOT, "bin/bertd.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `bertd ARGS…` as a user runs it (bin/bertd.js in a child process); `output` resolves when it exits. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess & { output: Promise<Run> } {
  const child = spawn(process.execPath, [LAUNCHER, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const output = once(child, "close").then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return Object.assign(child, { output });
}

/** The colors of a PNG's pixels, as "r,g,b". */
export function pngColors(path: string): { width: number; height: number; colors: Set<string> } {
  const png = PNG.sync.read(readFileSync(path));
  const colors = new Set<string>();
  for (let i = 0; i < png.data.length; i += 4) colors.add(`${png.data[i]},${png.data[i + 1]},${png.data[i + 2]}`);
  return { width: png.width, height: png.height, colors };
}
