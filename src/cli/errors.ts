import { status } from "@grpc/grpc-js";
import { ConnectionError } from "../client/connection.js";
import { UsageError } from "./command.js";
import { InputFileError } from "./input-file.js";

/** What a file system error means, in words (node's messages read `ENOENT: no such file or directory, open 'x'`). */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
};

/** The one line printed for a failure, and the exit code: 2 for usage, 1 for everything else. */
export function describeFailure(error: unknown, address?: string, tls = false): { line: string; code: number } {
  if (error instanceof UsageError || error instanceof ConnectionError) return { line: error.message, code: 2 };
  if (error instanceof InputFileError) return { line: error.message, code: 1 };
  const grpc = error as { code?: unknown; details?: unknown };
  if (typeof grpc.code === "number" && typeof grpc.details === "string") {
    const name = (status as Record<number, string>)[grpc.code] ?? `status ${grpc.code}`;
    // The client's own UNAVAILABLE ("No connection established. Last error: …"): nothing listens there
    // (refused, no such host), or, when something answered, most often TLS on one side only (plaintext
    // to a TLS port fails with "Failed to connect"). The server's own UNAVAILABLE (still loading) gets no hint.
    const client = /^(No connection established|Connection dropped|Failed to connect|Name resolution failed)/.test(grpc.details);
    const nothing = /ECONNREFUSED|Name resolution failed|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(grpc.details);
    const question = nothing ? `is bertd serving at ${address}?` : tls ? `is bertd serving TLS at ${address}?` : `is bertd serving at ${address}? if it serves TLS, give --tls-ca`;
    const unavailableHint = grpc.code === (status.UNAVAILABLE as number) && address && client ? ` (${question})` : "";
    // The server's text speaks of metadata (for grpcurl); this command sends it from --api-key.
    const keyHint = grpc.code === (status.UNAUTHENTICATED as number) && /missing API key/.test(grpc.details) ? " (give --api-key KEY or set BERTD_API_KEY)" : "";
    const hint = unavailableHint || keyHint;
    const details = grpc.details
      .split("\n")[0]
      .replace(/\.? *Resolution note:.*$/, "")
      // OpenSSL's "Error: 80FC…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…:350:"
      .replace(/Error: [0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):.*$/, "TLS handshake failed: $1");
    return { line: `${name}: ${details}${hint}`, code: 1 };
  }
  const errno = error as NodeJS.ErrnoException;
  if (typeof errno.code === "string" && FILE_ERRORS[errno.code] !== undefined) {
    return { line: errno.path !== undefined ? `${errno.path}: ${FILE_ERRORS[errno.code]}` : errno.message, code: 1 };
  }
  return { line: error instanceof Error ? error.message : String(error), code: 1 };
}
