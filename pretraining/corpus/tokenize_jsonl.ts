// Tokenizes text fields of a JSONL file with bertd's own tokenizer (the one that serves the model),
// so that training sees exactly the ids serving will: each named field becomes an array of ids
// without [CLS]/[SEP], cut to --max-tokens.
//
//   node --import tsx pretraining/corpus/tokenize_jsonl.ts --in FILE --out FILE --fields a,b [--max-tokens 126]

import { createReadStream, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { BertTokenizer } from "../../src/core/tokenizer/index.js";

const HERE = resolve(import.meta.dirname);

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      in: { type: "string" },
      out: { type: "string" },
      fields: { type: "string", default: "a,b" },
      keep: { type: "string", default: "" },
      "max-tokens": { type: "string", default: "126" },
      vocab: { type: "string", default: join(HERE, "..", "..", "models", "default") },
    },
  });
  if (values.in === undefined || values.out === undefined) throw new Error("--in and --out are required");
  const fields = values.fields.split(",").filter(Boolean);
  const keep = values.keep.split(",").filter(Boolean);
  const max = Number(values["max-tokens"]);
  const tokenizer = BertTokenizer.fromDirectory(values.vocab);
  const out: string[] = [];
  const lines = createInterface({ input: createReadStream(values.in, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const row = JSON.parse(line) as Record<string, unknown>;
    const tokenized: Record<string, unknown> = {};
    for (const k of keep) tokenized[k] = row[k];
    for (const f of fields) tokenized[f] = Array.from(tokenizer.encode(String(row[f]), { addSpecialTokens: false }).ids.slice(0, max));
    out.push(JSON.stringify(tokenized));
  }
  writeFileSync(values.out, `${out.join("\n")}\n`);
  console.log(`tokenized ${out.length} rows of ${values.in} into ${values.out}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`tokenize_jsonl: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
