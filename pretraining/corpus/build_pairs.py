#!/usr/bin/env python3
"""Natural text pairs for the contrastive stage, and the evaluation split of Debian descriptions.

Sources (all from Debian's main archive; their licences are in the corpus manifest):
  debian   package short description <-> long description (apt's Translation-en lists; run
           `apt-get update -o Acquire::Languages=en` first)
  man      man page NAME line <-> first DESCRIPTION paragraph (manpages, manpages-dev)
  dict     headword <-> definition (GCIDE without WordNet-derived entries, FOLDOC, Jargon File)

Hygiene: every package of debian-package-sections' validation and test splits, and every package
whose name stem (lib prefix and -dev/-doc/-dbg/... suffixes removed) equals such a package's stem, is
kept out of the pairs and written to DIR/heldout-debian.jsonl for the retrieval evaluation instead.
WordNet (dict-wn) is never read.

Writes DIR/pairs.jsonl ({"source", "group", "a", "b"}), DIR/heldout-debian.jsonl ({"id", "a", "b"})
and DIR/pairs-manifest.json.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_corpus import clean_paragraph, dict_entries, is_wordnet_derived  # noqa: E402

SUFFIXES = ("-dev", "-doc", "-dbg", "-dbgsym", "-data", "-common", "-bin", "-utils", "-tools", "-examples", "-plugins", "-core", "-runtime")


def stem(package: str) -> str:
    name = re.sub(r"^(lib|python3-|python-|golang-|ruby-|node-|r-cran-|libghc-|php-|perl-)", "", package)
    changed = True
    while changed:
        changed = False
        for suffix in SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                name, changed = name[: -len(suffix)], True
    return re.sub(r"[\d.]+$", "", name) or name


def reserved_packages(sections_dir: Path) -> set[str]:
    names: set[str] = set()
    for split in ("validation", "test"):
        for line in (sections_dir / f"{split}.jsonl").read_text().splitlines():
            if line.strip():
                names.add(json.loads(line)["id"])
    return names


def debian_descriptions() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for path in sorted(glob.glob("/var/lib/apt/lists/*_main_i18n_Translation-en.lz4")):
        text = subprocess.run(["lz4cat", path], check=True, capture_output=True).stdout.decode("utf-8", "replace")
        for record in text.split("\n\n"):
            package, short, long_lines, in_desc = None, None, [], False
            for line in record.splitlines():
                if line.startswith("Package: "):
                    package = line[9:].strip()
                elif line.startswith("Description-en: "):
                    short, in_desc = line[16:].strip(), True
                elif in_desc and line.startswith(" "):
                    body = line[1:]
                    long_lines.append("" if body.strip() == "." else body.strip())
                elif not line.startswith(" "):
                    in_desc = False
            if package and short and long_lines:
                paragraphs = " ".join(long_lines).strip()
                out[package] = (short, re.sub(r"\s+", " ", paragraphs))
    return out


ROFF = re.compile(r"\\f[BIRP]|\\\(..|\\[-&e|^]|\\s[-+]?\d|\\\*\(..|\\\*.")


def man_pair(source: str) -> tuple[str, str] | None:
    lines = source.splitlines()
    name, description, section = [], [], None
    for line in lines:
        if line.startswith(".SH"):
            section = line[3:].strip().strip('"').upper()
            if section != "NAME" and name and description:
                break
            continue
        if section not in ("NAME", "DESCRIPTION"):
            continue
        if line.startswith((".PP", ".P", ".LP", ".TP", ".IP", ".sp")):
            if section == "DESCRIPTION" and description:
                break
            continue
        if line.startswith((".\\\"", "'\\\"")):
            continue
        if line.startswith("."):
            words = line.split(None, 1)
            line = words[1] if len(words) > 1 and words[0] in (".B", ".I", ".BR", ".IR", ".RB", ".RI", ".BI", ".IB") else ""
            line = line.replace('"', "")
        text = ROFF.sub("", line.replace("\\-", "-")).replace("\\", "")
        (name if section == "NAME" else description).append(text.strip())
    a = " ".join(x for x in name if x)
    b = clean_paragraph(" ".join(x for x in description if x))
    if not a or b is None or " - " not in a:
        return None
    return a, b[:1500]


def man_pairs(debs: Path) -> list[tuple[str, str, str]]:
    pairs = []
    for package in ("manpages", "manpages-dev"):
        deb = next(iter(sorted(debs.glob(f"{package}_*.deb"))), None)
        if deb is None:
            print(f"build_pairs: no {package} .deb in {debs} (run build_corpus.py first)", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
            for path in sorted(Path(tmp).glob("usr/share/man/man*/*.gz")):
                pair = man_pair(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
                if pair:
                    pairs.append((f"man:{path.name.split('.')[0]}", *pair))
    return pairs


def dict_pairs(debs: Path) -> tuple[list[tuple[str, str, str]], int]:
    pairs, wordnet = [], 0
    seen_heads: set[tuple[str, str]] = set()
    for package, db in (("dict-gcide", "gcide"), ("dict-foldoc", "foldoc"), ("dict-jargon", "jargon")):
        deb = next(iter(sorted(debs.glob(f"{package}_*.deb"))), None)
        if deb is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
            for head, body in dict_entries(Path(tmp) / f"usr/share/dictd/{db}.dict.dz"):
                if is_wordnet_derived(body):
                    wordnet += 1
                    continue
                text = re.sub(r"\s+", " ", re.sub(r"[{}]", "", body)).strip()
                if db == "gcide":
                    # "Word \\Pro*nun"ci*a`tion\\, n. definition": the entry's own headword, then the definition.
                    m = re.match(r"([^\\]{1,60}?)\s*\\[^\\]*\\,?\s*(.*)", text)
                    if m is None:
                        continue
                    head, text = m.group(1).strip(), m.group(2)
                elif text.lower().startswith(head.lower()):
                    text = text[len(head):].strip(" ,.;:")
                text = re.sub(r"\[(1913 Webster|PJC|Century Dict\.|Webster 1913 Suppl\.)[^\]]*\]", "", text).strip()
                if len(text.split()) < 4 or not re.search(r"[A-Za-z]", head):
                    continue
                if (db, head.lower()) in seen_heads:
                    continue
                seen_heads.add((db, head.lower()))
                pairs.append((f"{db}:{head.lower()}", head, text[:1500]))
    return pairs, wordnet


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(here.parent / "data"))
    parser.add_argument("--sections", default=str(here.parent.parent / "test/fixtures/debian-package-sections"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    reserved = reserved_packages(Path(args.sections))
    reserved_stems = {stem(p) for p in reserved}
    descriptions = debian_descriptions()
    pairs: list[tuple[str, str, str, str]] = []
    heldout, dropped = [], 0
    for package, (short, long) in sorted(descriptions.items()):
        if package in reserved:
            heldout.append({"id": package, "a": short, "b": long})
        elif stem(package) in reserved_stems:
            dropped += 1
        elif len(long.split()) >= 4:
            pairs.append(("debian", f"debian:{stem(package)}", short, long[:1500]))
    # The descriptions of the packages that may be trained on are prose for the MLM stage too.
    with open(out / "text" / "debian-descriptions.txt", "w") as f:
        for _, group, short, long in pairs:
            f.write(f"{short}. {long}\n")
        f.write("\n")
    man = man_pairs(out / "debs")
    dicts, wordnet = dict_pairs(out / "debs")
    pairs += [("man", g, a, b) for g, a, b in man] + [("dict", g, a, b) for g, a, b in dicts]
    with open(out / "pairs.jsonl", "w") as f:
        for source, group, a, b in pairs:
            f.write(json.dumps({"source": source, "group": group, "a": a, "b": b}) + "\n")
    with open(out / "heldout-debian.jsonl", "w") as f:
        for row in heldout:
            f.write(json.dumps(row) + "\n")
    counts = {s: sum(1 for p in pairs if p[0] == s) for s in ("debian", "man", "dict")}
    manifest = {
        "pairs": counts,
        "heldout_debian": len(heldout),
        "reserved_packages": len(reserved),
        "sibling_packages_dropped": dropped,
        "wordnet_entries_dropped": wordnet,
    }
    (out / "pairs-manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
