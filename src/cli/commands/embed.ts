import { type WriteStream, createWriteStream, writeFileSync } from "node:fs";
import { extname } from "node:path";
import { Encoding, Pooling, Truncation } from "../../gen/bertd/v1/encoder_pb.js";
import { type Command, UsageError, choiceOption, connect, numberOption, stringOption } from "../command.js";
import { npyFloat32 } from "../npy.js";
import { TEXT_INPUT_OPTIONS, chunks, inputTexts } from "../texts.js";

export const POOLINGS = { cls: Pooling.CLS, mean: Pooling.MEAN, max: Pooling.MAX, pooler: Pooling.POOLER } as const;
export const TRUNCATIONS = { right: Truncation.RIGHT, left: Truncation.LEFT, none: Truncation.NONE } as const;

export const embed: Command = {
  name: "embed",
  brief: "print embeddings of TEXTs or a file (JSON lines), or write them to .npy or .jsonl",
  summary: "Prints one JSON line per input ({\"text\", \"embedding\"}), or writes all vectors to --out (.npy float32 matrix, or .jsonl).",
  usage: "bertd embed [options] TEXT… | --file F",
  client: true,
  options: {
    ...TEXT_INPUT_OPTIONS,
    out: { type: "string", value: "PATH", help: "write to PATH instead of stdout: .npy (float32, inputs × dimensions) or .jsonl" },
    pooling: { type: "string", value: "MODE", help: "cls, mean, max or pooler (default: the model's)" },
    normalize: { type: "boolean", help: "L2-normalize each vector" },
    dimensions: { type: "string", value: "N", help: "keep the first N dimensions" },
    truncation: { type: "string", value: "MODE", help: "right, left or none (reject over-long inputs); default: the server's" },
    "batch-size": { type: "string", value: "N", help: "inputs per request (default 64)" },
  },
  examples: [
    'bertd embed "a fast text editor" "a chess game"',
    "bertd embed --file packages.jsonl --text-field text --normalize --out vectors.npy",
    "BERTD_ADDRESS=bertd.internal:50051 bertd embed --file lines.txt --out vectors.jsonl",
  ],
  async run({ values, positionals }) {
    const texts = inputTexts(this, { values, positionals });
    const out = stringOption(values, "out");
    const kind = out === undefined ? "stdout" : extname(out).toLowerCase();
    if (kind !== "stdout" && kind !== ".npy" && kind !== ".jsonl") throw new UsageError(`--out ${out}: the name must end in .npy or .jsonl`);
    const pooling = choiceOption(values, "pooling", Object.keys(POOLINGS) as (keyof typeof POOLINGS)[]);
    const truncation = choiceOption(values, "truncation", Object.keys(TRUNCATIONS) as (keyof typeof TRUNCATIONS)[]);
    const request = {
      pooling: pooling ? POOLINGS[pooling] : Pooling.UNSPECIFIED,
      truncation: truncation ? TRUNCATIONS[truncation] : Truncation.UNSPECIFIED,
      normalize: values.normalize === true,
      dimensions: numberOption(values, "dimensions", { integer: true, min: 1 }) ?? 0,
      encoding: Encoding.BYTES,
    };
    const batchSize = numberOption(values, "batch-size", { integer: true, min: 1 }) ?? 64;
    const clients = connect(values);
    try {
      const call = clients.encoder().unary("embed");
      const vectors: Float32Array[] = [];
      let dimensions = 0;
      const sink = kind === ".jsonl" ? await openForWriting(out!) : undefined;
      let index = 0;
      for (const batch of chunks(texts, batchSize)) {
        const response = await call({ ...request, inputs: batch });
        dimensions = response.dimensions;
        for (const embedding of response.embeddings) {
          const bytes = new Uint8Array(embedding.bytes);
          const vector = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
          if (kind === ".npy") vectors.push(vector);
          else {
            const line = `${JSON.stringify({ text: texts[index], embedding: Array.from(vector) })}\n`;
            if (sink) sink.write(line);
            else process.stdout.write(line);
          }
          index++;
        }
      }
      if (sink) await new Promise<void>((resolve, reject) => sink.end((error?: Error | null) => (error ? reject(error) : resolve())));
      if (kind === ".npy") writeFileSync(out!, npyFloat32(vectors, dimensions));
      if (out !== undefined) process.stderr.write(`wrote ${texts.length} × ${dimensions} to ${out}\n`);
      return 0;
    } finally {
      clients.close();
    }
  },
};

/** A write stream that is open (a missing folder fails here, as one line, before any call), whose later errors reject its end(). */
async function openForWriting(path: string): Promise<WriteStream> {
  const stream = createWriteStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  // Without a listener a write error (a full disk) would crash the process with a stack trace; end() reports it.
  stream.on("error", () => {});
  return stream;
}
