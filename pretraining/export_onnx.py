#!/usr/bin/env python3
"""Exports the pretrained encoder (OUT/hf, from pretrain.py) to a bertd model directory: model.onnx
(fp32) and model_fp16.onnx (float16 weights and compute, float32 output), config.json, the
bert-base-uncased tokenizer files, 1_Pooling/config.json (mean pooling), and reference.json: PyTorch's
outputs for held-out paragraphs, which check-export.ts compares with ONNX Runtime's (max abs diff).

    python3 models/pretraining/export_onnx.py --hf models/pretraining/out/hf --out models/pretrained

Needs PyTorch and transformers; onnxruntime (Python) is used for a first check when installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shards import load_tokens, paragraphs, read_index  # noqa: E402

HERE = Path(__file__).resolve().parent
VOCAB_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "NOTICE.md")


def reference_batch(data: Path, rows: int = 8, max_len: int = 62) -> tuple[list[list[int]], list[list[int]]]:
    """Held-out paragraphs of different lengths as [CLS] … [SEP], right-padded with [PAD]."""
    index = read_index(data)
    special = index["special_ids"]
    tokens = load_tokens(data, "heldout")
    spans = paragraphs(tokens, special["sep"], 4, max_len)
    step = max(1, len(spans) // rows)
    picked = [spans[i * step] for i in range(min(rows, len(spans)))]
    seqs = [[special["cls"], *tokens[s:e], special["sep"]] for s, e in picked]
    width = max(len(s) for s in seqs)
    ids = [s + [special["pad"]] * (width - len(s)) for s in seqs]
    mask = [[1] * len(s) + [0] * (width - len(s)) for s in seqs]
    return ids, mask


def export(wrapper, example, path: Path) -> None:
    import torch

    kwargs = dict(
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch_size", 1: "sequence_length"} for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
        opset_version=17,
        do_constant_folding=True,
    )
    try:
        torch.onnx.export(wrapper, example, str(path), dynamo=False, **kwargs)
    except TypeError:  # torch < 2.5 has no dynamo argument; its exporter is the TorchScript one
        torch.onnx.export(wrapper, example, str(path), **kwargs)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hf", default=str(HERE / "out" / "hf"))
    p.add_argument("--data", default=str(HERE / "data" / "shards"))
    p.add_argument("--out", default=str(HERE.parent / "pretrained"))
    p.add_argument("--vocab-dir", default=str(HERE.parent / "default"))
    p.add_argument("--metrics", default=str(HERE / "out" / "train-metrics.json"))
    p.add_argument("--device", default="cuda")
    args = p.parse_args(argv)

    import torch
    from transformers import BertModel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    bert = BertModel.from_pretrained(args.hf, attn_implementation="eager", add_pooling_layer=False).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state.float()

    ids, mask = reference_batch(Path(args.data))
    t_ids = torch.tensor(ids, dtype=torch.int64)
    t_mask = torch.tensor(mask, dtype=torch.int64)
    t_types = torch.zeros_like(t_ids)
    report = {"input_ids": ids, "attention_mask": mask}

    fp32 = Encoder(bert.float()).to(device).eval()
    example = (t_ids.to(device), t_mask.to(device), t_types.to(device))
    with torch.no_grad():
        report["last_hidden_state"] = fp32(*example).cpu().tolist()
    export(fp32, example, out / "model.onnx")
    fp16 = Encoder(BertModel.from_pretrained(args.hf, attn_implementation="eager", add_pooling_layer=False).half()).to(device).eval()
    with torch.no_grad():
        report["last_hidden_state_torch_fp16"] = fp16(*example).cpu().tolist()
    export(fp16, example, out / "model_fp16.onnx")
    (out / "reference.json").write_text(json.dumps(report) + "\n")

    config = json.loads((Path(args.hf) / "config.json").read_text())
    metrics = json.loads(Path(args.metrics).read_text()) if Path(args.metrics).exists() else {}
    config["bertd"] = {
        "weights": "pretrained",
        "recipe": "models/pretraining/README.md",
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "outputs": ["last_hidden_state"],
        "heldout_mlm_accuracy": metrics.get("heldout_mlm_accuracy"),
        "trained_on": metrics.get("device"),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in VOCAB_FILES:
        shutil.copyfile(Path(args.vocab_dir) / name, out / name)
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": config["hidden_size"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
    }, indent=2) + "\n")

    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        print("export: onnxruntime (Python) is not installed here; check with check-export.ts", flush=True)
    else:
        feeds = {"input_ids": np.array(ids, dtype=np.int64), "attention_mask": np.array(mask, dtype=np.int64), "token_type_ids": np.zeros((len(ids), len(ids[0])), dtype=np.int64)}
        expected = np.array(report["last_hidden_state"], dtype=np.float32)
        real = np.array(mask, dtype=bool)
        for name in ("model.onnx", "model_fp16.onnx"):
            got = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
            print(f"export: {name} vs PyTorch fp32 (onnxruntime {ort.__version__}, CPU), max abs diff over real tokens {np.abs(got - expected)[real].max():.2e}")
    for f in sorted(out.rglob("*")):
        if f.is_file():
            print(f"{f.stat().st_size / 2**20:8.2f} MiB  {f.relative_to(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
