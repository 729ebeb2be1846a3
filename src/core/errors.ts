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
  | "unimplemented"
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
export const unimplemented = (message: string): ServiceError => new ServiceError("unimplemented", message);

/** An input over the model's maximum length with truncation off: carries the numbers, so each wire API can word it its own way. */
export class InputTooLongError extends ServiceError {
  constructor(
    readonly index: number,
    readonly tokens: number,
    readonly maxTokens: number,
  ) {
    super("invalid_argument", `inputs[${index}] has ${tokens} tokens, over the model's maximum of ${maxTokens}, and truncation is NONE`);
  }
}
