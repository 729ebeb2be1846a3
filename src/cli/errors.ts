import { status } from "@grpc/grpc-js";
import { ConnectionError } from "../client/connection.js";
import { UsageError } from "./command.js";
import { InputFileError } from "./input-file.js";

/** The one line printed for a failure, and the exit code: 2 for usage, 1 for everything else. */
export function describeFailure(error: unknown, address?: string): { line: string; code: number } {
  if (error instanceof UsageError || error instanceof ConnectionError) return { line: error.message, code: 2 };
  if (error instanceof InputFileError) return { line: error.message, code: 1 };
  const grpc = error as { code?: unknown; details?: unknown };
  if (typeof grpc.code === "number" && typeof grpc.details === "string") {
    const name = (status as Record<number, string>)[grpc.code] ?? `status ${grpc.code}`;
    const hint = grpc.code === (status.UNAVAILABLE as number) && address ? ` (is bertd serving at ${address}?)` : "";
    const details = grpc.details.split("\n")[0].replace(/\.? *Resolution note:.*$/, "");
    return { line: `${name}: ${details}${hint}`, code: 1 };
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") return { line: (error as Error).message, code: 1 };
  return { line: error instanceof Error ? error.message : String(error), code: 1 };
}
