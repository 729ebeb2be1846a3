import type { Logger } from "pino";
import { ConfigError } from "../../config.js";
import { KeyFileError, KeyStore } from "./key-store.js";

export interface AuthConfig {
  readonly auth: string;
  readonly apiKeysFile: string;
  readonly apiKeys: string;
  readonly host: string;
}

export interface Auth {
  /** undefined: authentication is off. */
  readonly keys: KeyStore | undefined;
  close(): void;
}

/**
 * --auth none: warns loudly and admits everyone. --auth api-key: loads the keys (refusing to start
 * without any), reloads them when the file changes and on SIGHUP.
 */
export function openAuth(config: AuthConfig, log: Logger): Auth {
  if (config.auth === "none") {
    log.warn(
      { auth: "none", host: config.host },
      "AUTHENTICATION IS OFF (--auth none): anyone who reaches this port may embed, train and delete heads. Use it only on loopback or behind an authenticating proxy; production uses --auth api-key",
    );
    if (config.apiKeysFile || config.apiKeys) log.warn("API keys are configured but ignored because --auth is none");
    return { keys: undefined, close() {} };
  }
  let keys: KeyStore;
  try {
    keys = new KeyStore({ file: config.apiKeysFile || undefined, inline: config.apiKeys || undefined });
  } catch (error) {
    if (error instanceof KeyFileError) throw new ConfigError(error.message);
    throw error;
  }
  if (keys.size === 0) {
    throw new ConfigError(
      "--auth api-key (the default) needs at least one API key: set --api-keys-file (BERTD_API_KEYS_FILE) or BERTD_API_KEYS " +
        "(create a key with `npm run apikey -- --name NAME --scopes infer,adapt`), or pass --auth none to serve without authentication",
    );
  }
  log.info({ keys: keys.names(), file: config.apiKeysFile || undefined }, "API keys loaded");
  const reloaded = (error?: Error): void => {
    if (error) log.error({ err: error.message }, "API keys not reloaded: the keys in force stay");
    else log.info({ keys: keys.names() }, "API keys reloaded");
  };
  keys.watch(reloaded);
  const onHangup = (): void => {
    try {
      keys.reload();
      reloaded();
    } catch (error) {
      reloaded(error as Error);
    }
  };
  process.on("SIGHUP", onHangup);
  return {
    keys,
    close() {
      process.off("SIGHUP", onHangup);
      keys.close();
    },
  };
}
