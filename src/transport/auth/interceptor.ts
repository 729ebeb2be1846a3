import { type Metadata, type ServerInterceptor, ServerInterceptingCall, status } from "@grpc/grpc-js";
import type { KeyStore } from "./key-store.js";
import { scopeOf } from "./scopes.js";

/**
 * Set by the interceptor on the metadata handlers see: the name of the API key that authenticated
 * the call. Any value a client sends under this name is removed first.
 */
export const KEY_NAME_HEADER = "x-bertd-key-name";

export interface Refusal {
  readonly path: string;
  readonly code: status;
  readonly details: string;
  readonly peer: string;
  /** The key's name, when the key was valid but lacked the scope. */
  readonly key?: string;
}

export interface AuthOptions {
  /** undefined: authentication is off (--auth none). */
  readonly keys: KeyStore | undefined;
  readonly onRefused?: (refusal: Refusal) => void;
}

/** The name of the key that authenticated a call, from its metadata. */
export function keyNameOf(metadata: Metadata): string | undefined {
  const value = metadata.get(KEY_NAME_HEADER)[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * Checks `authorization: Bearer <key>` before any handler runs: no or unknown key → UNAUTHENTICATED,
 * a key without the method's scope → PERMISSION_DENIED. The key itself never reaches handlers.
 */
export function authInterceptor(options: AuthOptions): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const presented = metadata.get("authorization");
            metadata.remove("authorization");
            metadata.remove(KEY_NAME_HEADER);
            const scope = scopeOf(method.path);
            if (!options.keys || scope === undefined) {
              proceed(metadata);
              return;
            }
            const refuse = (code: status, details: string, key?: string): void => {
              options.onRefused?.({ path: method.path, code, details, peer: call.getPeer(), key });
              call.sendStatus({ code, details });
            };
            const match = typeof presented[0] === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(presented[0]) : null;
            if (!match) {
              refuse(status.UNAUTHENTICATED, "missing API key: send metadata `authorization: Bearer <key>`");
              return;
            }
            const principal = options.keys.verify(match[1]);
            if (!principal) {
              refuse(status.UNAUTHENTICATED, "invalid API key");
              return;
            }
            if (!principal.scopes.has(scope)) {
              refuse(status.PERMISSION_DENIED, `API key "${principal.name}" lacks the "${scope}" scope that ${method.path.slice(1)} needs`, principal.name);
              return;
            }
            metadata.set(KEY_NAME_HEADER, principal.name);
            proceed(metadata);
          },
        }),
    });
}
