#!/usr/bin/env python3
"""Builds the pretraining corpus: English prose from Debian packages, cleaned and deduplicated.

Python 3.11 standard library only. Needs apt-get (Debian's archive) and dpkg-deb; groff for man pages.

    python3 pretraining/corpus/build_corpus.py [--out DIR] [--packages a,b] [--max-mb N]

For every package in SOURCES it runs `apt-get download`, unpacks the .deb with `dpkg-deb -x`, reads
the package's copyright file (the licence goes into the manifest, and so into the model card),
extracts prose from the files the package's extractor knows (HTML, man pages, dictd databases,
POD, plain text), cleans it paragraph by paragraph, drops paragraphs already seen in
any package (exact duplicates after normalising case, punctuation and spaces), and writes

    DIR/text/<package>.txt   one paragraph a line; an empty line ends a document (a source file)
    DIR/manifest.json        per package: version, licence, copyright file, files, paragraphs, bytes

`tokenize.ts` beside this file turns DIR/text into uint16 id shards.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

# ---------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    package: str
    kind: str  # what the package offers: html, man, dict, pod, text, fortune
    # Path globs (relative to the unpacked tree) the extractor reads.
    globs: tuple[str, ...]
    note: str = ""


SOURCES: tuple[Source, ...] = (
    # Manuals and documentation (HTML).
    Source("linux-doc-6.1", "html", ("usr/share/doc/linux-doc-6.1/html/**/*.html",), "Linux kernel documentation"),
    Source("python3.11-doc", "html", ("usr/share/doc/python3.11/html/**/*.html",), "Python 3.11 documentation"),
    Source("postgresql-doc-15", "html", ("usr/share/doc/postgresql-doc-15/html/*.html",), "PostgreSQL 15 manual"),
    Source("python-django-doc", "html", ("usr/share/doc/python-django-doc/html/**/*.html",), "Django documentation"),
    Source("apache2-doc", "html", ("usr/share/doc/apache2-doc/manual/**/*.html.en", "usr/share/doc/apache2-doc/manual/**/*.html"), "Apache HTTP Server manual"),
    Source("gnome-user-docs", "html", ("usr/share/help/C/**/*.page",), "GNOME user help (Mallard XML, English)"),
    Source("git-doc", "html", ("usr/share/doc/git-doc/*.html", "usr/share/doc/git/html/**/*.html"), "Git manual"),
    Source("debian-reference-en", "html", ("usr/share/debian-reference/**/*.en.html", "usr/share/doc/debian-reference-en/**/*.html"), "Debian Reference"),
    Source("debian-handbook", "html", ("usr/share/doc/debian-handbook/html/en-US/*.html",), "The Debian Administrator's Handbook"),
    Source("developers-reference", "html", ("usr/share/developers-reference/*.html", "usr/share/doc/developers-reference/**/*.html"), "Debian Developer's Reference"),
    Source("debian-policy", "html", ("usr/share/doc/debian-policy/policy.html/*.html",), "Debian Policy Manual"),
    Source("maint-guide", "html", ("usr/share/doc/maint-guide/html/*.en.html",), "Debian New Maintainers' Guide"),
    Source("debian-faq", "html", ("usr/share/doc/debian/FAQ/*.html",), "Debian FAQ"),
    Source("debian-history", "html", ("usr/share/doc/debian-history/docs/*.en.html",), "A Brief History of Debian"),
    Source("sqlite3-doc", "html", ("usr/share/doc/sqlite3/**/*.html",), "SQLite documentation"),
    Source("octave-doc", "html", ("usr/share/doc/octave/octave.html/*.html",), "GNU Octave manual"),
    Source("sphinx-doc", "html", ("usr/share/doc/sphinx-doc/html/**/*.html",), "Sphinx documentation"),
    Source("gnucash-docs", "html", ("usr/share/doc/gnucash-docs/C/**/*.html", "usr/share/help/C/gnucash-*/**/*.html", "usr/share/help/C/gnucash-*/**/*.xml"), "GnuCash guide and help (English)"),
    Source(
        "rust-doc", "html",
        tuple(f"usr/share/doc/rust-doc/html/{book}/**/*.html" for book in ("book", "reference", "nomicon", "rust-by-example", "cargo", "rustc", "edition-guide", "embedded-book", "rustdoc", "style-guide")),
        "The Rust books (the book, reference, Rust by Example, Cargo, rustc)",
    ),
    # Man pages (English sections only).
    Source("manpages", "man", ("usr/share/man/man*/*.gz",), "Linux man-pages: files, conventions"),
    Source("manpages-dev", "man", ("usr/share/man/man*/*.gz",), "Linux man-pages: system calls, library"),
    Source("freebsd-manpages", "man", ("usr/share/man/man*/*.gz",), "FreeBSD kernel interfaces"),
    # POD (Perl's own documentation).
    Source("perl-doc", "pod", ("usr/share/perl/*/pod/*.pod", "usr/share/perl/**/*.pod"), "Perl documentation"),
    # Dictionaries (dictd databases).
    # GCIDE entries that mark WordNet as their source are dropped (WordNet is held back for evaluation);
    # dict-wn itself is never a source.
    Source("dict-gcide", "gcide", ("usr/share/dictd/gcide.dict.dz",), "GNU Collaborative International Dictionary of English (Webster 1913 based), WordNet-derived entries removed"),
    Source("dict-foldoc", "dict", ("usr/share/dictd/foldoc.dict.dz",), "Free On-line Dictionary of Computing"),
    Source("dict-jargon", "dict", ("usr/share/dictd/jargon.dict.dz",), "The Jargon File"),
    Source("dict-devil", "dict", ("usr/share/dictd/devil.dict.dz",), "Ambrose Bierce, The Devil's Dictionary"),
    Source("dict-vera", "dict", ("usr/share/dictd/vera.dict.dz",), "V.E.R.A. computing acronyms"),
    # Quotations.
    Source("fortunes", "fortune", ("usr/share/games/fortunes/*",), "fortune cookies (quotations)"),
)

# ---------------------------------------------------------------- cleaning

_WS = re.compile(r"\s+")
_NORM = re.compile(r"[^a-z0-9]+")
_CODEY = re.compile(r"[{}\[\]<>=;$#@\\|_^~`]")
_LETTER = re.compile(r"[A-Za-z]")


def clean_paragraph(text: str) -> str | None:
    """One paragraph of prose, whitespace collapsed, or None when it is not prose worth keeping."""
    text = _WS.sub(" ", text.replace("\u2010 ", "")).strip()
    if len(text) < 40 or len(text) > 20000:
        return None
    words = text.split(" ")
    if len(words) < 6:
        return None
    non_space = len(text) - text.count(" ")
    letters = len(_LETTER.findall(text))
    if letters < 0.65 * non_space:
        return None
    if len(_CODEY.findall(text)) > 0.03 * non_space:
        return None
    if sum(1 for w in words if len(w) > 30) > 0.1 * len(words):
        return None
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        # Keep Latin prose with some accents; drop text mostly in other scripts (translations).
        if sum(1 for c in text if ord(c) > 0x24F) > 0.05 * len(text):
            return None
    return text


def paragraph_key(text: str) -> bytes:
    return hashlib.blake2b(_NORM.sub(" ", text.lower()).strip().encode(), digest_size=12).digest()


class Deduplicator:
    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.dropped = 0

    def fresh(self, text: str) -> bool:
        key = paragraph_key(text)
        if key in self.seen:
            self.dropped += 1
            return False
        self.seen.add(key)
        return True


# ---------------------------------------------------------------- extractors

_BLOCK = {"p", "li", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "blockquote", "div", "section", "tr", "br", "title", "caption", "figcaption", "note", "item"}
_SKIP = {"script", "style", "pre", "nav", "head", "header", "footer", "screen", "programlisting", "synopsis", "math", "svg", "select", "button", "form", "textarea"}


class _ProseParser(html.parser.HTMLParser):
    """Text of block elements, skipping code, navigation and scripts. Also reads Mallard/DocBook XML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.buf: list[str] = []
        self.skip = 0
        self.divs: list[bool] = []

    def flush(self) -> None:
        if self.buf:
            self.paragraphs.append("".join(self.buf))
            self.buf = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            cls = " ".join(v or "" for k, v in attrs if k == "class")
            skipped = bool(re.search(r"\b(highlight\S*|sphinxsidebar|related|footer|navigation|navheader|navfooter|toc)\b", cls))
            self.divs.append(skipped)
            self.skip += skipped
        elif tag in _SKIP:
            self.skip += 1
        if tag in _BLOCK:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            if self.divs and self.divs.pop():
                self.skip -= 1
        elif tag in _SKIP and self.skip > 0:
            self.skip -= 1
        if tag in _BLOCK:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip == 0:
            self.buf.append(data)


def html_paragraphs(raw: str) -> list[str]:
    parser = _ProseParser()
    try:
        parser.feed(raw)
        parser.close()
    except Exception:  # malformed markup: keep what was read
        pass
    parser.flush()
    return parser.paragraphs


def man_paragraphs(path: Path) -> list[str]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if data.startswith(b".so "):  # a link to another page
        return []
    try:
        out = subprocess.run(
            ["groff", "-man", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=200n", "-rcR=1", "-rHY=0"],
            input=data, capture_output=True, timeout=60, check=False,
        ).stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return []
    return text_paragraphs(out)


def text_paragraphs(text: str) -> list[str]:
    """Paragraphs of plain text: blank lines separate them; lines inside one are joined."""
    paragraphs, buf = [], []
    for line in text.splitlines():
        if line.strip():
            buf.append(line.strip())
        elif buf:
            paragraphs.append(" ".join(buf))
            buf = []
    if buf:
        paragraphs.append(" ".join(buf))
    return paragraphs


_POD_CODE = re.compile(r"[A-Z]<<+\s(.*?)\s>>+|[A-Z]<([^<>]*)>")


def pod_paragraphs(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", text):
        if not para or para[0] in " \t=":  # verbatim (code) and commands
            continue
        prev = None
        while prev != para:
            prev, para = para, _POD_CODE.sub(lambda m: (m.group(1) or m.group(2) or "").split("|")[0], para)
        out.append(para)
    return out


def dict_paragraphs(path: Path) -> list[str]:
    text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace") if path.name.endswith(".dz") else path.read_text("utf-8", "replace")
    text = re.sub(r"[{}]", "", text)  # dictd cross-reference braces
    return text_paragraphs(text)


def dict_entries(path: Path) -> Iterator[tuple[str, str]]:
    """(headword, body) of every entry of a dictd database, read through its .index beside it."""
    data = gzip.decompress(path.read_bytes())
    index = path.with_name(path.name.replace(".dict.dz", ".index"))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(text: str) -> int:
        value = 0
        for ch in text:
            value = value * 64 + alphabet.index(ch)
        return value

    seen: set[int] = set()
    for line in index.read_text("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00-database"):
            continue
        offset, length = b64(parts[1]), b64(parts[2])
        if offset in seen:
            continue
        seen.add(offset)
        yield parts[0], data[offset : offset + length].decode("utf-8", "replace")


def is_wordnet_derived(body: str) -> bool:
    return "wordnet" in body.lower() or "wn 1.5" in body.lower()


def gcide_paragraphs(path: Path) -> list[str]:
    paragraphs: list[str] = []
    for _, body in dict_entries(path):
        if is_wordnet_derived(body):
            continue
        paragraphs.extend(text_paragraphs(re.sub(r"[{}]", "", body)))
    return paragraphs


def fortune_paragraphs(text: str) -> list[str]:
    return [" ".join(line.strip() for line in chunk.splitlines() if line.strip()) for chunk in text.split("\n%\n")]


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def extract(kind: str, path: Path) -> list[str]:
    if kind == "html":
        return html_paragraphs(read_text(path))
    if kind == "man":
        return man_paragraphs(path)
    if kind == "pod":
        return pod_paragraphs(read_text(path))
    if kind == "dict":
        return dict_paragraphs(path)
    if kind == "gcide":
        return gcide_paragraphs(path)
    if kind == "fortune":
        return fortune_paragraphs(read_text(path))
    if kind == "text":
        return text_paragraphs(read_text(path))
    raise ValueError(f"unknown extractor {kind}")


# ---------------------------------------------------------------- licences


def licence_of(copyright_text: str) -> str:
    """Short licence names from a copyright file (DEP-5 `License:` fields), else its first words."""
    names = []
    for match in re.finditer(r"^License:\s*(\S[^\n]*)$", copyright_text, re.M):
        name = match.group(1).strip()
        if name not in names:
            names.append(name)
    if names:
        return "; ".join(names[:8])
    head = _WS.sub(" ", copyright_text[:300]).strip()
    return f"(free-form copyright file) {head[:160]}"


# ---------------------------------------------------------------- packages


def run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def fetch(package: str, debs: Path) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        run(["apt-get", "download", "-q", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise RuntimeError(f"apt-get download {package} left no .deb in {debs}")
    return found[-1]


def matching_files(root: Path, globs: Iterable[str]) -> list[Path]:
    files: dict[str, Path] = {}
    for pattern in globs:
        for path in root.glob(pattern):
            if path.is_file() and not path.is_symlink():
                files.setdefault(str(path.relative_to(root)), path)
    return [files[k] for k in sorted(files)]


@dataclass
class PackageResult:
    package: str
    version: str
    licence: str
    copyright_sha256: str
    description: str
    files: int = 0
    paragraphs: int = 0
    bytes: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def copyright_of(root: Path, package: str, debs: Path) -> str:
    """The package's copyright file; when its doc directory links to another package's, that one's."""
    found = sorted(root.glob("usr/share/doc/*/copyright"))
    if found:
        return found[0].read_text("utf-8", "replace")
    doc = root / "usr/share/doc" / package
    if doc.is_symlink():
        target = os.readlink(doc).rstrip("/").split("/")[-1]
        deb = fetch(target, debs)
        with tempfile.TemporaryDirectory() as tmp:
            run(["dpkg-deb", "-x", str(deb), tmp])
            path = Path(tmp) / "usr/share/doc" / target / "copyright"
            if path.exists():
                return f"(from {target}, which {package}'s doc directory links to)\n" + path.read_text("utf-8", "replace")
    return ""


def build_package(source: Source, debs: Path, text_dir: Path, dedup: Deduplicator, budget: int) -> PackageResult:
    deb = fetch(source.package, debs)
    version = run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
    with tempfile.TemporaryDirectory(prefix=f"corpus-{source.package}-") as tmp:
        root = Path(tmp)
        run(["dpkg-deb", "-x", str(deb), str(root)])
        copyright_text = copyright_of(root, source.package, debs)
        if not copyright_text:
            raise RuntimeError(f"{source.package} has no copyright file: not used (its licence must be recorded)")
        result = PackageResult(
            source.package, version, licence_of(copyright_text), hashlib.sha256(copyright_text.encode()).hexdigest(), source.note,
        )
        files = matching_files(root, source.globs)
        with open(text_dir / f"{source.package}.txt", "w", encoding="utf-8") as out:
            for path in files:
                if result.bytes >= budget:
                    break
                try:
                    paragraphs = extract(source.kind, path)
                except Exception as error:  # one bad file must not stop the corpus
                    result.errors.append(f"{path.relative_to(root)}: {error}")
                    continue
                kept = 0
                for raw in paragraphs:
                    para = clean_paragraph(raw)
                    if para is None:
                        result.rejected += 1
                        continue
                    if not dedup.fresh(para):
                        result.duplicates += 1
                        continue
                    out.write(para + "\n")
                    kept += 1
                    result.bytes += len(para.encode()) + 1
                if kept:
                    out.write("\n")
                    result.files += 1
                    result.paragraphs += kept
    return result


def card_table(manifest: dict) -> str:
    """The data sources as a Markdown table for the model card."""
    lines = [
        f"Debian {manifest['debian_release']}, at most {manifest['max_mb_per_package']:g} MB a package; "
        f"{manifest['total_bytes'] / 1e6:.1f} MB of text in {manifest['total_paragraphs']:,} paragraphs after cleaning, "
        f"{manifest['duplicates_dropped']:,} duplicate paragraphs dropped.",
        "",
        "| package | version | content | licence (copyright file) | MB | paragraphs |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for r in manifest["packages"]:
        if "skipped" in r:
            lines.append(f"| {r['package']} | | skipped: {r['skipped'][:80]} | | 0 | 0 |")
            continue
        licence = r["licence"].replace("|", "/")
        licence = licence if len(licence) <= 90 else licence[:87] + "…"
        lines.append(f"| {r['package']} | {r['version']} | {r['description']} | {licence} | {r['bytes'] / 1e6:.1f} | {r['paragraphs']:,} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(here.parent / "data"), help="output directory (default pretraining/data)")
    parser.add_argument("--packages", default="", help="comma-separated subset of the sources (default all)")
    parser.add_argument("--max-mb", type=float, default=80.0, help="most MB of text taken from one package (default 80)")
    parser.add_argument("--list", action="store_true", help="print the sources and exit")
    parser.add_argument("--card", action="store_true", help="print OUT/manifest.json as the model card's data table and exit")
    args = parser.parse_args(argv)
    if args.card:
        print(card_table(json.loads((Path(args.out) / "manifest.json").read_text())))
        return 0
    if args.list:
        for s in SOURCES:
            print(f"{s.package:24} {s.kind:8} {s.note}")
        return 0
    wanted = [p for p in args.packages.split(",") if p]
    unknown = sorted(set(wanted) - {s.package for s in SOURCES})
    if unknown:
        print(f"build_corpus: unknown package(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        print("build_corpus: needs apt-get and dpkg-deb (a Debian system)", file=sys.stderr)
        return 2
    out = Path(args.out)
    debs, text_dir = out / "debs", out / "text"
    debs.mkdir(parents=True, exist_ok=True)
    text_dir.mkdir(parents=True, exist_ok=True)
    dedup = Deduplicator()
    results: list[dict] = []
    budget = int(args.max_mb * 1e6)
    for source in SOURCES:
        if wanted and source.package not in wanted:
            continue
        try:
            result = build_package(source, debs, text_dir, dedup, budget)
        except Exception as error:
            print(f"{source.package:24} skipped: {error}", file=sys.stderr, flush=True)
            results.append({"package": source.package, "skipped": str(error)})
            continue
        print(
            f"{source.package:24} {result.files:6} files {result.paragraphs:8} paragraphs {result.bytes / 1e6:8.1f} MB"
            f"  (dup {result.duplicates}, rejected {result.rejected})  {result.licence[:60]}",
            flush=True,
        )
        results.append(result.__dict__ | {"errors": result.errors[:20], "error_count": len(result.errors)})
    total = sum(r.get("bytes", 0) for r in results)
    manifest = {
        "builder": "pretraining/corpus/build_corpus.py",
        "debian_release": run(["sh", "-c", ". /etc/os-release && echo $VERSION_CODENAME"]).strip(),
        "max_mb_per_package": args.max_mb,
        "total_bytes": total,
        "total_paragraphs": sum(r.get("paragraphs", 0) for r in results),
        "duplicates_dropped": dedup.dropped,
        "packages": results,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"corpus: {total / 1e6:.1f} MB of text in {text_dir}; manifest {out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
