export type Call = "embed" | "classify" | "adapt" | "teiEmbed" | "teiEmbedStream";

export interface Workload {
  readonly call: Call;
  readonly executor: "constant-arrival-rate" | "ramping-arrival-rate" | "constant-vus";
  readonly rate?: number;
  readonly startRate?: number;
  readonly timeUnit?: string;
  readonly stages?: readonly { readonly target: number; readonly duration: string }[];
  readonly duration?: string;
  readonly preAllocatedVUs?: number;
  readonly maxVUs?: number;
  readonly vus?: number;
  readonly inputsPerCall?: number;
  readonly head?: string;
  readonly examplesPerStream?: number;
  /** teiEmbedStream: EmbedRequests per stream. */
  readonly messagesPerStream?: number;
  /** Ramps: the knee is the last time slice answered in full (≥ 90%) with p95 under this. */
  readonly kneeP95Ms?: number;
}

export interface Thresholds {
  readonly p95Ms?: number;
  readonly maxErrorRate?: number;
}

export interface Scenario {
  readonly description: string;
  readonly setup?: { readonly trainHead: string; readonly examples: number };
  readonly workloads: Readonly<Record<string, Workload>>;
  readonly thresholds?: Readonly<Record<string, Thresholds>>;
}

export interface Definitions {
  readonly corpus: readonly string[];
  readonly topics: Readonly<Record<string, readonly string[]>>;
  readonly scenarios: Readonly<Record<string, Scenario>>;
}

export interface ExampleJson {
  id: string;
  text: string;
  labels: string[];
}

export type AdaptMessageJson = { config: { head: string; labels: string[]; progressEvery: number } } | { example: ExampleJson } | { commit: Record<string, never> };

export function parseDuration(text: string): number;
export function scenario(definitions: Definitions, name: string): Scenario;
export function workloadSeconds(workload: Workload): number;
export function withDuration(found: Scenario, seconds: number): Scenario;
export function k6Options(found: Scenario): { scenarios: Record<string, Record<string, unknown>>; thresholds: Record<string, string[]> };
export function embedRequest(definitions: Definitions, workload: Workload, iteration: number): { inputs: string[]; normalize: boolean };
export function teiEmbedRequest(definitions: Definitions, workload: Workload, iteration: number): { inputs: string; truncate: boolean };
export function teiEmbedStreamRequests(definitions: Definitions, workload: Workload, iteration: number): { inputs: string; truncate: boolean }[];
export function classifyRequest(definitions: Definitions, workload: Workload, iteration: number): { head: string; inputs: string[]; topK: number };
export function examples(definitions: Definitions, count: number, prefix: string): ExampleJson[];
export function adaptMessages(definitions: Definitions, head: string, count: number, vu: number, iteration: number): AdaptMessageJson[];
export function adaptHead(workload: Workload, vu: number): string;
