import { pino, symbols, type DestinationStream, type Logger } from "pino";

/** JSON lines by default; never logs request text or credentials (see the redact paths). */
export function createLogger(level: string, pretty: boolean): Logger {
  return pino({
    level,
    base: { service: "bertd" },
    redact: { paths: ["inputs", "text", "authorization", "*.authorization", "*.inputs", "*.text", "apiKey", "*.apiKey"], censor: "[redacted]" },
    transport: pretty ? { target: "pino-pretty", options: { colorize: true } } : undefined,
  });
}

/**
 * A logger on `log`'s destination, level and bindings, without redaction: for lines built only from
 * fields the code names (the per-call line: method, status, timings, counts), where the redaction's
 * scan of every key would cost more than writing the line.
 */
export function unredacted(log: Logger): Logger {
  const stream = (log as unknown as Record<symbol, DestinationStream>)[symbols.streamSym];
  return pino({ level: log.level, base: log.bindings() }, stream);
}

export type { Logger };
