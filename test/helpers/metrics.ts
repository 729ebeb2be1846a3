import assert from "node:assert/strict";

/** One sample of a Prometheus text page: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scraped /metrics page: its text (for assert.match) and its samples, read by name and labels. */
export class MetricsPage {
  readonly samples: readonly Sample[];

  constructor(readonly text: string) {
    const samples: Sample[] = [];
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
      assert.ok(match, `not a Prometheus sample line: ${JSON.stringify(line)}`);
      samples.push({ name: match[1], labels: parseLabels(match[2] ?? ""), value: sampleValue(match[3]) });
    }
    this.samples = samples;
  }

  /** The samples named `name` whose labels include every one given. */
  all(name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /**
   * The value of the sample named `name` with exactly these labels, else of the one sample whose labels
   * include them; undefined when there is none, an error when several match and none exactly.
   */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const found = this.all(name, labels);
    const exact = found.find((s) => Object.keys(s.labels).length === Object.keys(labels).length);
    if (exact) return exact.value;
    assert.ok(found.length <= 1, `${found.length} samples of ${name} match ${JSON.stringify(labels)}: name more labels`);
    return found[0]?.value;
  }

  /** The value, or 0 when the series does not exist yet (a counter nothing has incremented). */
  count(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.value(name, labels) ?? 0;
  }
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)",?/gy;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    labels[match[1]] = match[2].replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    consumed = pattern.lastIndex;
  }
  assert.equal(consumed, text.length, `labels not parsed: {${text}}`);
  return labels;
}

/** GET http://127.0.0.1:PORT/metrics (a server's metricsPort), which must answer 200. */
export async function scrapeMetrics(server: number | { readonly metricsPort: number }): Promise<MetricsPage> {
  const port = typeof server === "number" ? server : server.metricsPort;
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200, `GET /metrics on port ${port}`);
  return new MetricsPage(await response.text());
}

function sampleValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}
