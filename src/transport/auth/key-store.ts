import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";

export const SCOPES = ["infer", "adapt", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** One line of the keys file: the key itself is never stored, only its SHA-256. */
export interface KeyEntry {
  readonly name: string;
  readonly sha256: string;
  readonly scopes: readonly Scope[];
}

export interface Principal {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

export class KeyFileError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** A new random key and the entry that admits it. */
export function newApiKey(name: string, scopes: readonly Scope[]): { secret: string; entry: KeyEntry } {
  const secret = `bertd_${randomBytes(32).toString("base64url")}`;
  return { secret, entry: parseEntry({ name, sha256: sha256Hex(secret), scopes }, "new key") };
}

/** Entries from JSON lines or a JSON array; `source` names where they came from in errors. */
export function parseKeyEntries(text: string, source: string): KeyEntry[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  let raw: unknown[];
  if (trimmed.startsWith("[")) {
    raw = parseJson(trimmed, source) as unknown[];
    if (!Array.isArray(raw)) throw new KeyFileError(`${source}: expected a JSON array of key entries`);
    return raw.map((value, i) => parseEntry(value, `${source} entry ${i + 1}`));
  }
  const entries: KeyEntry[] = [];
  trimmed.split("\n").forEach((line, i) => {
    if (line.trim() === "" || line.trim().startsWith("#")) return;
    entries.push(parseEntry(parseJson(line, `${source} line ${i + 1}`), `${source} line ${i + 1}`));
  });
  return entries;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new KeyFileError(`${where}: not JSON (${(error as Error).message})`);
  }
}

function parseEntry(value: unknown, where: string): KeyEntry {
  const entry = value as Partial<Record<keyof KeyEntry, unknown>>;
  if (typeof entry !== "object" || entry === null) throw new KeyFileError(`${where}: expected an object {name, sha256, scopes}`);
  if (typeof entry.name !== "string" || !NAME.test(entry.name)) throw new KeyFileError(`${where}: name must be 1–64 letters, digits, '_', '.', '@', '-'`);
  if (typeof entry.sha256 !== "string" || !SHA256_HEX.test(entry.sha256)) throw new KeyFileError(`${where} (${entry.name}): sha256 must be 64 lower-case hex digits`);
  if (!Array.isArray(entry.scopes) || entry.scopes.length === 0) throw new KeyFileError(`${where} (${entry.name}): scopes must be a non-empty array of ${SCOPES.join(", ")}`);
  for (const scope of entry.scopes) {
    if (!SCOPES.includes(scope as Scope)) throw new KeyFileError(`${where} (${entry.name}): unknown scope ${JSON.stringify(scope)} (known: ${SCOPES.join(", ")})`);
  }
  return { name: entry.name, sha256: entry.sha256, scopes: entry.scopes as Scope[] };
}

interface StoredKey {
  readonly hash: Buffer;
  readonly principal: Principal;
}

export interface KeySources {
  /** Path of the keys file, re-read by reload(). */
  readonly file?: string;
  /** Entries given inline (BERTD_API_KEYS), fixed for the process's life. */
  readonly inline?: string;
}

/** The API keys the server accepts, as SHA-256 hashes; verify() compares in constant time. */
export class KeyStore {
  private keys: StoredKey[] = [];
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(private readonly sources: KeySources) {
    this.reload();
  }

  get size(): number {
    return this.keys.length;
  }

  names(): string[] {
    return this.keys.map((key) => key.principal.name);
  }

  /** Re-reads the sources; on any error the keys in force stay and the error is thrown. */
  reload(): void {
    const entries = [
      ...(this.sources.file ? parseKeyEntries(readKeysFile(this.sources.file), this.sources.file) : []),
      ...(this.sources.inline ? parseKeyEntries(this.sources.inline, "BERTD_API_KEYS") : []),
    ];
    const names = new Set<string>();
    for (const entry of entries) {
      if (names.has(entry.name)) throw new KeyFileError(`key name "${entry.name}" appears twice`);
      names.add(entry.name);
    }
    this.keys = entries.map((entry) => ({ hash: Buffer.from(entry.sha256, "hex"), principal: { name: entry.name, scopes: new Set(entry.scopes) } }));
  }

  /** The key's principal, or undefined. Every stored hash is compared, so timing says nothing about which. */
  verify(secret: string): Principal | undefined {
    const presented = createHash("sha256").update(secret, "utf8").digest();
    let found: Principal | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(presented, key.hash) && found === undefined) found = key.principal;
    }
    return found;
  }

  /**
   * Reloads when the keys file changes. The directory is watched, not the file, so that editors and
   * `mv` replacing the file are seen too.
   */
  watch(onReload: (error?: Error) => void): void {
    const file = this.sources.file;
    if (!file || this.watcher) return;
    const name = basename(file);
    this.watcher = watch(dirname(resolve(file)), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        try {
          this.reload();
          onReload();
        } catch (error) {
          onReload(error as Error);
        }
      }, 50).unref();
    });
    this.watcher.unref();
  }

  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }
}

function readKeysFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new KeyFileError(`cannot read the API keys file ${file}: ${(error as Error).message}`);
  }
}
