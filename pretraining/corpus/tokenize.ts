// Tokenizes the corpus (build_corpus.py's text/*.txt) with bertd's own tokenizer and the
// bert-base-uncased vocabulary into uint16 id shards for transport to the GPU machine.
//
//   npm run corpus:tokenize [-- --data DIR] [-- --heldout-percent 1] [-- --shard-mib 16]
//
// Shard format (little-endian uint16, no header): the ids of one paragraph without [CLS]/[SEP], then
// SEP_ID; an empty line in the text (a document's end) adds a second SEP_ID. Paragraphs go to the
// held-out split by a hash of their text (--heldout-percent), so a rerun gives the same split.
// DIR/shards/{train,heldout}-NNNNN.u16 and DIR/shards/index.json (ids, shard sizes, sha256, vocab).

import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { BertTokenizer } from "../../src/core/tokenizer/index.js";

const HERE = resolve(import.meta.dirname);
export const SEP_ID = 102;

class ShardWriter {
  private buffer: Uint16Array;
  private used = 0;
  readonly shards: { file: string; tokens: number; sha256: string }[] = [];
  tokens = 0;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    shardTokens: number,
  ) {
    this.buffer = new Uint16Array(shardTokens);
  }

  push(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      if (this.used === this.buffer.length) this.flush();
      this.buffer[this.used++] = ids[i];
    }
    this.tokens += ids.length;
  }

  flush(): void {
    if (this.used === 0) return;
    const file = `${this.prefix}-${String(this.shards.length).padStart(5, "0")}.u16`;
    const bytes = Buffer.from(this.buffer.buffer, 0, this.used * 2); // little-endian hosts only (x86, arm64)
    writeFileSync(join(this.dir, file), bytes);
    this.shards.push({ file, tokens: this.used, sha256: createHash("sha256").update(bytes).digest("hex") });
    this.used = 0;
  }
}

/** Whether a paragraph goes to the held-out split: a stable hash of its text. */
export function isHeldOut(text: string, percent: number): boolean {
  return createHash("sha1").update(text).digest().readUInt32BE(0) % 10000 < percent * 100;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string", default: join(HERE, "..", "data") },
      vocab: { type: "string", default: join(HERE, "..", "..", "models", "default") },
      "heldout-percent": { type: "string", default: "1" },
      "shard-mib": { type: "string", default: "16" },
    },
  });
  const heldoutPercent = Number(values["heldout-percent"]);
  const shardTokens = Math.floor((Number(values["shard-mib"]) * 2 ** 20) / 2);
  if (!(heldoutPercent >= 0 && heldoutPercent < 100) || !(shardTokens > 0)) throw new Error("bad --heldout-percent or --shard-mib");
  const textDir = join(values.data, "text");
  const outDir = join(values.data, "shards");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tokenizer = BertTokenizer.fromDirectory(values.vocab);
  if (tokenizer.sepId !== SEP_ID || tokenizer.vocabSize > 65536) throw new Error("expected bert-base-uncased's vocabulary ([SEP] = 102, < 65,536 ids)");
  const train = new ShardWriter(outDir, "train", shardTokens);
  const heldout = new ShardWriter(outDir, "heldout", shardTokens);
  const perPackage: Record<string, { paragraphs: number; tokens: number }> = {};
  const started = performance.now();
  let unknown = 0;
  for (const name of readdirSync(textDir).filter((f) => f.endsWith(".txt")).sort()) {
    const stats = { paragraphs: 0, tokens: 0 };
    const lines = createInterface({ input: createReadStream(join(textDir, name), "utf8"), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === "") {
        train.push([SEP_ID]);
        continue;
      }
      const ids = tokenizer.encode(line, { addSpecialTokens: false }).ids;
      for (const id of ids) if (id === tokenizer.unkId) unknown++;
      const writer = isHeldOut(line, heldoutPercent) ? heldout : train;
      writer.push(ids);
      writer.push([SEP_ID]);
      stats.paragraphs++;
      stats.tokens += ids.length;
    }
    perPackage[name.replace(/\.txt$/, "")] = stats;
    console.log(`${name.padEnd(28)} ${String(stats.paragraphs).padStart(8)} paragraphs ${(stats.tokens / 1e6).toFixed(2).padStart(8)} M tokens`);
  }
  train.flush();
  heldout.flush();
  const seconds = (performance.now() - started) / 1000;
  const index = {
    format: "uint16 little-endian token ids; [SEP] (102) after every paragraph, a second one at a document's end",
    tokenizer: "bertd src/core/tokenizer (WordPiece), bert-base-uncased vocab.txt",
    vocab_sha256: createHash("sha256").update(readFileSync(join(values.vocab, "vocab.txt"))).digest("hex"),
    vocab_size: tokenizer.vocabSize,
    special_ids: { pad: tokenizer.padId, unk: tokenizer.unkId, cls: tokenizer.clsId, sep: tokenizer.sepId, mask: tokenizer.maskId },
    heldout_percent: heldoutPercent,
    unknown_tokens: unknown,
    train: { tokens: train.tokens, shards: train.shards },
    heldout: { tokens: heldout.tokens, shards: heldout.shards },
    packages: perPackage,
  };
  writeFileSync(join(outDir, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
  console.log(
    `tokenized ${((train.tokens + heldout.tokens) / 1e6).toFixed(1)} M tokens in ${seconds.toFixed(0)} s: ` +
      `train ${train.shards.length} shards, held-out ${heldout.shards.length}; ${outDir}/index.json`,
  );
}

if (process.argv[1]?.endsWith("tokenize.ts")) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`corpus:tokenize: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
