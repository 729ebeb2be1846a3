"""Reading the corpus shards (written by corpus/tokenize.ts) without torch: standard library only.

A shard is little-endian uint16 token ids; [SEP] follows every paragraph and a second [SEP] ends a
document. index.json beside the shards lists them with their token counts and sha256.
"""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from pathlib import Path


class ShardError(Exception):
    pass


def read_index(shard_dir: str | Path) -> dict:
    path = Path(shard_dir) / "index.json"
    if not path.exists():
        raise ShardError(f"{path} is missing: run `npm run corpus:tokenize` (or stage the shards) first")
    index = json.loads(path.read_text())
    for key in ("special_ids", "vocab_size", "train", "heldout"):
        if key not in index:
            raise ShardError(f"{path} has no {key!r}")
    return index


def load_tokens(shard_dir: str | Path, split: str, verify: bool = True) -> array:
    """All of a split's ids in one array('H'), shard by shard, checking sizes (and hashes when asked)."""
    index = read_index(shard_dir)
    if split not in ("train", "heldout"):
        raise ShardError(f"unknown split {split!r}")
    tokens = array("H")
    for shard in index[split]["shards"]:
        data = (Path(shard_dir) / shard["file"]).read_bytes()
        if len(data) != 2 * shard["tokens"]:
            raise ShardError(f"{shard['file']}: {len(data)} bytes, index says {shard['tokens']} tokens")
        if verify and hashlib.sha256(data).hexdigest() != shard["sha256"]:
            raise ShardError(f"{shard['file']}: sha256 differs from index.json (a damaged transfer?)")
        part = array("H")
        part.frombytes(data)
        if sys.byteorder != "little":
            part.byteswap()
        tokens.extend(part)
    return tokens


def pack_blocks(tokens: array, block_len: int, cls_id: int, sep_id: int) -> array:
    """Consecutive blocks of block_len ids: [CLS] + block_len - 2 ids of the stream (paragraph [SEP]s
    included, as in RoBERTa's FULL-SENTENCES) + [SEP]. The tail shorter than a block is dropped."""
    if block_len < 3:
        raise ValueError("block_len must be at least 3")
    body = block_len - 2
    count = len(tokens) // body
    out = array("H", bytes(2 * count * block_len))
    for b in range(count):
        start = b * block_len
        out[start] = cls_id
        out[start + 1 : start + 1 + body] = tokens[b * body : (b + 1) * body]
        out[start + block_len - 1] = sep_id
    return out


def paragraphs(tokens: array, sep_id: int, min_len: int, max_len: int) -> list[tuple[int, int]]:
    """(start, end) of every paragraph with at least min_len ids, cut to max_len ids."""
    spans = []
    start = 0
    n = len(tokens)
    while start < n:
        try:
            end = tokens.index(sep_id, start)
        except ValueError:
            end = n
        if end - start >= min_len:
            spans.append((start, min(end, start + max_len)))
        start = end + 1
    return spans
