import { Metadata, status, type ServiceError as GrpcServiceError } from "@grpc/grpc-js";
import { ServiceError, type ErrorKind } from "../core/errors.js";

const STATUS: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  cancelled: status.CANCELLED,
  failed_precondition: status.FAILED_PRECONDITION,
  aborted: status.ABORTED,
  unavailable: status.UNAVAILABLE,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  unimplemented: status.UNIMPLEMENTED,
  internal: status.INTERNAL,
};

/** The gRPC status for any thrown value; errors that are not ServiceErrors are INTERNAL. */
export function toStatus(error: unknown): { code: status; details: string } {
  if (error instanceof ServiceError) return { code: STATUS[error.kind], details: error.message };
  return { code: status.INTERNAL, details: `internal error: ${(error as Error)?.message ?? String(error)}` };
}

export function toGrpcError(error: unknown): Partial<GrpcServiceError> {
  const { code, details } = toStatus(error);
  return { code, details, metadata: new Metadata() };
}

export function statusName(code: status): string {
  return status[code] ?? String(code);
}
