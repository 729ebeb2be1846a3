/**
 * npm run apikey -- --name NAME --scopes infer,adapt[,admin] [--append FILE]
 * Creates an API key: prints the key once (only its SHA-256 is kept) and the entry for the keys file;
 * --append adds the entry to FILE, which a running server reloads by itself.
 */
import { appendFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { KeyFileError, SCOPES, newApiKey, type Scope } from "../src/transport/auth/key-store.js";

const usage = `usage: npm run apikey -- --name NAME --scopes ${SCOPES.join(",")} [--append KEYS_FILE]`;
try {
  const { values } = parseArgs({ options: { name: { type: "string" }, scopes: { type: "string" }, append: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (!values.name || !values.scopes) throw new KeyFileError(`--name and --scopes are required\n${usage}`);
  const scopes = values.scopes.split(",").map((s) => s.trim()).filter((s) => s !== "") as Scope[];
  const { secret, entry } = newApiKey(values.name, scopes);
  const line = JSON.stringify(entry);
  if (values.append) appendFileSync(values.append, `${line}\n`, { mode: 0o600 });
  console.log(`API key "${entry.name}" (scopes: ${entry.scopes.join(", ")}). It is shown only now; the server keeps only its SHA-256:\n`);
  console.log(`  ${secret}\n`);
  console.log(values.append ? `Appended to ${values.append}:` : "Add this line to the keys file (--api-keys-file):");
  console.log(line);
} catch (error) {
  console.error(`apikey: ${(error as Error).message}`);
  process.exit(2);
}
