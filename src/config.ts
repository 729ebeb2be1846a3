import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import type { Device } from "./backends/onnx/device.js";

/** Every option of the server: flag, environment variable, default and meaning, in one table. */
type Kind = "string" | "int" | "number" | "bool";

interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly default: string;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  /** The default when --device is cuda[:N] (GPUs want larger batches); an explicit value still wins. */
  readonly cudaDefault?: string;
}

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
export const DEFAULT_MODEL_DIR = `${projectRoot}models/default`;

export const OPTIONS = {
  modelDir: { flag: "model-dir", env: "BERTD_MODEL_DIR", kind: "string", default: "models/default", help: "Model directory: model.onnx, config.json, tokenizer.json or vocab.txt" },
  host: { flag: "host", env: "BERTD_HOST", kind: "string", default: "0.0.0.0", help: "Address the gRPC server binds" },
  port: { flag: "port", env: "BERTD_PORT", kind: "int", default: "50051", help: "gRPC port (0 picks a free port)", min: 0 },
  metricsPort: { flag: "metrics-port", env: "BERTD_METRICS_PORT", kind: "int", default: "9464", help: "Prometheus /metrics on its own HTTP port (0 picks a free port)", min: 0 },
  healthPort: { flag: "health-port", env: "BERTD_HEALTH_PORT", kind: "int", default: "0", help: "Plaintext port serving only grpc.health.v1, for probes when the main port needs TLS or keys (0 = off)", min: 0 },
  auth: { flag: "auth", env: "BERTD_AUTH", kind: "string", default: "api-key", help: "api-key: every call but health and reflection needs `authorization: Bearer <key>` with the method's scope; none: no authentication (explicit only, logged at warn)", choices: ["api-key", "none"] },
  apiKeysFile: { flag: "api-keys-file", env: "BERTD_API_KEYS_FILE", kind: "string", default: "", help: "API keys: JSON lines or a JSON array of {name, sha256, scopes}; reloaded when the file changes and on SIGHUP" },
  apiKeys: { flag: "api-keys", env: "BERTD_API_KEYS", kind: "string", default: "", help: "API keys inline, in the file's format (added to the file's)" },
  tlsCert: { flag: "tls-cert", env: "BERTD_TLS_CERT", kind: "string", default: "", help: "PEM certificate chain: serve TLS on the gRPC port (needs --tls-key)" },
  tlsKey: { flag: "tls-key", env: "BERTD_TLS_KEY", kind: "string", default: "", help: "PEM private key of --tls-cert" },
  tlsClientCa: { flag: "tls-client-ca", env: "BERTD_TLS_CLIENT_CA", kind: "string", default: "", help: "PEM CA bundle: require client certificates signed by it (mutual TLS; needs --tls-cert)" },
  metricsMaxHeads: { flag: "metrics-max-heads", env: "BERTD_METRICS_MAX_HEADS", kind: "int", default: "100", help: "Heads named in metric labels; further heads are counted as \"_other\"", min: 0 },
  device: { flag: "device", env: "BERTD_DEVICE", kind: "string", default: "cpu", help: "Execution provider: cpu, cuda, cuda:N, or auto (CUDA when available, else CPU)" },
  precision: { flag: "precision", env: "BERTD_PRECISION", kind: "string", default: "auto", help: "Which weights to load: fp32 (model.onnx), fp16 (model_fp16.onnx), int8 (model_quantized.onnx and the other quantized names in docs/models.md) or auto (on the CPU int8 when the directory has it, else fp32; on CUDA fp16, else fp32)", choices: ["auto", "fp32", "fp16", "int8"] },
  modelFile: { flag: "model-file", env: "BERTD_MODEL_FILE", kind: "string", default: "", help: "Serve this ONNX file of the model directory (relative to it), whatever its name; overrides the choice --precision makes" },
  workers: { flag: "workers", env: "BERTD_WORKERS", kind: "int", default: "2", help: "Inference worker threads, each with its own ONNX Runtime session and copy of the weights; with two, one batch runs while the next is formed and the last is answered (on CUDA keep one per GPU)", min: 1, cudaDefault: "1" },
  intraOpThreads: { flag: "intra-op-threads", env: "BERTD_INTRA_OP_THREADS", kind: "int", default: "0", help: "ONNX Runtime intra-op threads per worker (0 = cores / workers)", min: 0 },
  graphPooling: { flag: "graph-pooling", env: "BERTD_GRAPH_POOLING", kind: "bool", default: "false", help: "Pool mean and CLS embeddings inside the ONNX graph, so only batch × hidden floats leave ONNX Runtime; off on the CPU, where ONNX Runtime's sums would make a text's mean depend on the batch it ran in (JavaScript pools it the same whatever the batch)", cudaDefault: "true" },
  intraOpSpinning: { flag: "intra-op-spinning", env: "BERTD_INTRA_OP_SPINNING", kind: "bool", default: "false", help: "Let idle ONNX Runtime threads spin-wait (faster alone; on a busy CPU they steal time from gRPC and tokenization)" },
  pooling: { flag: "pooling", env: "BERTD_POOLING", kind: "string", default: "", help: "Default pooling when a request leaves it unset: cls, mean, max or pooler (empty = the model's sentence-transformers config, else mean)", choices: ["", "cls", "mean", "max", "pooler"] },
  truncation: { flag: "truncation", env: "BERTD_TRUNCATION", kind: "string", default: "right", help: "Default truncation of over-long inputs: right, left or none (reject)", choices: ["right", "left", "none"] },
  maxSequenceLength: { flag: "max-sequence-length", env: "BERTD_MAX_SEQUENCE_LENGTH", kind: "int", default: "0", help: "Tokens per input including [CLS]/[SEP] (0 = the model's maximum)", min: 0 },
  maxClientBatchSize: { flag: "max-client-batch-size", env: "BERTD_MAX_CLIENT_BATCH_SIZE", kind: "int", default: "256", help: "Most inputs in one request", min: 1 },
  maxRerankDocuments: { flag: "max-rerank-documents", env: "BERTD_MAX_RERANK_DOCUMENTS", kind: "int", default: "256", help: "Most documents in one Rerank call; more get INVALID_ARGUMENT naming this option", min: 1 },
  maxInputChars: { flag: "max-input-chars", env: "BERTD_MAX_INPUT_CHARS", kind: "int", default: "100000", help: "Most characters in one input", min: 1 },
  maxReceiveMessageBytes: { flag: "max-receive-message-bytes", env: "BERTD_MAX_RECEIVE_MESSAGE_BYTES", kind: "int", default: "8388608", help: "Largest request message accepted (larger: RESOURCE_EXHAUSTED)", min: 1024 },
  maxBatchTokens: { flag: "max-batch-tokens", env: "BERTD_MAX_BATCH_TOKENS", kind: "int", default: "8192", help: "Padded tokens (batch size × longest input) per inference batch", min: 1, cudaDefault: "32768" },
  maxBackgroundBatchTokens: { flag: "max-background-batch-tokens", env: "BERTD_MAX_BACKGROUND_BATCH_TOKENS", kind: "int", default: "1024", help: "Padded tokens per background batch (Adapt encoding its examples): an Embed or Classify call arriving meanwhile waits for at most one such batch", min: 1 },
  maxBatchSize: { flag: "max-batch-size", env: "BERTD_MAX_BATCH_SIZE", kind: "int", default: "128", help: "Inputs per inference batch", min: 1, cudaDefault: "256" },
  maxBatchDelayMs: { flag: "max-batch-delay-ms", env: "BERTD_MAX_BATCH_DELAY_MS", kind: "number", default: "4", help: "Under load, how long an idle worker may wait for clients whose answers just went out to send again, so batches stay large (a lone request never waits)", min: 0 },
  maxPaddingRatio: { flag: "max-padding-ratio", env: "BERTD_MAX_PADDING_RATIO", kind: "number", default: "1.2", help: "A batch of more than 8 inputs stops growing when its padded tokens would exceed this many times its real tokens; the rest forms the next batch", min: 1 },
  maxQueueTokens: { flag: "max-queue-tokens", env: "BERTD_MAX_QUEUE_TOKENS", kind: "int", default: "262144", help: "Tokens waiting for inference before new calls get RESOURCE_EXHAUSTED", min: 1, cudaDefault: "1048576" },
  maxQueueRequests: { flag: "max-queue-requests", env: "BERTD_MAX_QUEUE_REQUESTS", kind: "int", default: "2048", help: "Requests waiting for inference before new calls get RESOURCE_EXHAUSTED", min: 1 },
  maxConnectionAgeMs: { flag: "max-connection-age-ms", env: "BERTD_MAX_CONNECTION_AGE_MS", kind: "int", default: "0", help: "Send GOAWAY to a client connection after this long (±10% jitter) so clients reconnect and load spreads over new replicas (0 = never)", min: 0 },
  maxConnectionAgeGraceMs: { flag: "max-connection-age-grace-ms", env: "BERTD_MAX_CONNECTION_AGE_GRACE_MS", kind: "int", default: "0", help: "After that GOAWAY, how long calls still open on the old connection may run before it is closed (0 = until they finish)", min: 0 },
  maxAdaptStreams: { flag: "max-adapt-streams", env: "BERTD_MAX_ADAPT_STREAMS", kind: "int", default: "16", help: "Adapt streams open at once on this server; more get RESOURCE_EXHAUSTED", min: 1 },
  adaptExamplesPerSecond: { flag: "adapt-examples-per-second", env: "BERTD_ADAPT_EXAMPLES_PER_SECOND", kind: "number", default: "1000", help: "Adapt examples each API key may send per second, bursts up to one second's worth; a faster stream is paced (not read until the bucket refills), nothing is rejected (0 = no limit)", min: 0 },
  maxLabelsPerHead: { flag: "max-labels-per-head", env: "BERTD_MAX_LABELS_PER_HEAD", kind: "int", default: "1000", help: "Labels a head may have (config.labels and labels added by examples)", min: 1 },
  maxHeads: { flag: "max-heads", env: "BERTD_MAX_HEADS", kind: "int", default: "1000", help: "Heads in the store; Adapt of a new head beyond it gets RESOURCE_EXHAUSTED", min: 1 },
  dataDir: { flag: "data-dir", env: "BERTD_DATA_DIR", kind: "string", default: "./data", help: "Where the embedded head store (SQLite, WAL) keeps heads, versions and the example log" },
  store: { flag: "store", env: "BERTD_STORE", kind: "string", default: "sqlite", help: "Head store: sqlite (embedded, under --data-dir, one process) or a postgres://user@host/db URL shared by replicas" },
  storePollIntervalMs: { flag: "store-poll-interval-ms", env: "BERTD_STORE_POLL_INTERVAL_MS", kind: "int", default: "5000", help: "PostgreSQL store: re-read every head this often, healing missed change notifications (0 = never)", min: 0 },
  leaseTtlMs: { flag: "lease-ttl-ms", env: "BERTD_LEASE_TTL_MS", kind: "int", default: "10000", help: "PostgreSQL store: how long a head's writer lease lasts without a heartbeat (renewed every third of it); a dead writer's head is free after this", min: 300 },
  teiPredictHead: { flag: "tei-predict-head", env: "BERTD_TEI_PREDICT_HEAD", kind: "string", default: "", help: "The head tei.v1.Predict serves when a call's x-bertd-head metadata names none (empty = the model's own classifier)" },
  minVersionWaitMs: { flag: "min-version-wait-ms", env: "BERTD_MIN_VERSION_WAIT_MS", kind: "int", default: "2000", help: "Classify min_version: how long to wait for that version to be served before FAILED_PRECONDITION", min: 0 },
  embeddingCacheMb: { flag: "embedding-cache-mb", env: "BERTD_EMBEDDING_CACHE_MB", kind: "int", default: "256", help: "Memory for cached head features (replay and refits skip the encoder)", min: 0 },
  feedbackWindow: { flag: "feedback-window", env: "BERTD_FEEDBACK_WINDOW", kind: "int", default: "86400", help: "Seconds a prediction id can be answered with Feedback; older ones are EXPIRED", min: 1 },
  feedbackMaxPredictions: { flag: "feedback-max-predictions", env: "BERTD_FEEDBACK_MAX_PREDICTIONS", kind: "int", default: "100000", help: "Predictions kept in memory for Feedback (about 400 bytes plus the text each, docs/feedback.md); the oldest go first (0 = Classify and Tag issue no prediction ids)", min: 0 },
  liveWindow: { flag: "live-window", env: "BERTD_LIVE_WINDOW", kind: "int", default: "1000", help: "Live accuracy and macro-F1 cover a head's last this many answered predictions", min: 1 },
  continuousPollMs: { flag: "continuous-poll-ms", env: "BERTD_CONTINUOUS_POLL_MS", kind: "int", default: "1000", help: "How often continuous heads' logs are checked for feedback logged by any replica (feedback logged here is picked up at once)", min: 50 },
  warmup: { flag: "warmup", env: "BERTD_WARMUP", kind: "bool", default: "true", help: "Run warm-up batches over the length buckets before reporting SERVING" },
  shutdownTimeoutMs: { flag: "shutdown-timeout-ms", env: "BERTD_SHUTDOWN_TIMEOUT_MS", kind: "int", default: "30000", help: "On SIGTERM/SIGINT, how long in-flight calls may finish before the server stops anyway", min: 0 },
  logLevel: { flag: "log-level", env: "BERTD_LOG_LEVEL", kind: "string", default: "info", help: "pino log level", choices: ["trace", "debug", "info", "warn", "error", "fatal", "silent"] },
  logPretty: { flag: "log-pretty", env: "BERTD_LOG_PRETTY", kind: "bool", default: "false", help: "Human-readable logs instead of JSON lines" },
} as const satisfies Record<string, OptionSpec>;

type OptionKey = keyof typeof OPTIONS;
type ValueOf<S extends OptionSpec> = S["kind"] extends "string" ? string : S["kind"] extends "bool" ? boolean : number;
export type Config = { -readonly [K in OptionKey]: ValueOf<(typeof OPTIONS)[K]> };

export class ConfigError extends Error {}

/** Flags win over environment variables, which win over defaults. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  const raw = new Map<OptionKey, string>();
  const byFlag = new Map<string, OptionKey>();
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    byFlag.set(OPTIONS[key].flag, key);
    const fromEnv = env[OPTIONS[key].env];
    if (fromEnv !== undefined && fromEnv !== "") raw.set(key, fromEnv);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf("=");
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let negated = false;
    if (!byFlag.has(name) && name.startsWith("no-") && byFlag.has(name.slice(3))) {
      name = name.slice(3);
      negated = true;
    }
    const key = byFlag.get(name);
    if (key === undefined) throw new ConfigError(`unknown option --${name} (see --help)`);
    if (OPTIONS[key].kind === "bool" && eq === -1) {
      raw.set(key, negated ? "false" : "true");
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    raw.set(key, value);
  }
  const onCuda = parseDevice(raw.get("device") ?? OPTIONS.device.default).kind === "cuda";
  const config: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const spec: OptionSpec = OPTIONS[key];
    config[key] = parseValue(spec, raw.get(key) ?? (onCuda && spec.cudaDefault !== undefined ? spec.cudaDefault : spec.default));
  }
  const parsed = config as Config;
  parseDevice(parsed.device);
  if (parsed.store !== "sqlite" && !/^postgres(ql)?:\/\//.test(parsed.store)) {
    throw new ConfigError(`--store (BERTD_STORE) must be sqlite or a postgres:// URL; got "${parsed.store.replace(/:[^:@/]*@/, ":***@")}"`);
  }
  checkTls(parsed);
  return parsed;
}

function parseValue(spec: OptionSpec, text: string): string | number | boolean {
  const where = `--${spec.flag} (${spec.env})`;
  switch (spec.kind) {
    case "string":
      if (spec.choices && !spec.choices.includes(text)) {
        throw new ConfigError(`${where} must be one of ${spec.choices.filter((c) => c).join(", ")}; got "${text}"`);
      }
      return text;
    case "bool":
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      throw new ConfigError(`${where} must be true or false; got "${text}"`);
    case "int":
    case "number": {
      const value = Number(text);
      if (text.trim() === "" || !Number.isFinite(value) || (spec.kind === "int" && !Number.isInteger(value))) {
        throw new ConfigError(`${where} must be ${spec.kind === "int" ? "an integer" : "a number"}; got "${text}"`);
      }
      if (spec.min !== undefined && value < spec.min) throw new ConfigError(`${where} must be ≥ ${spec.min}; got ${value}`);
      return value;
    }
  }
}

function checkTls(config: Config): void {
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  if (config.tlsClientCa && !config.tlsCert) throw new ConfigError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key");
}

export function parseDevice(text: string): Device {
  if (text === "cpu") return { kind: "cpu" };
  const match = /^(cuda|auto)(?::(\d+))?$/.exec(text);
  if (!match) throw new ConfigError(`--device must be cpu, cuda, cuda:N or auto; got "${text}"`);
  return { kind: match[1] as "cuda" | "auto", deviceId: match[2] === undefined ? 0 : Number(match[2]) };
}

export function resolveModelDir(dir: string): string {
  return dir === OPTIONS.modelDir.default ? DEFAULT_MODEL_DIR : dir;
}

export function threadsPerWorker(config: Config): number {
  if (config.intraOpThreads > 0) return config.intraOpThreads;
  return Math.max(1, Math.floor(availableParallelism() / config.workers));
}

export function helpText(): string {
  const lines = ["Usage: bertd serve [options]   (npm start -- [options])", "", "Options (flag, environment variable, default):"];
  for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
    const cuda = spec.cudaDefault === undefined ? "" : `, cuda: ${spec.cudaDefault}`;
    lines.push(`  --${spec.flag.padEnd(28)} ${spec.env.padEnd(34)} [${spec.default}${cuda}]`, `      ${spec.help}`);
  }
  return lines.join("\n");
}

/** docs/options.md's option table, so docs and code cannot drift (a test compares them). */
export function markdownOptionTable(): string {
  const rows = ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |"];
  for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
    const cuda = spec.cudaDefault === undefined ? "" : ` (cuda: \`${spec.cudaDefault}\`)`;
    rows.push(`| \`--${spec.flag}\` | \`${spec.env}\` | \`${spec.default}\`${cuda} | ${spec.help} |`);
  }
  return rows.join("\n");
}
