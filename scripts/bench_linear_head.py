#!/usr/bin/env python3
"""Speed comparison for `renal-triage bench mlp`: the study's linear head (C -> 3, Adam with
coupled L2, mean cross-entropy, shuffled mini-batches) under nested 5x5 CV with one candidate
(5 outer x (5 inner + 1 refit) = 30 fits), in plain numpy and in PyTorch, one thread each.
Usage: bench_linear_head.py TABLE.csv EPOCHS BATCH (TABLE: label first, then features, no
header). Prints JSON with the wall times."""
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
import numpy as np  # noqa: E402

data = np.loadtxt(sys.argv[1], delimiter=",")
epochs, batch = int(sys.argv[2]), int(sys.argv[3])
y_all, X_all = data[:, 0].astype(int), data[:, 1:]
K = 3
LR, WD = 3e-4, 8e-4


def folds(y, k, seed):
    rng = np.random.default_rng(seed)
    out = [[] for _ in range(k)]
    nxt = 0
    for c in range(K):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        for i in idx:
            out[nxt % k].append(i)
            nxt += 1
    return [np.array(sorted(f)) for f in out]


def plan(y):
    """(train, test) index pairs of the 30 fits."""
    fits = []
    n = len(y)
    for o, test in enumerate(folds(y, 5, 1)):
        train = np.setdiff1d(np.arange(n), test)
        for itest in folds(y[train], 5, 2 + o):
            itrain = np.setdiff1d(np.arange(len(train)), itest)
            fits.append((train[itrain], train[itest]))
        fits.append((train, test))
    return fits


def fit_numpy(X, y, seed):
    rng = np.random.default_rng(seed)
    n, p = X.shape
    bound = 1 / np.sqrt(p)
    W = rng.uniform(-bound, bound, (K, p))
    b = rng.uniform(-bound, bound, K)
    mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
    t = 0
    onehot = np.eye(K)[y]
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            xb = X[idx]
            z = xb @ W.T + b
            z -= z.max(1, keepdims=True)
            pr = np.exp(z)
            pr /= pr.sum(1, keepdims=True)
            d = (pr - onehot[idx]) / len(idx)
            gW = d.T @ xb + WD * W
            gb = d.sum(0) + WD * b
            t += 1
            for prm, g, m, v in ((W, gW, mW, vW), (b, gb, mb, vb)):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                denom = np.sqrt(v) / np.sqrt(1 - 0.999 ** t) + 1e-8
                prm -= LR / (1 - 0.9 ** t) * m / denom
    return W, b


def run_numpy(fits):
    t0 = time.perf_counter()
    for tr, te in fits:
        W, b = fit_numpy(X_all[tr], y_all[tr], 0)
        _ = X_all[te] @ W.T + b
    return time.perf_counter() - t0


def run_torch(fits):
    import torch

    torch.set_num_threads(1)
    X = torch.tensor(X_all, dtype=torch.float64)
    Y = torch.tensor(y_all)
    t0 = time.perf_counter()
    for tr, te in fits:
        torch.manual_seed(0)
        model = torch.nn.Linear(X.shape[1], K).double()
        opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
        xt, yt = X[tr], Y[tr]
        for _ in range(epochs):
            perm = torch.randperm(len(tr))
            for s in range(0, len(tr), batch):
                idx = perm[s:s + batch]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        with torch.no_grad():
            _ = model(X[te])
    return time.perf_counter() - t0


fits = plan(y_all)
out = {"fits": len(fits), "threads": 1, "numpy_s": run_numpy(fits)}
try:
    out["pytorch_s"] = run_torch(fits)
except Exception as e:  # PyTorch is optional
    out["pytorch"] = f"not run: {e}"
print(json.dumps(out))
