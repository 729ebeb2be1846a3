/**
 * Errors that say what went wrong in the caller's terms. Deep code throws these; only the
 * transport decides which gRPC status each kind becomes.
 */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "cancelled"
  | "failed_precondition"
  | "aborted"
  | "unavailable"
  | "unauthenticated"
  | "permission_denied"
  | "internal";

export class ServiceError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export const invalidArgument = (message: string): ServiceError => new ServiceError("invalid_argument", message);
export const notFound = (message: string): ServiceError => new ServiceError("not_found", message);
export const resourceExhausted = (message: string): ServiceError => new ServiceError("resource_exhausted", message);
export const failedPrecondition = (message: string): ServiceError => new ServiceError("failed_precondition", message);
export const aborted = (message: string): ServiceError => new ServiceError("aborted", message);
export const unavailable = (message: string): ServiceError => new ServiceError("unavailable", message);
export const cancelled = (message: string): ServiceError => new ServiceError("cancelled", message);
