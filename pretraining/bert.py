"""BERT in plain PyTorch, computing exactly what bertd's ONNX graph builder (tools/onnx BERT graph) computes.

Post-LayerNorm BERT (Devlin et al. 2019) with erf GELU, absolute positions, additive -10000 attention
mask, tanh pooler over [CLS]. Parameter names are those of Hugging Face's BertModel, so the exported
safetensors file is a BertModel checkpoint too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

LAYER_NORM_EPS = 1e-12
MASK_FILL = -10000.0


@dataclass(frozen=True)
class BertShape:
    vocab_size: int = 30522
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 1024
    max_positions: int = 512
    type_vocab: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "mini": BertShape(),
    "tiny": BertShape(hidden=128, layers=2, heads=2, intermediate=512),
    "small": BertShape(hidden=512, layers=4, heads=8, intermediate=2048),
}


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever autocast does (1.13's CPU autocast rejects bf16 input)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps).to(x.dtype)


class Embeddings(nn.Module):
    def __init__(self, s: BertShape) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(s.vocab_size, s.hidden)
        self.position_embeddings = nn.Embedding(s.max_positions, s.hidden)
        self.token_type_embeddings = nn.Embedding(s.type_vocab, s.hidden)
        self.LayerNorm = LayerNorm(s.hidden, eps=LAYER_NORM_EPS)

    def forward(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings(types)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, s: BertShape) -> None:
        super().__init__()
        self.heads, self.head_size = s.heads, s.hidden // s.heads
        self.query = nn.Linear(s.hidden, s.hidden)
        self.key = nn.Linear(s.hidden, s.hidden)
        self.value = nn.Linear(s.hidden, s.hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        split = lambda t: t.view(b, n, self.heads, self.head_size).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + mask
        context = scores.softmax(-1) @ v
        return context.transpose(1, 2).reshape(b, n, h)


class Layer(nn.Module):
    def __init__(self, s: BertShape) -> None:
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = SelfAttention(s)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(s.hidden, s.hidden)
        self.attention.output.LayerNorm = LayerNorm(s.hidden, eps=LAYER_NORM_EPS)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(s.hidden, s.intermediate)
        self.output = nn.Module()
        self.output.dense = nn.Linear(s.intermediate, s.hidden)
        self.output.LayerNorm = LayerNorm(s.hidden, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.attention.output.LayerNorm(self.attention.output.dense(self.attention.self(x, mask)) + x)
        up = F.gelu(self.intermediate.dense(a))  # erf GELU, as the graph's Erf
        return self.output.LayerNorm(self.output.dense(up) + a)


class Bert(nn.Module):
    def __init__(self, s: BertShape) -> None:
        super().__init__()
        self.shape = s
        self.embeddings = Embeddings(s)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(Layer(s) for _ in range(s.layers))
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(s.hidden, s.hidden)
        self.apply(init_weights)

    def forward(self, ids: torch.Tensor, attention: torch.Tensor, types: torch.Tensor | None = None) -> torch.Tensor:
        """last_hidden_state [B, S, H]."""
        types = torch.zeros_like(ids) if types is None else types
        mask = (1.0 - attention[:, None, None, :].float()) * MASK_FILL
        x = self.embeddings(ids, types)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x

    def pooled(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.pooler.dense(hidden[:, 0]))


class MlmHead(nn.Module):
    """BERT's prediction head: dense + GELU + LayerNorm, decoder tied to the word embeddings."""

    def __init__(self, bert: Bert) -> None:
        super().__init__()
        s = bert.shape
        self.dense = nn.Linear(s.hidden, s.hidden)
        self.LayerNorm = LayerNorm(s.hidden, eps=LAYER_NORM_EPS)
        self.bias = nn.Parameter(torch.zeros(s.vocab_size))
        self.decoder_weight = bert.embeddings.word_embeddings.weight
        init_weights(self.dense)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(self.LayerNorm(F.gelu(self.dense(hidden))), self.decoder_weight, self.bias)


def init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def mean_pool(hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    m = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
