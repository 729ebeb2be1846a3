import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, ConsoleSpanExporter, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace";
import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";

import type { StageTimes } from "../core/encoder.js";

const propagator = new W3CTraceContextPropagator();
const metadataGetter = {
  keys: (carrier: Metadata) => Object.keys(carrier.getMap()),
  get: (carrier: Metadata, key: string) => {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};

/**
 * Server spans per RPC and child spans per stage, continuing an incoming W3C `traceparent`.
 * Configured only by the standard OTEL_* variables: off unless an OTLP endpoint or
 * OTEL_TRACES_EXPORTER (otlp, console) is set, and off whenever OTEL_SDK_DISABLED=true.
 */
export class Tracing {
  private constructor(
    private readonly provider: TracerProvider | undefined,
    private readonly tracer: Tracer | undefined,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv, log: Logger): Tracing {
    if (env.OTEL_SDK_DISABLED === "true") return new Tracing(undefined, undefined);
    const kind = env.OTEL_TRACES_EXPORTER ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? "otlp" : "none");
    let exporter: SpanExporter;
    if (kind === "otlp") exporter = new OTLPTraceExporter();
    else if (kind === "console") exporter = new ConsoleSpanExporter();
    else return new Tracing(undefined, undefined);
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? "bertd" }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 1000) })],
    });
    log.info({ exporter: kind }, "tracing on");
    return new Tracing(provider, provider.getTracer("bertd"));
  }

  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /** The server span of one RPC; its parent is the caller's traceparent, when sent. */
  startCall(method: string, service: string, metadata: Metadata): Span | undefined {
    if (!this.tracer) return undefined;
    const parent = propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
    return this.tracer.startSpan(
      `${service}/${method}`,
      { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method } },
      parent,
    );
  }

  /** Child spans of a call's stages, with the times they really took. */
  stages(span: Span | undefined, times: StageTimes): void {
    if (!this.tracer || !span) return;
    const parent: Context = trace.setSpan(ROOT_CONTEXT, span);
    const origin = performance.timeOrigin;
    for (const [name, range] of Object.entries(times) as [string, readonly [number, number] | undefined][]) {
      if (!range) continue;
      this.tracer.startSpan(name, { startTime: origin + range[0] }, parent).end(origin + range[1]);
    }
  }

  endCall(span: Span | undefined, code: number, details?: string): void {
    if (!span) return;
    span.setAttribute("rpc.grpc.status_code", code);
    if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
    span.end();
  }

  async shutdown(): Promise<void> {
    // The exporter rejects when no collector listens: losing spans must not fail a shutdown.
    await this.provider?.shutdown().catch(() => {});
  }
}
