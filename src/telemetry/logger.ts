import { pino, symbols, type DestinationStream, type Logger } from "pino";

/** Buffered per-call lines are written once this many bytes wait (about 25 lines)… */
const CALL_LINES_BUFFER_BYTES = 4096;
/** …or after this long, whichever comes first. */
const CALL_LINES_FLUSH_MS = 100;

/** The buffered stdout behind a logger made by createLogger (absent with --log-pretty). */
const callLineBuffers = new WeakMap<Logger, pino.DestinationStream & { flushSync(): void }>();

/**
 * JSON lines by default; never logs request text or credentials (see the redact paths). Every line is
 * written at once, except the per-call lines of `callLines`, which share one buffer of stdout: a
 * write(2) per call was a few percent of the gRPC thread's time. Any other line, and the process' exit,
 * writes what is buffered first, so lines keep their order.
 */
export function createLogger(level: string, pretty: boolean): Logger {
  const options = {
    level,
    base: { service: "bertd" },
    redact: { paths: ["inputs", "text", "authorization", "*.authorization", "*.inputs", "*.text", "apiKey", "*.apiKey"], censor: "[redacted]" },
  };
  if (pretty) return pino({ ...options, transport: { target: "pino-pretty", options: { colorize: true } } });
  const stdout = pino.destination({ dest: 1, sync: true, minLength: CALL_LINES_BUFFER_BYTES, periodicFlush: CALL_LINES_FLUSH_MS });
  process.once("exit", () => {
    try {
      stdout.flushSync();
    } catch {
      // stdout is gone (EPIPE): there is nobody to write to
    }
  });
  const immediate: DestinationStream = {
    write(line: string) {
      stdout.write(line);
      stdout.flushSync();
    },
  };
  const log = pino(options, immediate);
  callLineBuffers.set(log, stdout);
  return log;
}

/**
 * The logger for per-call lines: `log`'s level and bindings, on its buffered stdout (or its destination),
 * without redaction: these lines are built only from fields the code names (method, status, timings,
 * counts), where the redaction's scan of every key would cost more than writing the line.
 */
export function callLines(log: Logger): Logger {
  const stream = callLineBuffers.get(log) ?? (log as unknown as Record<symbol, DestinationStream>)[symbols.streamSym];
  return pino({ level: log.level, base: log.bindings() }, stream);
}

export type { Logger };
