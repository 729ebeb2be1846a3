import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceClient } from "../../src/client/grpc-client.js";
import {
  AdaptRequestSchema,
  type AdaptCommitted,
  type AdaptConfigSchema,
  type AdaptProgress,
  type AdaptResponse,
  type ExampleSchema,
  type Heads,
} from "../../src/gen/bertd/v1/heads_pb.js";

export interface ToyExample {
  id: string;
  text: string;
  labels: string[];
  weight?: number;
}

export interface AdaptResult {
  progress: AdaptProgress[];
  committed: AdaptCommitted[];
}

type Step = ToyExample | MessageInitShape<typeof ExampleSchema> | "commit";

/** Streams a config, then examples and commits, then ends; collects every response. */
export function adapt(
  client: ServiceClient<typeof Heads>,
  config: MessageInitShape<typeof AdaptConfigSchema>,
  steps: Step[],
  options: { end?: boolean; first?: MessageInitShape<typeof AdaptRequestSchema> } = {},
): Promise<AdaptResult> {
  const call = client.stream("adapt");
  const result: AdaptResult = { progress: [], committed: [] };
  return new Promise((resolve, reject) => {
    call.on("data", (response: AdaptResponse) => {
      if (response.response.case === "progress") result.progress.push(response.response.value);
      if (response.response.case === "committed") result.committed.push(response.response.value);
    });
    call.on("error", reject);
    call.on("end", () => resolve(result));
    call.write(create(AdaptRequestSchema, options.first ?? { request: { case: "config", value: config } }));
    for (const step of steps) {
      if (step === "commit") call.write(create(AdaptRequestSchema, { request: { case: "commit", value: {} } }));
      else call.write(create(AdaptRequestSchema, { request: { case: "example", value: step } }));
    }
    if (options.end !== false) call.end();
  });
}

const WORDS: Record<string, string[]> = {
  sport: ["football", "match", "goal", "team", "player", "league", "referee", "stadium", "score", "coach"],
  food: ["recipe", "oven", "flour", "sugar", "bake", "kitchen", "butter", "dinner", "salt", "soup"],
  music: ["guitar", "song", "drum", "melody", "concert", "piano", "band", "album", "chord", "singer"],
};

/** A separable toy task: each text is words of its label's topic. */
export function toyExamples(count: number, labels: string[] = ["sport", "food"], prefix = "ex", seed = 1): ToyExample[] {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, (_, i) => {
    const label = labels[i % labels.length];
    const words = Array.from({ length: 4 + Math.floor(random() * 4) }, () => WORDS[label][Math.floor(random() * 10)]);
    return { id: `${prefix}-${i}`, text: words.join(" "), labels: [label] };
  });
}

/** Pairs of toy texts: "same" when both are of one topic. */
export function toyPairs(count: number, prefix: string, seed: number): (ToyExample & { textPair: string })[] {
  const a = toyExamples(count, ["sport", "food"], `${prefix}a`, seed);
  const b = toyExamples(count, ["sport", "food", "food"], `${prefix}b`, seed + 1);
  return a.map((x, i) => ({ id: `${prefix}-${i}`, text: x.text, textPair: b[i].text, labels: [x.labels[0] === b[i].labels[0] ? "same" : "different"] }));
}
