#!/usr/bin/env python3
"""Exports the trained encoder into a bertd model directory (Hugging Face layout).

    python3 pretraining/export.py [--out pretraining/out] [--model-dir models/default]

Writes MODEL_DIR/weights.safetensors (BertModel names; word embeddings 4-bit in groups of 32, other
matrices 8-bit per row, the rest float16: about 7.8 MB for bert-mini; tools/onnx/safetensors.ts reads it),
config.json (BertConfig), 1_Pooling/config.json (mean pooling, as sentence-transformers lays it out);
OUT/reference.json (held-out text tokenized by bertd's tokenizer, with PyTorch's last_hidden_state from the
dequantized weights) and a two-row cut of it as test/fixtures/default-model-reference.json. `npm ci` (tools/generator, --from-weights) builds model.onnx from the
safetensors file; pretraining/check-export.ts compares ONNX Runtime's output with reference.json.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bert import LAYER_NORM_EPS, Bert, BertShape  # noqa: E402
from train import CLS, SEP, load_jsonl, pad_batch  # noqa: E402


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    header: dict = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        dtype = {torch.float16: "F16", torch.float32: "F32", torch.int8: "I8", torch.uint8: "U8"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)
    tmp.replace(path)


WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def quantize(weights: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
    """Symmetric integer weights: 4 bits in groups of 32 for the word embeddings, 8 bits per row for the
    other matrices, float16 for the rest. Returns (stored tensors, dequantized tensors, scheme)."""
    stored, dequantized, scheme = {}, {}, {}
    for name, v in weights.items():
        v = v.detach().float()
        if v.ndim != 2:
            stored[name] = v.half()
            dequantized[name] = v.half().float()
            continue
        bits, group = (4, 32) if name == WORD_EMBEDDINGS else (8, v.shape[1])
        top = 2 ** (bits - 1) - 1
        groups = v.reshape(-1, group)
        scale = (groups.abs().amax(1, keepdim=True).clamp(min=1e-12) / top).half()
        q = torch.round(groups / scale.float()).clamp(-top, top)
        dequantized[name] = (q * scale.float()).reshape(v.shape)
        if bits == 8:
            stored[name] = q.to(torch.int8).reshape(v.shape)
        else:
            nibbles = (q.reshape(-1) + 8).to(torch.uint8)
            stored[name] = nibbles[0::2] | (nibbles[1::2] << 4)
        stored[f"{name}.scale"] = scale.reshape(-1)
        scheme[name] = {"bits": bits, "group": group, "shape": list(v.shape)}
    return stored, dequantized, scheme


def bert_config(s: BertShape, metrics: dict) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": s.vocab_size,
        "hidden_size": s.hidden,
        "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads,
        "intermediate_size": s.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": s.max_positions,
        "type_vocab_size": s.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": LAYER_NORM_EPS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float16",
        "bertd": {
            "weights": "trained",
            "trained_by": "pretraining/train.py (static start, MLM, contrastive pairs; see pretraining/README.md)",
            "storage": "weights.safetensors (int4/int8/float16); model.onnx is built from it on install",
            "inputs": ["input_ids", "attention_mask", "token_type_ids"],
            "outputs": ["last_hidden_state", "pooler_output"],
        },
    }


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(here / "out"))
    p.add_argument("--data", default=str(here / "data"))
    p.add_argument("--model-dir", default=str(here.parent / "models" / "default"))
    p.add_argument("--fixture", default=str(here.parent / "test" / "fixtures" / "default-model-reference.json"))
    p.add_argument("--checkpoint", action="store_true", help="export the last checkpoint instead of the finished model")
    args = p.parse_args(argv)
    out, model_dir = Path(args.out), Path(args.model_dir)
    metrics = json.loads((out / "train-metrics.json").read_text()) if (out / "train-metrics.json").exists() else {}
    if args.checkpoint:
        state = torch.load(out / "checkpoints" / "last.pt")
        weights, metrics = state["bert"], state.get("metrics", metrics)
    else:
        weights = torch.load(out / "bert.pt")
    shape = BertShape(**metrics["shape"]) if "shape" in metrics else BertShape()
    bert = Bert(shape)
    bert.load_state_dict(weights)
    stored, dequantized, scheme = quantize(bert.state_dict())
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.safetensors").unlink(missing_ok=True)
    write_safetensors(model_dir / "weights.safetensors", stored, {"format": "bertd", "bertd.quantization": json.dumps(scheme)})
    (model_dir / "config.json").write_text(json.dumps(bert_config(shape, metrics), indent=2) + "\n")
    (model_dir / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": shape.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")

    # Reference: PyTorch on the dequantized weights, on held-out text of several lengths.
    bert.load_state_dict(dequantized)
    bert.eval()
    rows = [r["a"] for r in load_jsonl(Path(args.data) / "heldout-debian.ids.jsonl")[:4]]
    rows += [r["b"] for r in load_jsonl(Path(args.data) / "heldout-debian.ids.jsonl")[:4]]
    rows = [[CLS, *r[:62], SEP] for r in rows if r]
    ids, att = pad_batch(rows, "cpu")
    with torch.no_grad():
        hidden = bert(ids, att)
    def reference(n_rows: int, n_tokens: int) -> str:
        i, a, h = ids[:n_rows, :n_tokens], att[:n_rows, :n_tokens], hidden[:n_rows, :n_tokens]
        return json.dumps({"input_ids": i.tolist(), "attention_mask": a.tolist(), "last_hidden_state": [[[round(v, 7) for v in t] for t in b] for b in h.tolist()]}) + "\n"

    (out / "reference.json").write_text(reference(len(rows), ids.shape[1]))
    # The committed fixture: two texts cut to 12 tokens (with their own forward pass), one padded.
    small = [[*rows[0][:11], SEP], [*rows[1][:7], SEP]]
    ids, att = pad_batch(small, "cpu")
    with torch.no_grad():
        hidden = bert(ids, att)
    Path(args.fixture).write_text(reference(2, ids.shape[1]))
    size = (model_dir / "weights.safetensors").stat().st_size
    print(f"exported {sum(v.numel() for v in dequantized.values()) / 1e6:.2f} M parameters to {model_dir} (weights.safetensors {size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
