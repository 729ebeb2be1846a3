import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { type Config, parseDevice, resolveModelDir, threadsPerWorker } from "./config.js";
import { EncoderModel } from "./core/encoder.js";
import { testFaults } from "./core/faults.js";
import { EmbeddingCache } from "./adaptation/embedding-cache.js";
import { HeadRegistry } from "./adaptation/head-registry.js";
import type { AdaptDeps } from "./adaptation/adapt-run.js";
import { HeadSync } from "./adaptation/head-sync.js";
import type { HeadStore } from "./store/head-store.js";
import { PostgresHeadStore } from "./store/postgres-store.js";
import { SqliteHeadStore } from "./store/sqlite-store.js";
import { Engine } from "./engine/engine.js";
import { continuousSettings, poolingOfStoredConfig } from "./transport/bertd-v1/adapt-config.js";
import { ContinuousLearning } from "./feedback/continuous-learning.js";
import { Feedback } from "./feedback/feedback.js";
import { LiveGauges } from "./feedback/live-gauges.js";
import { PredictionStore } from "./feedback/prediction-store.js";
import { bertdV1Api } from "./transport/bertd-v1/api.js";
import { teiV1Api } from "./transport/tei-v1/api.js";
import type { Precision } from "./backends/onnx/model-files.js";
import { readModelDirectory } from "./core/model-directory.js";
import { PoolingMode, type PoolingName } from "./core/pooling.js";
import { createLogger } from "./telemetry/logger.js";
import { Metrics } from "./telemetry/metrics.js";
import { Tracing } from "./telemetry/tracing.js";
import { CallLogger } from "./transport/calls.js";
import { statusName } from "./transport/status.js";
import { GrpcServer } from "./transport/server.js";
import { authInterceptor, type Refusal } from "./transport/auth/interceptor.js";
import { openAuth } from "./transport/auth/setup.js";
import { serverCredentials } from "./transport/tls.js";
import { RateLimiter } from "./adaptation/limits.js";

const BERTD_VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface App {
  readonly port: number;
  readonly log: Logger;
  /** Health NOT_SERVING, in-flight calls finish (up to the shutdown timeout), workers stop. */
  stop(): Promise<void>;
  /** SIGTERM and SIGINT drain and exit 0. */
  stopOnSignals(): void;
}

/** Start-up: config → logger → server (NOT_SERVING) → model and workers → warm-up → SERVING. */
export async function startBertd(config: Config): Promise<App> {
  const log = createLogger(config.logLevel, config.logPretty);
  const credentials = serverCredentials(config);
  const auth = openAuth(config, log);
  const device = parseDevice(config.device);
  const model = readModelDirectory(resolveModelDir(config.modelDir), {
    precision: config.precision as Precision,
    device: device.kind === "cuda" ? "cuda" : "cpu",
    modelFile: config.modelFile || undefined,
  });
  const engine = new Engine({ minVersionWaitMs: config.minVersionWaitMs, maxRerankDocuments: config.maxRerankDocuments, liveWindow: config.liveWindow });
  let encoder: EncoderModel | undefined;
  const faults = testFaults();
  if (faults) log.warn({ faults }, "BERTD_TEST_FAULTS is set: fault injection for tests is ON");
  const store: HeadStore =
    config.store === "sqlite"
      ? new SqliteHeadStore(config.dataDir, { maxExtraPages: faults?.storeMaxPages, failOn: faults?.storeFail })
      : await PostgresHeadStore.open(config.store, { leaseTtlMs: config.leaseTtlMs, log });
  let sync: HeadSync | undefined;
  let predictions: PredictionStore | undefined;
  let learner: ContinuousLearning | undefined;
  let liveGauges: LiveGauges | undefined;
  const metrics = new Metrics(config.metricsMaxHeads);
  const tracing = Tracing.fromEnv(process.env, log);
  const calls = new CallLogger(log, metrics, tracing, auth.keys !== undefined);
  const drain = new AbortController();
  const onRefused = ({ path, code, details, peer, key }: Refusal): void => {
    metrics.refused(path, statusName(code));
    log.warn({ method: path, status: statusName(code), details, peer, key }, "call refused");
  };
  const server = new GrpcServer(
    [
      bertdV1Api({
        engine,
        calls,
        onActiveChanged: (head, version) => metrics.activeChanged(head, version),
        maxAdaptStreams: config.maxAdaptStreams,
        exampleRate: new RateLimiter(config.adaptExamplesPerSecond),
        onAdaptPaced: (examples, seconds) => metrics.paced(examples, seconds),
        draining: drain.signal,
      }),
      teiV1Api({ engine, calls, version: BERTD_VERSION, predictHead: config.teiPredictHead }),
    ],
    {
      maxReceiveMessageBytes: config.maxReceiveMessageBytes,
      maxConnectionAgeMs: config.maxConnectionAgeMs,
      maxConnectionAgeGraceMs: config.maxConnectionAgeGraceMs,
      // With --auth none no interceptor runs: each one is another layer of grpc-js' per-call objects.
      interceptors: auth.keys ? [authInterceptor({ keys: auth.keys, onRefused })] : [],
    },
  );
  const port = await server.bind(config.host, config.port, credentials);
  const healthPort = config.healthPort > 0 ? await server.bindHealth(config.host, config.healthPort) : undefined;
  const metricsServer = await metrics.listen(config.host, config.metricsPort);
  log.info({ port, host: config.host, tls: config.tlsClientCa ? "mutual" : config.tlsCert ? "server" : "off", auth: config.auth, healthPort }, "listening; loading the model");

  if (device.kind === "cuda" && config.workers > 1) {
    log.warn({ workers: config.workers }, "--workers > 1 on one GPU: every worker holds its own session and copy of the weights on the card; one per GPU is the default");
  }
  const started = performance.now();
  try {
    if (faults?.startDelayMs) await new Promise((resolve) => setTimeout(resolve, faults.startDelayMs));
    encoder = await EncoderModel.open({
      model,
      device,
      workers: config.workers,
      intraOpThreads: threadsPerWorker(config),
      spinning: config.intraOpSpinning,
      graphPooling: config.graphPooling,
      limits: config,
      maxClientBatchSize: config.maxClientBatchSize,
      maxInputChars: config.maxInputChars,
      maxSequenceLength: config.maxSequenceLength,
      defaultPooling: config.pooling ? PoolingMode[config.pooling as PoolingName] : undefined,
      defaultTruncation: config.truncation as "right" | "left" | "none",
      observer: metrics,
      log,
      faults,
    });
    engine.modelLoaded(encoder);
    metrics.watchQueue(() => encoder!.batcher.depth);
    metrics.setModel(encoder.info.id, encoder.info.provider, encoder.info.onnxRuntimeVersion);
    if (config.warmup) await encoder.warmUp();
    const registry = new HeadRegistry(store, encoder.info.headIdentity.hash, poolingOfStoredConfig(encoder.info.defaultPooling), log);
    registry.onSwap((name, version) => metrics.serving(name, version));
    await registry.loadAll();
    if (store.shared) sync = new HeadSync(store, registry, config.storePollIntervalMs, log);
    predictions = new PredictionStore({ windowMs: config.feedbackWindow * 1000, maxPredictions: config.feedbackMaxPredictions, shared: store.predictions, log });
    const kept = predictions;
    metrics.watchPredictions(() => kept.size);
    const adaptDeps: AdaptDeps = {
      encoder,
      store,
      registry,
      cache: new EmbeddingCache(encoder.info.hash, config.embeddingCacheMb * 2 ** 20),
      log,
      observer: metrics,
      limits: config,
      adapting: new Set(),
      predictions,
      onLive: (head, live) => metrics.live(head, live),
    };
    engine.headsLoaded(adaptDeps);
    const continuous = new ContinuousLearning(adaptDeps, { pollMs: config.continuousPollMs, idleReleaseMs: 3000, settingsFor: continuousSettings(store, encoder), log });
    learner = continuous;
    const gauges = new LiveGauges(store, config.liveWindow, (head, live) => metrics.live(head, live), log);
    liveGauges = gauges;
    engine.feedbackLoaded(
      new Feedback(store, predictions, config.maxInputChars, {
        feedback: (head, outcome, count) => metrics.feedback(head, outcome, count),
        logged: (head) => {
          continuous.poke(head);
          gauges.changed(head);
        },
      }),
    );
  } catch (error) {
    auth.close();
    server.forceShutdown();
    metricsServer.server.close();
    await learner?.stop();
    await predictions?.close();
    await encoder?.close();
    await store.close();
    throw error;
  }
  server.setServing(true);
  const { info } = encoder;
  log.info(
    { port, metricsPort: metricsServer.port, healthPort, model: info.id, modelFile: model.modelPath, precision: info.weights, headIdentity: info.headIdentity.hash.slice(0, 12), headIdentityReason: info.headIdentity.reason, provider: info.provider, hiddenSize: info.hiddenSize, maxSequenceLength: info.maxSequenceLength, pooledIn: info.pooledIn, startupMs: Math.round(performance.now() - started) },
    "serving",
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info("shutting down: NOT_SERVING, draining in-flight calls");
      server.setServing(false);
      drain.abort();
      await server.shutdown(calls.idle(), config.shutdownTimeoutMs);
      sync?.stop();
      liveGauges?.stop();
      await learner?.stop();
      await predictions?.close();
      auth.close();
      await encoder?.close();
      await store.close();
      metricsServer.server.close();
      await tracing.shutdown();
      log.info("stopped");
    })();
    return stopping;
  };
  return {
    port,
    log,
    stop,
    stopOnSignals() {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        process.once(signal, () => {
          void stop().then(() => process.exit(0));
        });
      }
    },
  };
}
