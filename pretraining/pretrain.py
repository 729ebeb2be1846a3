#!/usr/bin/env python3
"""Pretrains bertd's small BERT on the corpus shards: masked-language modelling, then unsupervised
SimCSE, on one GPU in about ten minutes. Needs PyTorch and transformers (the GPU machine has them).

    python3 models/pretraining/pretrain.py --data models/pretraining/data/shards --out models/pretraining/out

Recipe (README.md beside this file): BERT-mini by default (4 layers, 256 wide, 4 heads, 1024 FFN) with
bert-base-uncased's vocabulary; blocks of 128 ids packed across paragraphs; 15% of non-special ids
masked (80% [MASK], 10% random, 10% kept); AdamW (0.9, 0.98), weight decay 0.01 except biases and
LayerNorms; linear warmup then linear decay to 0 over the step count the time budget allows; bf16
autocast. Then SimCSE: each paragraph (8–64 ids) encoded twice with dropout on, mean pooling, in-batch
negatives, temperature 0.05. Writes the encoder (Hugging Face layout) to OUT/hf and metrics to
OUT/train-metrics.json, and prints a table last.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shards import load_tokens, pack_blocks, paragraphs, read_index  # noqa: E402

PRESETS = {
    "mini": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    "small": dict(num_hidden_layers=4, hidden_size=512, num_attention_heads=8, intermediate_size=2048),
    "tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description="MLM then SimCSE pretraining of a small BERT")
    p.add_argument("--data", default=str(here / "data" / "shards"))
    p.add_argument("--out", default=str(here / "out"))
    p.add_argument("--preset", choices=sorted(PRESETS), default="mini")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--mlm-minutes", type=float, default=6.5)
    p.add_argument("--mlm-max-steps", type=int, default=0, help="stop MLM after this many steps (0 = time budget only)")
    p.add_argument("--simcse-minutes", type=float, default=1.5)
    p.add_argument("--simcse-batch", type=int, default=256)
    p.add_argument("--simcse-lr", type=float, default=5e-5)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compile", action="store_true", help="torch.compile the encoder (faster steps, ~1 min compile)")
    p.add_argument("--device", default="cuda")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    import torch
    import torch.nn.functional as F
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    device = torch.device(args.device)
    started = time.time()

    index = read_index(args.data)
    special = index["special_ids"]
    cls_id, sep_id, pad_id, mask_id = special["cls"], special["sep"], special["pad"], special["mask"]
    vocab_size = index["vocab_size"]
    train_tokens = load_tokens(args.data, "train")
    heldout_tokens = load_tokens(args.data, "heldout")
    train_blocks = torch.frombuffer(bytearray(pack_blocks(train_tokens, args.seq, cls_id, sep_id).tobytes()), dtype=torch.int16)
    train_blocks = train_blocks.view(-1, args.seq).to(device=device, dtype=torch.int64) & 0xFFFF
    heldout_blocks = torch.frombuffer(bytearray(pack_blocks(heldout_tokens, args.seq, cls_id, sep_id).tobytes()), dtype=torch.int16)
    heldout_blocks = heldout_blocks.view(-1, args.seq).to(device=device, dtype=torch.int64) & 0xFFFF
    print(f"data: {len(train_tokens) / 1e6:.1f} M train ids → {train_blocks.shape[0]} blocks of {args.seq}; "
          f"held-out {heldout_blocks.shape[0]} blocks; loaded in {time.time() - started:.1f} s", flush=True)

    config = BertConfig(vocab_size=vocab_size, max_position_embeddings=512, type_vocab_size=2, pad_token_id=pad_id, **PRESETS[args.preset])
    model = BertForMaskedLM(config).to(device)
    encoder = torch.compile(model.bert) if args.compile else model.bert
    params = sum(p.numel() for p in model.bert.parameters())
    print(f"model: {args.preset} {config.num_hidden_layers}×{config.hidden_size}, {params / 1e6:.1f} M encoder parameters", flush=True)

    special_ids = torch.tensor([cls_id, sep_id, pad_id, mask_id, special["unk"]], device=device)

    def mask_batch(ids: torch.Tensor, generator: torch.Generator | None = None):
        maskable = ~torch.isin(ids, special_ids)
        chosen = (torch.rand(ids.shape, device=device, generator=generator) < 0.15) & maskable
        roll = torch.rand(ids.shape, device=device, generator=generator)
        inputs = ids.clone()
        inputs[chosen & (roll < 0.8)] = mask_id
        randomized = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[randomized] = torch.randint(999, vocab_size, ids.shape, device=device, generator=generator)[randomized]
        return inputs, chosen

    def mlm_logits(inputs: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        hidden = encoder(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
        return model.cls(hidden[chosen])  # vocabulary logits for the masked positions only

    def optimizer_for(module: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        decay = [p for n, p in module.named_parameters() if p.requires_grad and not (n.endswith("bias") or "LayerNorm" in n)]
        rest = [p for n, p in module.named_parameters() if p.requires_grad and (n.endswith("bias") or "LayerNorm" in n)]
        groups = [{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6, fused=device.type == "cuda")

    @torch.no_grad()
    def heldout_accuracy() -> float:
        model.eval()
        generator = torch.Generator(device=device).manual_seed(1234)
        correct = total = 0
        for i in range(0, heldout_blocks.shape[0], 512):
            ids = heldout_blocks[i : i + 512]
            inputs, chosen = mask_batch(ids, generator)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                predicted = mlm_logits(inputs, chosen).argmax(-1)
            correct += (predicted == ids[chosen]).sum().item()
            total += chosen.sum().item()
        model.train()
        return correct / max(total, 1)

    rows: list[tuple[str, str]] = []
    initial_accuracy = heldout_accuracy()

    # ---- Stage 1: masked-language modelling.
    optimizer = optimizer_for(model, args.lr)
    budget = args.mlm_minutes * 60
    total_steps = None
    step, tokens_seen, loss_ema = 0, 0, None
    stage_start = time.time()
    model.train()
    while True:
        elapsed = time.time() - stage_start
        if step == 50:
            total_steps = max(args.warmup_steps + 1, int(50 + (budget - elapsed) / (elapsed / 50)))
            if args.mlm_max_steps:
                total_steps = min(total_steps, args.mlm_max_steps)
            print(f"mlm: {elapsed / 50 * 1000:.1f} ms a step → {total_steps} steps in the budget", flush=True)
        if (total_steps is not None and step >= total_steps) or elapsed > budget * 1.05 or (args.mlm_max_steps and step >= args.mlm_max_steps):
            break
        horizon = total_steps or 10**9
        lr = args.lr * min((step + 1) / args.warmup_steps, max(0.0, (horizon - step) / max(1, horizon - args.warmup_steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        ids = train_blocks[torch.randint(0, train_blocks.shape[0], (args.batch,), device=device)]
        inputs, chosen = mask_batch(ids)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = mlm_logits(inputs, chosen)
        loss = F.cross_entropy(logits.float(), ids[chosen])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens_seen += ids.numel()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item() if step % 10 == 0 else loss_ema
        if step % 500 == 0:
            print(f"mlm step {step}/{total_steps}: loss {loss_ema:.3f}, lr {lr:.2e}, {tokens_seen / (time.time() - stage_start) / 1e6:.2f} M tokens/s", flush=True)
    mlm_seconds = time.time() - stage_start
    mlm_accuracy = heldout_accuracy()
    rows += [
        ("MLM steps × batch × seq", f"{step} × {args.batch} × {args.seq}"),
        ("MLM tokens seen (epochs)", f"{tokens_seen / 1e6:.0f} M ({tokens_seen / max(1, train_blocks.numel()):.1f})"),
        ("MLM time", f"{mlm_seconds:.0f} s ({tokens_seen / mlm_seconds / 1e6:.2f} M tokens/s)"),
        ("MLM final loss (EMA)", f"{loss_ema:.3f}"),
        ("held-out masked-token accuracy: random init → after MLM", f"{initial_accuracy:.3f} → {mlm_accuracy:.3f}"),
    ]

    # ---- Stage 2: unsupervised SimCSE on paragraphs.
    spans = paragraphs(train_tokens, sep_id, 8, 64)
    starts = torch.tensor([s for s, _ in spans], device=device)
    lengths = torch.tensor([e - s for s, e in spans], device=device)
    flat = torch.frombuffer(bytearray(train_tokens.tobytes()), dtype=torch.int16).to(device=device, dtype=torch.int64) & 0xFFFF
    width = 66
    offsets = torch.arange(width - 2, device=device)

    def paragraph_batch(n: int):
        pick = torch.randint(0, len(spans), (n,), device=device)
        s, length = starts[pick], lengths[pick]
        body = flat[(s[:, None] + offsets[None, :]).clamp(max=flat.numel() - 1)]
        inside = offsets[None, :] < length[:, None]
        ids = torch.full((n, width), pad_id, device=device, dtype=torch.int64)
        ids[:, 0] = cls_id
        ids[:, 1:-1] = torch.where(inside, body, torch.full_like(body, pad_id))
        ids[torch.arange(n, device=device), length + 1] = sep_id
        mask = (ids != pad_id).long()
        return ids, mask

    def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1)

    simcse_optimizer = optimizer_for(model.bert, args.simcse_lr)
    budget = args.simcse_minutes * 60
    stage_start = time.time()
    simcse_steps, simcse_loss = 0, None
    labels = torch.arange(args.simcse_batch, device=device)
    while budget > 0 and time.time() - stage_start < budget:
        ids, mask = paragraph_batch(args.simcse_batch)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            both = encoder(input_ids=torch.cat([ids, ids]), attention_mask=torch.cat([mask, mask])).last_hidden_state
            pooled = F.normalize(mean_pool(both.float(), torch.cat([mask, mask])), dim=-1)
        z1, z2 = pooled[: args.simcse_batch], pooled[args.simcse_batch :]
        loss = F.cross_entropy(z1 @ z2.T / args.temperature, labels)
        progress = (time.time() - stage_start) / budget
        for group in simcse_optimizer.param_groups:
            group["lr"] = args.simcse_lr * min(1.0, (simcse_steps + 1) / 50) * max(0.0, 1 - progress)
        simcse_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.bert.parameters(), 1.0)
        simcse_optimizer.step()
        simcse_steps += 1
        simcse_loss = loss.item() if simcse_loss is None else 0.95 * simcse_loss + 0.05 * loss.item() if simcse_steps % 5 == 0 else simcse_loss
        if simcse_steps % 200 == 0:
            print(f"simcse step {simcse_steps}: loss {simcse_loss:.3f}", flush=True)
    simcse_seconds = time.time() - stage_start
    final_accuracy = heldout_accuracy()
    rows += [
        ("SimCSE steps × batch (paragraphs)", f"{simcse_steps} × {args.simcse_batch} ({len(spans)} paragraphs)"),
        ("SimCSE time, final loss (EMA)", f"{simcse_seconds:.0f} s, {simcse_loss if simcse_loss is None else round(simcse_loss, 3)}"),
        ("held-out masked-token accuracy after SimCSE", f"{final_accuracy:.3f}"),
    ]

    # ---- Save the encoder in the Hugging Face layout (export_onnx.py turns it into ONNX).
    out = Path(args.out)
    (out / "hf").mkdir(parents=True, exist_ok=True)
    model.bert.save_pretrained(out / "hf", safe_serialization=True)
    total = time.time() - started
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    rows += [("device", gpu), ("wall time, all stages", f"{total:.0f} s")]
    metrics = {
        "preset": args.preset, "config": config.to_dict(), "args": vars(args), "device": gpu,
        "train_tokens": len(train_tokens), "heldout_tokens": len(heldout_tokens),
        "mlm_steps": step, "mlm_tokens_seen": tokens_seen, "mlm_seconds": mlm_seconds, "mlm_loss": loss_ema,
        "heldout_mlm_accuracy": {"random_init": initial_accuracy, "after_mlm": mlm_accuracy, "after_simcse": final_accuracy},
        "simcse_steps": simcse_steps, "simcse_seconds": simcse_seconds, "simcse_loss": simcse_loss, "wall_seconds": total,
    }
    (out / "train-metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    width = max(len(k) for k, _ in rows)
    print("\n| what | value |\n| --- | --- |")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    return 0 if math.isfinite(loss_ema or float("nan")) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
