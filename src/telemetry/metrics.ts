import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { status } from "@grpc/grpc-js";
import type { BatchReport, BatcherObserver } from "../core/batcher.js";
import type { CallObserver } from "../transport/calls.js";
import { statusName } from "../transport/status.js";

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** bertd's Prometheus metrics: base units, a `bertd_` prefix, no text or ids in labels. */
export class Metrics implements BatcherObserver, CallObserver {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: "bertd_requests_total", help: "Finished RPCs by service, method and gRPC status code", labelNames: ["service", "method", "code"], registers: [this.registry] });
  private readonly duration = new Histogram({ name: "bertd_request_duration_seconds", help: "RPC duration", labelNames: ["method"], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly queueWait = new Histogram({ name: "bertd_queue_wait_seconds", help: "Time an input waited in the batching queue", labelNames: ["priority"], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly inference = new Histogram({ name: "bertd_inference_duration_seconds", help: "ONNX Runtime time per batch", buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly pooling = new Histogram({ name: "bertd_pooling_duration_seconds", help: "Pooling time per batch", buckets: [0.00001, 0.0001, 0.001, 0.01, 0.1], registers: [this.registry] });
  private readonly batchSize = new Histogram({ name: "bertd_batch_size", help: "Inputs per inference batch", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry] });
  private readonly batchTokens = new Histogram({ name: "bertd_batch_tokens", help: "Padded tokens per inference batch", buckets: [16, 64, 256, 1024, 4096, 16384, 65536], registers: [this.registry] });
  private readonly padding = new Histogram({ name: "bertd_batch_padding_ratio", help: "Padded tokens / real tokens per batch", buckets: [1, 1.05, 1.1, 1.2, 1.5, 2, 3, 5], registers: [this.registry] });
  private readonly rejections = new Counter({ name: "bertd_rejected_total", help: "Calls dropped or refused by the queue, by reason", labelNames: ["reason"], registers: [this.registry] });
  private readonly tokens = new Counter({ name: "bertd_input_tokens_total", help: "Tokens of inputs that reached inference", registers: [this.registry] });
  private readonly batches = new Counter({ name: "bertd_batches_total", help: "Inference batches run, by priority", labelNames: ["priority"], registers: [this.registry] });
  private readonly modelInfo = new Gauge({ name: "bertd_model_info", help: "The served model (value 1)", labelNames: ["model", "provider", "onnxruntime_version"], registers: [this.registry] });
  private readonly busySeconds = new Counter({ name: "bertd_worker_busy_seconds_total", help: "Seconds inference workers spent running batches (rate / workers = utilisation)", registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "bertd_process_" });
  }

  /** Queue depth, read at scrape time. */
  watchQueue(depth: () => { requests: number; tokens: number }): void {
    new Gauge({ name: "bertd_queue_requests", help: "Requests waiting for inference", registers: [this.registry], collect() { this.set(depth().requests); } });
    new Gauge({ name: "bertd_queue_tokens", help: "Tokens waiting for inference", registers: [this.registry], collect() { this.set(depth().tokens); } });
  }

  setModel(model: string, provider: string, onnxRuntimeVersion: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ model, provider, onnxruntime_version: onnxRuntimeVersion }, 1);
  }

  finished(method: string, code: status, seconds: number): void {
    const service = ["Adapt", "ListHeads", "GetHead", "DeleteHead", "SetActiveVersion"].includes(method) ? "bertd.v1.Heads" : "bertd.v1.Encoder";
    this.requests.inc({ service, method, code: statusName(code) });
    this.duration.observe({ method }, seconds);
  }

  batch(report: BatchReport): void {
    this.batches.inc({ priority: report.priority });
    for (const ms of report.queueWaitMs) this.queueWait.observe({ priority: report.priority }, ms / 1000);
    this.inference.observe(report.inferenceMs / 1000);
    this.pooling.observe(report.poolingMs / 1000);
    this.batchSize.observe(report.size);
    this.batchTokens.observe(report.paddedTokens);
    this.padding.observe(report.paddedTokens / Math.max(report.tokens, 1));
    this.tokens.inc(report.tokens);
    this.busySeconds.inc((report.inferenceMs + report.poolingMs) / 1000);
  }

  rejected(reason: "queue_full" | "deadline" | "cancelled"): void {
    this.rejections.inc({ reason });
  }

  /** Serves GET /metrics on its own port. */
  listen(host: string, port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((request, response) => {
      if (request.url !== "/metrics") {
        response.writeHead(404).end("not found; try /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        (error: Error) => response.writeHead(500).end(error.message),
      );
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        const address = server.address();
        resolve({ server, port: typeof address === "object" && address ? address.port : port });
      });
    });
  }
}
