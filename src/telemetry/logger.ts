import { pino, type Logger } from "pino";

/** JSON lines by default; never logs request text or credentials (see the redact paths). */
export function createLogger(level: string, pretty: boolean): Logger {
  return pino({
    level,
    base: { service: "bertd" },
    redact: { paths: ["inputs", "text", "authorization", "*.authorization", "*.inputs", "*.text", "apiKey", "*.apiKey"], censor: "[redacted]" },
    transport: pretty ? { target: "pino-pretty", options: { colorize: true } } : undefined,
  });
}

export type { Logger };
