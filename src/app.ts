import type { Logger } from "pino";
import { type Config, parseDevice, resolveModelDir, threadsPerWorker } from "./config.js";
import { Encoder } from "./core/encoder.js";
import { EmbeddingCache } from "./adaptation/embedding-cache.js";
import { HeadRegistry } from "./adaptation/head-registry.js";
import type { AdaptDeps } from "./adaptation/adapt-run.js";
import { SqliteHeadStore } from "./store/sqlite-store.js";
import { poolingOfStoredConfig } from "./transport/adapt-config.js";
import { classifyHandler } from "./transport/classify-handler.js";
import { headsService } from "./transport/heads-service.js";
import { type Precision, readModelDirectory } from "./core/model-directory.js";
import { PoolingMode, type PoolingName } from "./core/pooling.js";
import { createLogger } from "./telemetry/logger.js";
import { Metrics } from "./telemetry/metrics.js";
import { Tracing } from "./telemetry/tracing.js";
import { CallLogger } from "./transport/calls.js";
import { encoderService } from "./transport/encoder-service.js";
import { GrpcServer } from "./transport/server.js";

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
  const device = parseDevice(config.device);
  const model = readModelDirectory(resolveModelDir(config.modelDir), config.precision as Precision, device.kind === "cuda");
  let encoder: Encoder | undefined;
  let adapt: AdaptDeps | undefined;
  const store = new SqliteHeadStore(config.dataDir);
  const metrics = new Metrics(config.metricsMaxHeads);
  const tracing = Tracing.fromEnv(process.env, log);
  const calls = new CallLogger(log, metrics, tracing);
  const server = new GrpcServer(
    {
      encoder: encoderService({
        encoder: () => encoder,
        calls,
        classify: classifyHandler({ encoder: () => encoder, registry: () => adapt?.registry, calls }),
      }),
      heads: headsService({ adapt: () => adapt, calls, onActiveChanged: (head, version) => metrics.activeChanged(head, version) }),
    },
    { maxReceiveMessageBytes: config.maxReceiveMessageBytes },
  );
  const port = await server.bind(config.host, config.port);
  const metricsServer = await metrics.listen(config.host, config.metricsPort);
  log.info({ port, host: config.host }, "listening; loading the model");

  if (device.kind === "cuda" && config.workers > 1) {
    log.warn({ workers: config.workers }, "--workers > 1 on one GPU: every worker holds its own session and copy of the weights on the card; one per GPU is the default");
  }
  const started = performance.now();
  try {
    encoder = await Encoder.open({
      model,
      device,
      workers: config.workers,
      intraOpThreads: threadsPerWorker(config),
      spinning: config.intraOpSpinning,
      limits: config,
      maxClientBatchSize: config.maxClientBatchSize,
      maxInputChars: config.maxInputChars,
      maxSequenceLength: config.maxSequenceLength,
      defaultPooling: config.pooling ? PoolingMode[config.pooling as PoolingName] : undefined,
      defaultTruncation: config.truncation as "right" | "left" | "none",
      observer: metrics,
      log,
    });
    metrics.watchQueue(() => encoder!.batcher.depth);
    metrics.setModel(encoder.info.id, encoder.info.provider, encoder.info.onnxRuntimeVersion);
    if (config.warmup) await encoder.warmUp();
    const registry = new HeadRegistry(store, encoder.info.hash, poolingOfStoredConfig(encoder.info.defaultPooling), log);
    await registry.loadAll();
    for (const name of registry.names()) metrics.activeChanged(name, (await registry.get(name)).version);
    adapt = { encoder, store, registry, cache: new EmbeddingCache(encoder.info.hash, config.embeddingCacheMb * 2 ** 20), log, busy: new Set(), observer: metrics };
  } catch (error) {
    server.server.forceShutdown();
    metricsServer.server.close();
    await encoder?.close();
    await store.close();
    throw error;
  }
  server.setServing(true);
  const { info } = encoder;
  log.info(
    { port, metricsPort: metricsServer.port, model: info.id, modelFile: model.modelPath, provider: info.provider, hiddenSize: info.hiddenSize, maxSequenceLength: info.maxSequenceLength, startupMs: Math.round(performance.now() - started) },
    "serving",
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info("shutting down: NOT_SERVING, draining in-flight calls");
      server.setServing(false);
      await server.shutdown(calls.idle(), config.shutdownTimeoutMs);
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
