/**
 * Builds test/fixtures/debian-ner/{train,validation,test}.jsonl, a named-entity data set made from
 * Debian's own records on this machine: the package index (`apt-cache dumpavail`) and the installed
 * packages' changelogs (/usr/share/doc/PKG/changelog.Debian.gz). See test/fixtures/debian-ner/README.md.
 *
 *   node --import tsx scripts/make-debian-ner.ts [--out test/fixtures/debian-ner]
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { splitWords } from "../src/core/words.js";

type EntityType = "PER" | "ORG" | "EMAIL" | "PKG" | "VER";
interface Sentence {
  id: string;
  words: string[];
  tags: string[];
}

const out = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1] : "test/fixtures/debian-ner";
/** Sentences kept per split: the fixture stays small. */
const LIMITS = { train: 2400, validation: 300, test: 600 } as const;
const EMAIL = /^[\w.+-]+@[\w-]+(\.[\w-]+)+$/u;
const TEAM = /\b(team|maintainers|group|project|developers|packagers|debian|ubuntu|qa|list|committee)\b/iu;

/** A number in [0, 1) from a string, stable across runs and machines. */
function unit(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0) / 2 ** 32;
}

function splitOf(name: string): keyof typeof LIMITS {
  const u = unit(`split:${name}`);
  return u < 0.8 ? "train" : u < 0.9 ? "validation" : "test";
}

/** Builds a sentence from parts; entity parts carry their type. Returns undefined if an entity does not fall on word boundaries. */
class Builder {
  private text = "";
  private readonly spans: { type: EntityType; start: number; end: number }[] = [];

  add(part: string, type?: EntityType): this {
    const start = this.text.length;
    this.text += part;
    if (type) this.spans.push({ type, start, end: this.text.length });
    return this;
  }

  /** Entity-free text, with known names, e-mail addresses and the package's own name labelled where they occur. */
  addFree(part: string, persons: ReadonlySet<string>, pkg: string): this {
    const split = splitWords(part);
    const base = this.text.length;
    this.text += part;
    for (let i = 0; i < split.words.length; i++) {
      const word = split.words[i];
      if (EMAIL.test(word)) this.spans.push({ type: "EMAIL", start: base + split.starts[i], end: base + split.ends[i] });
      else if (word === pkg && pkg.length >= 3) this.spans.push({ type: "PKG", start: base + split.starts[i], end: base + split.ends[i] });
      else {
        for (const length of [4, 3, 2]) {
          if (i + length > split.words.length) continue;
          const candidate = part.slice(split.starts[i], split.ends[i + length - 1]);
          if (persons.has(candidate)) {
            this.spans.push({ type: "PER", start: base + split.starts[i], end: base + split.ends[i + length - 1] });
            i += length - 1;
            break;
          }
        }
      }
    }
    return this;
  }

  build(id: string): Sentence | undefined {
    const split = splitWords(this.text);
    const tags = split.words.map(() => "O");
    for (const span of this.spans) {
      const first = split.starts.findIndex((s) => s === span.start);
      const last = split.ends.findIndex((e) => e === span.end);
      if (first < 0 || last < first) return undefined;
      for (let i = first; i <= last; i++) tags[i] = `${i === first ? "B" : "I"}-${span.type}`;
    }
    return split.words.length > 0 ? { id, words: [...split.words], tags } : undefined;
  }
}

interface Person {
  name: string;
  email: string;
  type: "PER" | "ORG";
}

function person(field: string): Person | undefined {
  const match = /^\s*(.+?)\s*<([^>]+)>\s*$/u.exec(field);
  if (!match || !EMAIL.test(match[2]) || /[<>"()]/u.test(match[1])) return undefined;
  return { name: match[1], email: match[2], type: TEAM.test(match[1]) ? "ORG" : "PER" };
}

interface IndexRecord {
  package: string;
  version: string;
  maintainer: Person;
  description: string;
  depends: { name: string; version: string }[];
}

function readIndex(): IndexRecord[] {
  const dump = execFileSync("apt-cache", ["dumpavail"], { maxBuffer: 1 << 30, encoding: "utf8" });
  const records: IndexRecord[] = [];
  for (const block of dump.split("\n\n")) {
    const field = (name: string): string | undefined => new RegExp(`^${name}: (.*)$`, "mu").exec(block)?.[1];
    const [pkg, version, maintainer, description] = [field("Package"), field("Version"), field("Maintainer"), field("Description")];
    const who = maintainer ? person(maintainer) : undefined;
    if (!pkg || !version || !who || !description) continue;
    const depends = (field("Depends") ?? "")
      .split(",")
      .map((d) => /^\s*([a-z0-9][a-z0-9+.-]+) \(>= ([^)\s]+)\)/u.exec(d))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ name: m[1], version: m[2] }));
    records.push({ package: pkg, version, maintainer: who, description, depends });
  }
  return records;
}

interface ChangelogEntry {
  package: string;
  version: string;
  signer: Person;
  date: string;
  bullets: string[];
}

function readChangelogs(): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  for (const dir of readdirSync("/usr/share/doc").sort()) {
    const path = join("/usr/share/doc", dir, "changelog.Debian.gz");
    if (!existsSync(path)) continue;
    let text: string;
    try {
      text = gunzipSync(readFileSync(path)).toString("utf8");
    } catch {
      continue;
    }
    const blocks = text.split(/\n(?=\S)/u).slice(0, 12);
    for (const block of blocks) {
      const header = /^([a-z0-9][a-z0-9+.-]+) \(([^)\s]+)\) [^;]+; urgency=\w+/u.exec(block);
      const trailer = /^ -- (.+?>)\s+(.+)$/mu.exec(block);
      const signer = trailer ? person(trailer[1]) : undefined;
      if (!header || !trailer || !signer) continue;
      const bullets = block
        .split(/\n\s+\*\s+/u)
        .slice(1)
        .map((b) => b.split(/\n -- /u)[0].replace(/\s+/gu, " ").trim())
        .filter((b) => b.length > 10 && b.length < 240 && !b.startsWith("["));
      if (bullets.length > 0) entries.push({ package: header[1], version: header[2], signer, date: trailer[2].trim(), bullets });
    }
  }
  return entries;
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/u.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

function main(): void {
  const index = readIndex();
  const changelogs = readChangelogs();
  const persons = new Set<string>();
  for (const who of [...index.map((r) => r.maintainer), ...changelogs.map((c) => c.signer)]) {
    if (who.type === "PER" && who.name.includes(" ")) persons.add(who.name);
  }
  const sentences: Record<keyof typeof LIMITS, { key: number; sentence: Sentence }[]> = { train: [], validation: [], test: [] };
  const keep = (pkg: string, id: string, builder: Builder): void => {
    const sentence = builder.build(id);
    if (sentence) sentences[splitOf(pkg)].push({ key: unit(`order:${id}`), sentence });
  };

  for (const r of index) {
    if (unit(`take:${r.package}`) > 0.08) continue;
    const m = r.maintainer;
    const short = lowerFirst(r.description.trim());
    const dep = r.depends.length > 0 ? r.depends[Math.floor(unit(`dep:${r.package}`) * r.depends.length)] : undefined;
    const frame = Math.floor(unit(`frame:${r.package}`) * (dep ? 5 : 4));
    const b = new Builder();
    if (frame === 0) b.add(m.name, m.type).add(" <").add(m.email, "EMAIL").add("> maintains ").add(r.package, "PKG").add(", ").addFree(short, persons, r.package).add(".");
    else if (frame === 1) b.add("Version ").add(r.version, "VER").add(" of ").add(r.package, "PKG").add(" (").addFree(short, persons, r.package).add(") is maintained by ").add(m.name, m.type).add(".");
    else if (frame === 2) b.add("Please report bugs in ").add(r.package, "PKG").add(" ").add(r.version, "VER").add(" to ").add(m.name, m.type).add(" at ").add(m.email, "EMAIL").add(".");
    else if (frame === 3) b.add("The ").addFree(short, persons, r.package).add(" ").add(r.package, "PKG").add(" was last uploaded as ").add(r.version, "VER").add(" by ").add(m.name, m.type).add(".");
    else b.add(r.package, "PKG").add(" ").add(r.version, "VER").add(", ").addFree(short, persons, r.package).add(", depends on ").add(dep!.name, "PKG").add(" (>= ").add(dep!.version, "VER").add(").");
    keep(r.package, `index:${r.package}`, b);
  }

  for (const c of changelogs) {
    const id = `changelog:${c.package}:${c.version}`;
    const bullet = c.bullets[Math.floor(unit(`bullet:${id}`) * c.bullets.length)];
    const s = c.signer;
    const frame = Math.floor(unit(`frame:${id}`) * 3);
    const b = new Builder();
    if (frame === 0) b.add(s.name, s.type).add(" <").add(s.email, "EMAIL").add("> uploaded ").add(c.package, "PKG").add(" ").add(c.version, "VER").add(": ").addFree(bullet, persons, c.package);
    else if (frame === 1) b.add(c.package, "PKG").add(" (").add(c.version, "VER").add(") unstable; urgency=medium * ").addFree(bullet, persons, c.package).add(" -- ").add(s.name, s.type).add(" <").add(s.email, "EMAIL").add(`> ${c.date}`);
    else b.add("In ").add(c.package, "PKG").add(" ").add(c.version, "VER").add(", ").add(s.name, s.type).add(" wrote: ").addFree(bullet, persons, c.package);
    keep(c.package, id, b);
  }

  mkdirSync(out, { recursive: true });
  for (const split of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
    const chosen = sentences[split].sort((a, b) => a.key - b.key).slice(0, LIMITS[split]);
    writeFileSync(join(out, `${split}.jsonl`), chosen.map(({ sentence }) => JSON.stringify(sentence)).join("\n") + "\n");
    const entities = chosen.reduce((n, { sentence }) => n + sentence.tags.filter((t) => t.startsWith("B-")).length, 0);
    console.log(`${split}: ${chosen.length} sentences of ${sentences[split].length}, ${entities} entities`);
  }
}

main();
