"""Linear probe: multinomial logistic regression on frozen features (standardized, L2, full-batch L-BFGS)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def macro_f1(truth: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    scores = []
    for c in range(classes):
        tp = np.sum((predicted == c) & (truth == c))
        fp = np.sum((predicted == c) & (truth != c))
        fn = np.sum((predicted != c) & (truth == c))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def linear_probe(xtr: np.ndarray, ytr: list[str], xte: np.ndarray, yte: list[str], l2: float = 1e-3) -> dict:
    labels = sorted(set(ytr))
    index = {l: i for i, l in enumerate(labels)}
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    a = torch.from_numpy((xtr - mean) / std).float()
    b = torch.from_numpy((xte - mean) / std).float()
    y = torch.tensor([index[l] for l in ytr])
    w = torch.zeros(a.shape[1], len(labels), requires_grad=True)
    bias = torch.zeros(len(labels), requires_grad=True)
    opt = torch.optim.LBFGS([w, bias], lr=1, max_iter=300, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(a @ w + bias, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        predicted = (b @ w + bias).argmax(1).numpy()
    truth = np.array([index.get(l, -1) for l in yte])
    return {"accuracy": float((predicted == truth).mean()), "macro_f1": macro_f1(truth, predicted, len(labels))}
