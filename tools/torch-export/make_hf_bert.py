#!/usr/bin/python3
"""A random BERT in plain torch with Hugging Face's module names, exported the way Optimum/transformers do.

No `transformers` package is needed (Debian has none): the modules below reproduce BertModel's structure and
state-dict names (embeddings.word_embeddings.weight, encoder.layer.N.attention.self.query.weight, …), and
torch.onnx.export writes a graph with inputs input_ids, attention_mask, token_type_ids and output
last_hidden_state, as a Hugging Face ONNX export has. --external-data stores the weights in model.onnx_data,
as exports over 2 GB must.

    /usr/bin/python3 tools/torch-export/make_hf_bert.py --out DIR [--layers 6 --hidden 384 --heads 12
        --intermediate 1536] [--vocab models/default/vocab.txt] [--external-data] [--seed 0]

Writes DIR/model.onnx (and model.onnx_data), config.json, vocab.txt, tokenizer_config.json.
"""

import argparse
import json
import math
import os
import shutil

import torch
from torch import nn


class Embeddings(nn.Module):
    def __init__(self, vocab, hidden, positions, types):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.register_buffer("position_ids", torch.arange(positions).expand((1, -1)), persistent=False)

    def forward(self, input_ids, token_type_ids):
        positions = self.position_ids[:, : input_ids.shape[1]]
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.size).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.size) + mask
        context = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return context.view(x.shape)


class DenseNorm(nn.Module):
    def __init__(self, inner, hidden):
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        setattr(self, "self", SelfAttention(hidden, heads))
        self.output = DenseNorm(hidden, hidden)

    def forward(self, x, mask):
        return self.output(getattr(self, "self")(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.dense = nn.Linear(hidden, inner)

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, hidden, heads, inner):
        super().__init__()
        self.attention = Attention(hidden, heads)
        self.intermediate = Intermediate(hidden, inner)
        self.output = DenseNorm(inner, hidden)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, layers, hidden, heads, inner):
        super().__init__()
        self.layer = nn.ModuleList([Layer(hidden, heads, inner) for _ in range(layers)])

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertModel(nn.Module):
    def __init__(self, vocab, hidden, layers, heads, inner, positions=512, types=2):
        super().__init__()
        self.embeddings = Embeddings(vocab, hidden, positions, types)
        self.encoder = Encoder(layers, hidden, heads, inner)

    def forward(self, input_ids, attention_mask, token_type_ids):
        mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        return self.encoder(self.embeddings(input_ids, token_type_ids), mask)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=0, help="default 4 × hidden")
    p.add_argument("--vocab", default=os.path.join(os.path.dirname(__file__), "..", "..", "models", "default", "vocab.txt"))
    p.add_argument("--external-data", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    inner = a.intermediate or 4 * a.hidden
    with open(a.vocab, encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    model = BertModel(vocab_size, a.hidden, a.layers, a.heads, inner).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" in name:
                continue
            param.normal_(0, 0.02)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "model.onnx")
    ids = torch.randint(1000, 2000, (2, 11))
    dims = {0: "batch_size", 1: "sequence_length"}
    torch.onnx.export(
        model,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        path,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": dims, "attention_mask": dims, "token_type_ids": dims, "last_hidden_state": dims},
        opset_version=14,
        do_constant_folding=True,
    )
    if a.external_data:
        import onnx

        m = onnx.load(path)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=1024)
    shutil.copy(a.vocab, os.path.join(a.out, "vocab.txt"))
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab_size, "hidden_size": a.hidden,
        "num_hidden_layers": a.layers, "num_attention_heads": a.heads, "intermediate_size": inner, "hidden_act": "gelu",
        "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "_name_or_path": f"random-hf-bert-{a.layers}x{a.hidden}",
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}, f)


if __name__ == "__main__":
    main()
