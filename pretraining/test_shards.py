"""python3 -m unittest models/pretraining/test_shards.py — the torch-free data path of pretraining."""

import hashlib
import json
import sys
import tempfile
import unittest
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shards import ShardError, load_tokens, pack_blocks, paragraphs  # noqa: E402

SEP, CLS = 102, 101


def write_shards(root: Path, train: list[list[int]], heldout: list[int]) -> None:
    index = {"special_ids": {"cls": CLS, "sep": SEP}, "vocab_size": 30522, "train": {"shards": []}, "heldout": {"shards": []}}
    for split, parts in (("train", train), ("heldout", [heldout])):
        for i, ids in enumerate(parts):
            data = array("H", ids).tobytes() if sys.byteorder == "little" else b""
            name = f"{split}-{i:05d}.u16"
            (root / name).write_bytes(data)
            index[split]["shards"].append({"file": name, "tokens": len(ids), "sha256": hashlib.sha256(data).hexdigest()})
    (root / "index.json").write_text(json.dumps(index))


class ShardTests(unittest.TestCase):
    def test_loads_shards_in_order_and_checks_them(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_shards(root, [[5, 6, SEP], [7, SEP, SEP]], [9, SEP])
            self.assertEqual(list(load_tokens(root, "train")), [5, 6, SEP, 7, SEP, SEP])
            self.assertEqual(list(load_tokens(root, "heldout")), [9, SEP])
            (root / "train-00001.u16").write_bytes(array("H", [8, SEP, SEP]).tobytes())
            with self.assertRaisesRegex(ShardError, "sha256"):
                load_tokens(root, "train")
            (root / "train-00001.u16").write_bytes(b"\x00")
            with self.assertRaisesRegex(ShardError, "1 bytes"):
                load_tokens(root, "train")
            with self.assertRaisesRegex(ShardError, "unknown split"):
                load_tokens(root, "validation")

    def test_missing_index_says_what_to_run(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(ShardError, "corpus:tokenize"):
            load_tokens(tmp, "train")

    def test_blocks_wrap_stream_windows_in_cls_and_sep(self):
        tokens = array("H", range(1000, 1011))  # 11 ids
        blocks = pack_blocks(tokens, 5, CLS, SEP)  # 3 ids a block: 3 blocks, 2 ids dropped
        self.assertEqual(list(blocks), [CLS, 1000, 1001, 1002, SEP, CLS, 1003, 1004, 1005, SEP, CLS, 1006, 1007, 1008, SEP])
        with self.assertRaises(ValueError):
            pack_blocks(tokens, 2, CLS, SEP)

    def test_paragraph_spans_skip_short_ones_and_cut_long_ones(self):
        tokens = array("H", [1, 2, 3, SEP, 4, SEP, SEP, 5, 6, 7, 8, 9, SEP, 10, 11])
        self.assertEqual(paragraphs(tokens, SEP, 2, 4), [(0, 3), (7, 11), (13, 15)])


if __name__ == "__main__":
    unittest.main()
