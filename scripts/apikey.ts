/**
 * npm run apikey -- --name NAME --scopes infer,adapt[,admin] [--append FILE]
 * Creates an API key: prints the key once (only its SHA-256 is kept) and the entry for the keys file;
 * --append adds the entry to FILE, which a running server reloads by itself.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { KeyFileError, SCOPES, newApiKey, parseKeyEntries, type Scope } from "../src/transport/auth/key-store.js";

const usage = `usage: npm run apikey -- --name NAME --scopes ${SCOPES.join(",")} [--append KEYS_FILE]`;
try {
  const { values } = parseArgs({ options: { name: { type: "string" }, scopes: { type: "string" }, append: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (!values.name || !values.scopes) throw new KeyFileError(`--name and --scopes are required\n${usage}`);
  const scopes = values.scopes.split(",").map((s) => s.trim()).filter((s) => s !== "") as Scope[];
  const existing = values.append && existsSync(values.append) ? readFileSync(values.append, "utf8") : "";
  if (existing.trim().startsWith("[")) throw new KeyFileError(`${values.append} is a JSON array; --append writes JSON lines: run without --append and add the printed entry to the array`);
  if (values.append && parseKeyEntries(existing, values.append).some((e) => e.name === values.name)) {
    throw new KeyFileError(`${values.append} already has a key named "${values.name}": names are unique (remove the old line to replace the key)`);
  }
  const { secret, entry } = newApiKey(values.name, scopes);
  const line = JSON.stringify(entry);
  if (values.append) {
    // A file whose last line lacks its newline would glue the two entries into one broken line.
    const needsNewline = !/(^|\n)$/.test(existing);
    appendFileSync(values.append, `${needsNewline ? "\n" : ""}${line}\n`, { mode: 0o600 });
  }
  console.log(`API key "${entry.name}" (scopes: ${entry.scopes.join(", ")}). It is shown only now; the server keeps only its SHA-256:\n`);
  console.log(`  ${secret}\n`);
  console.log(values.append ? `Appended to ${values.append}:` : "Add this line to the keys file (--api-keys-file):");
  console.log(line);
} catch (error) {
  console.error(`apikey: ${(error as Error).message}`);
  process.exit(2);
}
