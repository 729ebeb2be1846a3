import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AdaptObserver } from "../adaptation/adapt-run.js";
import type { BatchReport, BatcherObserver } from "../core/batcher.js";
import type { StageTimes } from "../core/encoder.js";
import type { EvalMetrics } from "../heads/index.js";
import { serviceOf, type CallObserver, type MethodPath } from "./call-observer.js";

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * bertd's Prometheus metrics: base units, a `bertd_` prefix, no text or ids in labels; methods by full name
 * (/package.Service/Method). prom-client's process and Node.js metrics keep their standard names
 * (process_*, nodejs_*), which Node.js dashboards and alerts expect.
 */
export class Metrics implements BatcherObserver, CallObserver, AdaptObserver {
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

  private readonly adaptExamples = new Counter({ name: "bertd_adapt_examples_total", help: "Adapt examples by head and outcome (accepted, duplicate, rejected)", labelNames: ["head", "outcome"], registers: [this.registry] });
  private readonly pacedExamples = new Counter({ name: "bertd_adapt_paced_examples_total", help: "Adapt examples that waited for --adapt-examples-per-second (the stream was not read meanwhile)", registers: [this.registry] });
  private readonly pacedSeconds = new Counter({ name: "bertd_adapt_paced_seconds_total", help: "Seconds Adapt examples waited for --adapt-examples-per-second", registers: [this.registry] });
  private readonly adaptSteps = new Gauge({ name: "bertd_adapt_steps", help: "Optimizer steps of the head's current training stream", labelNames: ["head"], registers: [this.registry] });
  private readonly adaptLoss = new Gauge({ name: "bertd_adapt_running_loss", help: "Running training loss of the head's current stream", labelNames: ["head"], registers: [this.registry] });
  private readonly prequential = new Gauge({ name: "bertd_adapt_prequential_accuracy", help: "Accuracy on training examples predicted before they were learned", labelNames: ["head"], registers: [this.registry] });
  private readonly holdout = new Gauge({ name: "bertd_head_holdout_accuracy", help: "Holdout accuracy of the head's latest committed version", labelNames: ["head"], registers: [this.registry] });
  private readonly holdoutSpanF1 = new Gauge({ name: "bertd_head_holdout_span_f1", help: "TOKEN heads: entity-level holdout F1 of the latest committed version", labelNames: ["head"], registers: [this.registry] });
  private readonly prequentialSpanF1Gauge = new Gauge({ name: "bertd_adapt_prequential_span_f1", help: "TOKEN heads: entity-level F1 of training sentences tagged before they were learned", labelNames: ["head"], registers: [this.registry] });
  private readonly activeVersion = new Gauge({ name: "bertd_head_active_version", help: "The version Classify serves, by head", labelNames: ["head"], registers: [this.registry] });
  private readonly commits = new Counter({ name: "bertd_head_commits_total", help: "Committed head versions, by head and whether promoted", labelNames: ["head", "promoted"], registers: [this.registry] });
  private readonly rollbacks = new Counter({ name: "bertd_head_active_changes_total", help: "SetActiveVersion calls (rollbacks and promotions), by head", labelNames: ["head"], registers: [this.registry] });
  private readonly stageDuration = new Histogram({ name: "bertd_stage_duration_seconds", help: "Per-call stage durations: tokenize, queue, inference, head", labelNames: ["method", "stage"], buckets: [0.00001, 0.0001, ...LATENCY_BUCKETS], registers: [this.registry] });
  private readonly feedbackItems = new Counter({ name: "bertd_feedback_total", help: "Feedback items by head and outcome (accepted, unknown_id, expired, invalid_label, duplicate, wrong_head, invalid)", labelNames: ["head", "outcome"], registers: [this.registry] });
  private readonly liveAccuracy = new Gauge({ name: "bertd_head_live_accuracy", help: "Accuracy of what the head served, judged by feedback, over its last --live-window answered predictions", labelNames: ["head"], registers: [this.registry] });
  private readonly liveMacroF1 = new Gauge({ name: "bertd_head_live_macro_f1", help: "Macro-F1 of what the head served, judged by feedback, over the same window", labelNames: ["head"], registers: [this.registry] });
  private readonly liveExamples = new Gauge({ name: "bertd_head_live_examples", help: "Answered predictions (TOKEN heads: words) in the live window", labelNames: ["head"], registers: [this.registry] });
  private readonly headLabels = new Set<string>();

  constructor(private readonly maxHeadLabels = 100) {
    collectDefaultMetrics({ register: this.registry });
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

  finished(method: MethodPath, status: string, seconds: number): void {
    this.requests.inc({ service: serviceOf(method), method, code: status });
    this.duration.observe({ method }, seconds);
  }

  /** A call refused before its handler ran (authentication), by the path grpc-js gave: counted, but not in the latencies. */
  refused(method: string, status: string): void {
    this.requests.inc({ service: serviceOf(method), method, code: status });
  }

  stages(method: MethodPath, times: StageTimes): void {
    for (const [stage, range] of Object.entries(times) as [string, readonly [number, number] | undefined][]) {
      if (range) this.stageDuration.observe({ method, stage }, Math.max(0, range[1] - range[0]) / 1000);
    }
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

  /** Head names become labels only up to maxHeadLabels; later heads share "_other". */
  private headLabel(head: string): string {
    if (this.headLabels.has(head)) return head;
    if (this.headLabels.size >= this.maxHeadLabels) return "_other";
    this.headLabels.add(head);
    return head;
  }

  examples(head: string, outcome: "accepted" | "duplicate" | "rejected", count: number): void {
    if (count > 0) this.adaptExamples.inc({ head: this.headLabel(head), outcome }, count);
  }

  /** An Adapt stream ended having waited for the rate limit. */
  paced(examples: number, seconds: number): void {
    this.pacedExamples.inc(examples);
    this.pacedSeconds.inc(seconds);
  }

  trained(head: string, stats: { steps: number; runningLoss: number; prequentialAccuracy: number }): void {
    const labels = { head: this.headLabel(head) };
    this.adaptSteps.set(labels, stats.steps);
    if (Number.isFinite(stats.runningLoss)) this.adaptLoss.set(labels, stats.runningLoss);
    this.prequential.set(labels, stats.prequentialAccuracy);
  }

  committed(head: string, version: number, promoted: boolean, holdout: EvalMetrics): void {
    const labels = { head: this.headLabel(head) };
    this.commits.inc({ ...labels, promoted: String(promoted) });
    this.holdout.set(labels, holdout.accuracy);
    if (holdout.spanF1 !== undefined) this.holdoutSpanF1.set(labels, holdout.spanF1);
    if (promoted) this.activeVersion.set(labels, version);
  }

  /** The version this replica serves now (changed here or, with a shared store, by another replica). */
  serving(head: string, version: number): void {
    this.activeVersion.set({ head: this.headLabel(head) }, version);
  }

  prequentialSpanF1(head: string, f1: number): void {
    this.prequentialSpanF1Gauge.set({ head: this.headLabel(head) }, f1);
  }

  activeChanged(head: string, version: number): void {
    const labels = { head: this.headLabel(head) };
    this.rollbacks.inc(labels);
    this.activeVersion.set(labels, version);
  }

  feedback(head: string, outcome: string, count: number): void {
    if (count > 0) this.feedbackItems.inc({ head: head ? this.headLabel(head) : "_none", outcome }, count);
  }

  live(head: string, live: { examples: number; accuracy: number; macroF1: number }): void {
    const labels = { head: this.headLabel(head) };
    this.liveExamples.set(labels, live.examples);
    if (live.examples === 0) return;
    this.liveAccuracy.set(labels, live.accuracy);
    this.liveMacroF1.set(labels, live.macroF1);
  }

  /** Predictions kept for Feedback, read at scrape time. */
  watchPredictions(size: () => number): void {
    new Gauge({ name: "bertd_feedback_predictions", help: "Predictions kept in this process for Feedback", registers: [this.registry], collect() { this.set(size()); } });
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
