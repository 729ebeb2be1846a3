"""Unit tests of the corpus builders that need no network and no torch (python3 -m unittest)."""

from __future__ import annotations

import gzip
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_corpus import SOURCES, dict_entries, gcide_paragraphs, is_wordnet_derived  # noqa: E402
from build_pairs import man_pair, stem  # noqa: E402


def b64(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = alphabet[n % 64] + out
        n //= 64
        if n == 0:
            return out


def dictd(tmp: Path, entries: list[tuple[str, str]]) -> Path:
    body, index, offset = b"", [], 0
    for head, text in entries:
        raw = text.encode()
        index.append(f"{head}\t{b64(offset)}\t{b64(len(raw))}")
        body += raw
        offset += len(raw)
    path = tmp / "test.dict.dz"
    path.write_bytes(gzip.compress(body))
    (tmp / "test.index").write_text("\n".join(index) + "\n")
    return path


class WordNetStaysOut(unittest.TestCase):
    def test_no_wordnet_source(self) -> None:
        self.assertNotIn("dict-wn", {s.package for s in SOURCES})

    def test_gcide_entries_marked_wordnet_are_dropped(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = dictd(Path(tmp), [
                ("Apple", "Apple \\Ap\"ple\\, n. The fleshy pome or fruit of a rosaceous tree, round and red or green. [1913 Webster]\n"),
                ("Byte", "Byte \\Byte\\, n. a sequence of eight adjacent bits operated on as a unit by a computer. [WordNet 1.5]\n"),
            ])
            self.assertEqual([h for h, _ in dict_entries(path)], ["Apple", "Byte"])
            self.assertTrue(is_wordnet_derived("a unit of memory [WordNet 1.5]"))
            kept = " ".join(gcide_paragraphs(path))
            self.assertIn("rosaceous", kept)
            self.assertNotIn("adjacent bits", kept)


class Pairs(unittest.TestCase):
    def test_sibling_packages_share_a_stem(self) -> None:
        self.assertEqual(stem("libfoo-dev"), stem("foo"))
        self.assertEqual(stem("python3-requests"), stem("requests-doc"))
        self.assertNotEqual(stem("gimp"), stem("gnumeric"))

    def test_man_page_name_and_description(self) -> None:
        source = ".TH OPEN 2\n.SH NAME\nopen, creat \\- open and possibly create a file\n.SH SYNOPSIS\n.B int open();\n" \
                 ".SH DESCRIPTION\nThe\n.BR open ()\nsystem call opens the file specified by\n.IR pathname .\n" \
                 "If the file does not exist it may be created by open.\n.PP\nSecond paragraph.\n"
        a, b = man_pair(source)
        self.assertEqual(a, "open, creat - open and possibly create a file")
        self.assertTrue(b.startswith("The open () system call opens the file specified by pathname ."), b)
        self.assertNotIn("Second paragraph", b)


if __name__ == "__main__":
    unittest.main()
