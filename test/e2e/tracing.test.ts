import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { newApiKey } from "../../src/transport/auth/key-store.js";
import { startServer } from "../helpers/server-process.js";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: { stringValue?: string } }[];
}

describe("OpenTelemetry traces", () => {
  it("continues the caller's traceparent and exports server and stage spans over OTLP/HTTP", async () => {
    const spans: OtlpSpan[] = [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        if (request.url === "/v1/traces") {
          const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
          for (const resource of payload.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
    const { port } = receiver.address() as { port: number };
    const key = newApiKey("tracer", ["infer"]);
    const server = await startServer(["--auth", "api-key", "--api-keys", JSON.stringify(key.entry)], {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    try {
      const metadata = new Metadata();
      metadata.set("traceparent", `00-${traceId}-${parentId}-01`);
      await server.encoder({ apiKey: key.secret }).unary("embed")({ inputs: ["trace me", "and me"] }, { metadata });
      for (let i = 0; i < 50 && !spans.some((s) => s.name === "inference"); i++) await new Promise((r) => setTimeout(r, 100));
      const ours = spans.filter((s) => s.traceId === traceId);
      const root = ours.find((s) => s.name === "bertd.v1.Encoder/Embed");
      assert.ok(root, `server span exported: ${spans.map((s) => s.name).join(", ")}`);
      assert.equal(root.parentSpanId, parentId);
      assert.equal(root.attributes?.find((a) => a.key === "bertd.api_key.name")?.value.stringValue, "tracer", "the span names the API key");
      for (const stage of ["tokenize", "queue", "inference"]) {
        assert.equal(ours.find((s) => s.name === stage)?.parentSpanId, root.spanId, stage);
      }
      const line = server.logs.find((l) => l.method === "/bertd.v1.Encoder/Embed");
      // Every stage span the call made joined the caller's trace (none started a trace of its own).
      const stages = spans.filter((s) => ["tokenize", "queue", "inference"].includes(s.name));
      assert.ok(stages.length >= 3 && stages.every((s) => s.traceId === traceId), JSON.stringify(stages.map((s) => [s.name, s.traceId])));
      assert.equal(line?.trace_id, traceId);
      assert.equal(line?.span_id, root.spanId);
      assert.ok(!JSON.stringify(server.logs).includes("trace me"), "logs never carry the input text");
    } finally {
      await server.stop();
      receiver.close();
    }
  });
});
