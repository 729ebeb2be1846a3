#!/usr/bin/env python3
"""Trains bertd's default encoder on the CPU: static start, MLM, contrastive pairs. Resumable.

    python3 pretraining/train.py [--data pretraining/data] [--out pretraining/out] [--mlm-minutes 25]
                                 [--contrastive-minutes 60] [--device cpu|cuda] [--threads 2]

Stages (each one's schedule runs on wall time, so a slower machine sees fewer tokens, not a longer run):
  static       PPMI + truncated SVD of windowed co-occurrence counts over the training tokens, rescaled
               to BERT's initial scale, loaded into the word embeddings; probed as a bag of vectors
  mlm          masked-language modelling on 128-token blocks (dropout off, tied decoder)
  contrastive  symmetric InfoNCE on natural pairs with in-batch negatives (no two pairs of one group in
               a batch) plus a small MLM loss on the second texts
Every few minutes the state goes to OUT/checkpoints/last.pt; a rerun resumes from it. The last lines
are a table (OUT/train-metrics.json has the same numbers).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bert import PRESETS, Bert, MlmHead, mean_pool  # noqa: E402
from probe import linear_probe  # noqa: E402

PAD, UNK, CLS, SEP, MASK = 0, 100, 101, 102, 103
FIRST_NORMAL_ID = 999  # ids below are [unused*] and special tokens in bert-base-uncased


# ---------------------------------------------------------------- data


def load_stream(data: Path, split: str) -> np.ndarray:
    index = json.loads((data / "shards" / "index.json").read_text())
    parts = [np.fromfile(data / "shards" / s["file"], dtype="<u2") for s in index[split]["shards"]]
    return np.concatenate(parts).astype(np.int64)


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def with_specials(ids: list[int], max_len: int) -> list[int]:
    return [CLS, *ids[: max_len - 2], SEP]


def pad_batch(rows: list[list[int]], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), n, dtype=torch.long)
    att = torch.zeros(len(rows), n, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        att[i, : len(r)] = 1
    return ids.to(device), att.to(device)


def mask_tokens(ids: torch.Tensor, att: torch.Tensor, rate: float, gen: torch.Generator, vocab: int):
    """BERT's 80/10/10 masking of non-special tokens; labels -100 where not predicted."""
    special = (ids < FIRST_NORMAL_ID) | (att == 0)
    chosen = (torch.rand(ids.shape, generator=gen) < rate).to(ids.device) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=gen).to(ids.device)
    masked = ids.clone()
    masked[chosen & (roll < 0.8)] = MASK
    rand_ids = torch.randint(FIRST_NORMAL_ID, vocab, ids.shape, generator=gen).to(ids.device)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    masked[swap] = rand_ids[swap]
    return masked, labels


def mlm_loss(bert: Bert, head: MlmHead, ids, att, labels) -> tuple[torch.Tensor, torch.Tensor]:
    hidden = bert(ids, att)
    where = labels != -100
    logits = head(hidden[where])
    target = labels[where]
    loss = F.cross_entropy(logits.float(), target)
    return loss, (logits.argmax(-1) == target).float().mean()


# ---------------------------------------------------------------- static start


def static_embeddings(stream: np.ndarray, vocab: int, dims: int, window: int = 5, alpha: float = 0.75) -> np.ndarray:
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    keep = stream >= FIRST_NORMAL_ID
    counts = sp.csr_matrix((vocab, vocab), dtype=np.float64)
    for d in range(1, window + 1):
        a, b = stream[:-d], stream[d:]
        ok = keep[:-d] & keep[d:]
        a, b = a[ok], b[ok]
        pair = sp.coo_matrix((np.full(a.shape, 1.0 / d), (a, b)), shape=(vocab, vocab)).tocsr()
        counts = counts + pair + pair.T
    counts = counts.tocoo()
    row = np.asarray(counts.sum(1)).ravel()
    col = np.power(np.asarray(counts.sum(0)).ravel(), alpha)
    pmi = np.log(counts.data) + np.log(col.sum()) - np.log(row[counts.row]) - np.log(col[counts.col])
    positive = pmi > 0
    ppmi = sp.csr_matrix((pmi[positive], (counts.row[positive], counts.col[positive])), shape=(vocab, vocab))
    u, s, _ = svds(ppmi.astype(np.float32), k=dims)
    vectors = u * np.sqrt(s)
    seen = row > 0
    rng = np.random.default_rng(0)
    out = rng.normal(0, 0.02, (vocab, dims)).astype(np.float32)
    scale = 0.02 / vectors[seen].std()
    out[seen] = vectors[seen] * scale
    return out


def bag_features(table: np.ndarray, rows: list[list[int]]) -> np.ndarray:
    feats = np.zeros((len(rows), table.shape[1]), dtype=np.float32)
    for i, r in enumerate(rows):
        ids = [t for t in r if t >= FIRST_NORMAL_ID] or [UNK]
        feats[i] = table[ids].mean(0)
    return feats


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def encode(bert: Bert, rows: list[list[int]], device: str, batch: int = 128) -> np.ndarray:
    bert.eval()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = np.zeros((len(rows), bert.shape.hidden), dtype=np.float32)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        ids, att = pad_batch([with_specials(rows[i], 128) for i in idx], device)
        out[idx] = mean_pool(bert(ids, att), att).float().cpu().numpy()
    bert.train()
    return out


def retrieval(a: np.ndarray, b: np.ndarray) -> dict:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    sims = a @ b.T
    rank = (sims > np.diag(sims)[:, None]).sum(1)
    return {"recall@1": float((rank < 1).mean()), "recall@10": float((rank < 10).mean())}


@torch.no_grad()
def heldout_mlm_accuracy(bert: Bert, head: MlmHead, stream: np.ndarray, device: str, blocks: int = 64) -> float:
    bert.eval()
    gen = torch.Generator().manual_seed(1234)
    n = min(blocks, len(stream) // 126)
    rows = [with_specials(stream[i * 126 : (i + 1) * 126].tolist(), 128) for i in range(n)]
    ids, att = pad_batch(rows, device)
    masked, labels = mask_tokens(ids, att, 0.15, gen, bert.shape.vocab_size)
    _, acc = mlm_loss(bert, head, masked, att, labels)
    bert.train()
    return float(acc)


class Evaluator:
    def __init__(self, data: Path, device: str) -> None:
        self.device = device
        self.train = load_jsonl(data / "sections-train.ids.jsonl")
        self.test = load_jsonl(data / "sections-test.ids.jsonl")
        held = load_jsonl(data / "heldout-debian.ids.jsonl")
        self.held = [r for r in held if r["a"] and r["b"]]
        self.heldout_stream = load_stream(data, "heldout")

    def probe(self, features) -> dict:
        xtr = features([r["text"] for r in self.train])
        xte = features([r["text"] for r in self.test])
        return linear_probe(xtr, [r["label"] for r in self.train], xte, [r["label"] for r in self.test])

    def all(self, bert: Bert, head: MlmHead | None) -> dict:
        feats = lambda rows: encode(bert, rows, self.device)  # noqa: E731
        out = self.probe(feats)
        out |= retrieval(feats([r["a"] for r in self.held]), feats([r["b"] for r in self.held]))
        if head is not None:
            out["mlm_accuracy"] = heldout_mlm_accuracy(bert, head, self.heldout_stream, self.device)
        return out

    def static(self, table: np.ndarray) -> dict:
        out = self.probe(lambda rows: bag_features(table, rows))
        out |= retrieval(bag_features(table, [r["a"] for r in self.held]), bag_features(table, [r["b"] for r in self.held]))
        return out


# ---------------------------------------------------------------- training


def pick_precision(device: str) -> tuple[bool, str]:
    """bf16 autocast where the machine runs bf16 matmuls faster than fp32 (AMX, GPUs), else fp32."""
    if device.startswith("cuda"):
        return True, "bf16 autocast (CUDA)"
    timings = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(512, 512, dtype=dtype), torch.randn(512, 512, dtype=dtype)
        a @ b
        start = time.perf_counter()
        for _ in range(8):
            a @ b
        timings[dtype] = time.perf_counter() - start
    ratio = timings[torch.float32] / timings[torch.bfloat16]
    return ratio > 1.2, f"{'bf16 autocast' if ratio > 1.2 else 'fp32'} (bf16 matmul {ratio:.2f}× the speed of fp32 here)"


def lr_at(fraction: float, peak: float, warmup: float) -> float:
    if fraction < warmup:
        return peak * fraction / warmup
    return peak * max(0.0, 1.0 - fraction) / (1.0 - warmup)


def param_groups(modules, weight_decay: float):
    decay, no_decay, seen = [], [], set()
    for module in modules:
        for name, p in module.named_parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if p.ndim < 2 or "LayerNorm" in name or name.endswith("bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Checkpoint:
    def __init__(self, out: Path) -> None:
        self.dir = out / "checkpoints"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "last.pt"

    def save(self, state: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)

    def load(self) -> dict | None:
        return torch.load(self.path) if self.path.exists() else None


def fmt(m: dict) -> str:
    keys = ("accuracy", "macro_f1", "recall@1", "recall@10", "mlm_accuracy")
    return "  ".join(f"{k} {m[k]:.3f}" for k in keys if k in m)


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(here / "data"))
    p.add_argument("--out", default=str(here / "out"))
    p.add_argument("--preset", default="mini", choices=sorted(PRESETS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--mlm-minutes", type=float, default=25)
    p.add_argument("--contrastive-minutes", type=float, default=60)
    p.add_argument("--mlm-batch", type=int, default=64)
    p.add_argument("--mlm-lr", type=float, default=7e-4)
    p.add_argument("--pair-batch", type=int, default=64)
    p.add_argument("--pair-lr", type=float, default=2e-4)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--mlm-aux-weight", type=float, default=0.1)
    p.add_argument("--checkpoint-minutes", type=float, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--static-window", type=int, default=5)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = PRESETS[args.preset]
    ckpt = Checkpoint(out)
    state = ckpt.load()
    metrics: dict = state["metrics"] if state else {}
    log = open(out / "train.log", "a")

    def say(text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    bf16, precision_note = pick_precision(args.device)
    evaluator = Evaluator(data, args.device)
    train_stream = load_stream(data, "train")
    say(f"train stream {len(train_stream) / 1e6:.1f} M tokens; device {args.device}, {args.threads} threads, {precision_note}; resume: {state['stage'] if state else 'no'}")

    torch.manual_seed(args.seed)
    bert = Bert(shape).to(args.device)
    head = MlmHead(bert).to(args.device)
    if metrics.get("random") is None:
        metrics["random"] = evaluator.all(bert, head)
        say(f"random init: {fmt(metrics['random'])}")

    # ---- static start
    static_path = out / "static.npy"
    if not static_path.exists():
        t = time.time()
        table = static_embeddings(train_stream, shape.vocab_size, shape.hidden, window=args.static_window)
        np.save(static_path, table)
        metrics["static_seconds"] = time.time() - t
    table = np.load(static_path)
    if metrics.get("static") is None:
        metrics["static"] = evaluator.static(table)
        say(f"static start ({metrics.get('static_seconds', 0):.0f} s): {fmt(metrics['static'])}")

    if state is None:
        with torch.no_grad():
            bert.embeddings.word_embeddings.weight.copy_(torch.from_numpy(table))
        state = {"stage": "mlm", "elapsed": 0.0, "step": 0, "tokens": 0}
    else:
        bert.load_state_dict(state["bert"])
        head.load_state_dict(state["head"], strict=False)

    stages = [("mlm", args.mlm_minutes), ("contrastive", args.contrastive_minutes)]
    for stage, minutes in stages:
        if state["stage"] == "done" or [s for s, _ in stages].index(stage) < [s for s, _ in stages].index(state["stage"]):
            continue
        budget = minutes * 60
        peak = args.mlm_lr if stage == "mlm" else args.pair_lr
        opt = torch.optim.AdamW(param_groups([bert, head], 0.01), lr=peak, betas=(0.9, 0.98), eps=1e-6)
        if state.get("opt") is not None and state["stage"] == stage:
            opt.load_state_dict(state["opt"])
        gen = torch.Generator().manual_seed(args.seed + state["step"])
        rnd = random.Random(args.seed + state["step"])
        pairs = load_jsonl(data / "pairs.ids.jsonl") if stage == "contrastive" else []
        by_source: dict[str, list[dict]] = {}
        for r in pairs:
            if r["a"] and r["b"]:
                by_source.setdefault(r["source"], []).append(r)
        mix = [(source, weight) for source, weight in (("debian", 0.55), ("dict", 0.35), ("man", 0.10)) if by_source.get(source)]
        elapsed, last_ckpt, last_report = state["elapsed"], time.time(), time.time()
        run_start = time.time() - elapsed
        losses: list[float] = []
        say(f"{stage}: {minutes:g} min budget, resuming at {elapsed / 60:.1f} min, step {state['step']}")
        while elapsed < budget:
            lr = lr_at(elapsed / budget, peak, 0.06)
            for g in opt.param_groups:
                g["lr"] = lr
            autocast = torch.autocast("cuda" if args.device.startswith("cuda") else "cpu", dtype=torch.bfloat16, enabled=bf16)
            autocast.__enter__()
            if stage == "mlm":
                starts = rnd.sample(range(len(train_stream) - 127), args.mlm_batch)
                rows = [with_specials(train_stream[s : s + 126].tolist(), 128) for s in starts]
                ids, att = pad_batch(rows, args.device)
                masked, labels = mask_tokens(ids, att, 0.15, gen, shape.vocab_size)
                loss, _ = mlm_loss(bert, head, masked, att, labels)
                state["tokens"] += int(att.sum())
            else:
                batch, groups = [], set()
                while len(batch) < args.pair_batch:
                    source = rnd.choices([s for s, _ in mix], [w for _, w in mix])[0]
                    r = rnd.choice(by_source[source])
                    if r["group"] in groups:
                        continue
                    groups.add(r["group"])
                    batch.append(r)
                a_ids, a_att = pad_batch([with_specials(r["a"], 32) for r in batch], args.device)
                b_ids, b_att = pad_batch([with_specials(r["b"], 96) for r in batch], args.device)
                b_masked, b_labels = mask_tokens(b_ids, b_att, 0.15, gen, shape.vocab_size)
                ea = F.normalize(mean_pool(bert(a_ids, a_att), a_att), dim=-1)
                hb = bert(b_masked, b_att)
                eb = F.normalize(mean_pool(hb, b_att), dim=-1)
                sims = ea @ eb.T / args.temperature
                target = torch.arange(len(batch), device=args.device)
                sims = sims.float()
                contrastive = (F.cross_entropy(sims, target) + F.cross_entropy(sims.T, target)) / 2
                where = b_labels != -100
                aux = F.cross_entropy(head(hb[where]).float(), b_labels[where]) if where.any() else sims.sum() * 0
                loss = contrastive + args.mlm_aux_weight * aux
                state["tokens"] += int(a_att.sum() + b_att.sum())
            autocast.__exit__(None, None, None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            state["step"] += 1
            losses.append(float(loss))
            elapsed = time.time() - run_start
            if time.time() - last_report > 60:
                say(f"{stage} step {state['step']} {elapsed / 60:.1f}/{minutes:g} min lr {lr:.2e} loss {np.mean(losses[-20:]):.3f} tokens {state['tokens'] / 1e6:.2f} M")
                last_report = time.time()
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                state.update(stage=stage, elapsed=elapsed, bert=bert.state_dict(), head=head.state_dict(), opt=opt.state_dict(), metrics=metrics)
                ckpt.save(state)
                last_ckpt = time.time()
        metrics[f"{stage}_steps"] = state["step"]
        metrics[f"{stage}_tokens"] = state["tokens"]
        metrics[stage] = evaluator.all(bert, head)
        say(f"after {stage}: {fmt(metrics[stage])}")
        following = [s for s, _ in stages][[s for s, _ in stages].index(stage) + 1 :]
        state.update(stage=following[0] if following else "done", elapsed=0.0, opt=None, bert=bert.state_dict(), head=head.state_dict(), metrics=metrics)
        ckpt.save(state)

    torch.save(bert.state_dict(), out / "bert.pt")
    metrics["shape"] = shape.to_dict()
    metrics["minutes"] = {"mlm": args.mlm_minutes, "contrastive": args.contrastive_minutes}
    (out / "train-metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    say("| stage | probe accuracy | macro-F1 | recall@1 | recall@10 | masked-token accuracy |")
    say("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in ("random", "static", "mlm", "contrastive"):
        m = metrics.get(name, {})
        cells = [f"{m[k]:.3f}" if k in m else "–" for k in ("accuracy", "macro_f1", "recall@1", "recall@10", "mlm_accuracy")]
        say(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
