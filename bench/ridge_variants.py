#!/usr/bin/env python3
"""Ridge and blend variants on a finished `hiscmcl cv` run, outside the tool (docs/BENCHMARKS.md).

Reads the run's store (OUT/data: <id>.h5ad and the cached `histo` features), refits the two ridge
baselines as the tool does (METHOD.md §8.11: per-section z-scored features, training
standardisation, half-decade alpha by leave-one-section-out over the training sections), a ridge
with a per-gene alpha chosen the same way, and scores blends of them with retrieval's prediction
from a second run of the same models with `[predict] predictor = "retrieval"` (RETR/predictions).
Its fair ridge reproduces the tool's to four decimals on her2st; use it to try a variant before
building it.

  python3 bench/ridge_variants.py --run OUT --retrieval RETR --split loso|lopo

Needs numpy, scipy and h5py (Debian: python3-scipy, python3-h5py).
"""
import argparse
import json

import h5py
import numpy as np
from scipy.spatial import cKDTree

ALPHAS = [1, 3, 10, 30, 100, 300, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6]


def zscore(a):
    sd = a.std(0)
    sd[sd == 0] = 1
    return (a - a.mean(0)) / sd


def load_section(data, sid):
    with h5py.File(f"{data}/{sid}.h5ad", "r") as f:
        s = dict(id=sid, X=f["X"][:].astype(np.float64), patient=f["uns/patient"][()],
                 xy=np.stack([f["obs/pixel_x"][:], f["obs/pixel_y"][:]], 1))
    for level in ("spot", "neighbourhood"):
        s[level] = zscore(np.load(f"{data}/features/{sid}/histo.{level}.npy").astype(np.float64))
    return s


def design(s, with_context, n_neighbours=9, n_global=49):
    cols = [s["spot"], s["neighbourhood"]]
    if with_context:
        tree = cKDTree(s["xy"])
        for k in (n_neighbours, n_global):
            _, idx = tree.query(s["xy"], k=min(k, len(s["xy"])))
            cols.append(s["spot"][idx.reshape(len(s["xy"]), -1)].mean(1))
    return np.concatenate(cols, 1)


def ridge_fits(D, Y, alphas):
    """Weights for every alpha from one eigendecomposition of the standardised Gram matrix."""
    mu, sd = D.mean(0), D.std(0)
    sd[sd == 0] = 1
    Z, ym = (D - mu) / sd, Y.mean(0)
    w, V = np.linalg.eigh(Z.T @ Z)
    VB = V.T @ (Z.T @ (Y - ym))
    return {a: (mu, sd, ym, V @ (VB / (w + a)[:, None])) for a in alphas}


def predict(m, D):
    mu, sd, ym, W = m
    return ((D - mu) / sd) @ W + ym


def pcc(P, T):
    P, T = P - P.mean(0), T - T.mean(0)
    den = np.sqrt((P * P).sum(0) * (T * T).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (P * T).sum(0) / den
    r[den == 0] = np.nan
    return r


def scores(P, T):
    """ACG (NaN dropped), HEG (top-50 by truth mean, NaN as 0), HVG (top-50 by variance)."""
    r = pcc(P, T)
    heg = np.argsort(-T.mean(0), kind="stable")[:50]
    hvg = np.argsort(-T.var(0, ddof=1), kind="stable")[:50]
    return np.array([np.nanmean(r), np.mean(np.nan_to_num(r[heg])), np.nanmean(r[hvg])])


def inner_scores(Ds, Ys):
    """Per alpha and gene, the PCC summed over leave-one-section-out of the training sections."""
    out = np.zeros((len(ALPHAS), Ys[0].shape[1]))
    for i in range(len(Ds)):
        rest = [j for j in range(len(Ds)) if j != i]
        fits = ridge_fits(np.concatenate([Ds[j] for j in rest]), np.concatenate([Ys[j] for j in rest]), ALPHAS)
        for a, alpha in enumerate(ALPHAS):
            out[a] += np.nan_to_num(pcc(predict(fits[alpha], Ds[i]), Ys[i]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="a cv output folder (its data/ store is read)")
    ap.add_argument("--retrieval", required=True, help="the same run re-predicted with predictor = retrieval")
    ap.add_argument("--split", choices=["loso", "lopo"], required=True)
    args = ap.parse_args()
    ids = json.load(open(f"{args.run}/metrics.json"))["sections"].keys()
    S = {i: load_section(f"{args.run}/data", i) for i in ids}
    if args.split == "loso":
        folds = [([j for j in ids if j != i], [i]) for i in ids]
    else:
        folds = [([j for j in ids if S[j]["patient"] != p], [i for i in ids if S[i]["patient"] == p])
                 for p in sorted({s["patient"] for s in S.values()})]
    pred = {k: {} for k in ("ridge", "ridge_crops", "ridge_per_gene_alpha")}
    for train, test in folds:
        for key, context in (("ridge", True), ("ridge_crops", False)):
            Ds, Ys = [design(S[j], context) for j in train], [S[j]["X"] for j in train]
            inner = inner_scores(Ds, Ys) if len(Ds) > 1 else None
            # one alpha for every gene (the tool's: best mean PCC, ties to the larger), then one per gene
            best = ALPHAS[max(range(len(ALPHAS)), key=lambda a: (round(inner[a].mean(), 12), a))] if inner is not None else 100.0
            fits = ridge_fits(np.concatenate(Ds), np.concatenate(Ys), ALPHAS)
            for t in test:
                pred[key][t] = predict(fits[best], design(S[t], context))
            print(f"fold {','.join(test)}: {key} alpha {best:g}", flush=True)
            if context and inner is not None:
                per_gene = inner.argmax(0)
                mu, sd, ym, _ = fits[ALPHAS[0]]
                W = np.stack([fits[ALPHAS[a]][3][:, g] for g, a in enumerate(per_gene)], 1)
                for t in test:
                    pred["ridge_per_gene_alpha"][t] = predict((mu, sd, ym, W), design(S[t], True))
    retrieval = {}
    for t in ids:
        with h5py.File(f"{args.retrieval}/predictions/{t}.h5ad", "r") as f:
            retrieval[t] = f["X"][:].astype(np.float64)
    R, F, C, G = retrieval, pred["ridge"], pred["ridge_crops"], pred["ridge_per_gene_alpha"]
    rows = {
        "retrieval alone": lambda t: R[t],
        "ridge (fair)": lambda t: F[t],
        "ridge_crops": lambda t: C[t],
        "ridge, per-gene alpha": lambda t: G[t],
        "retrieval + ridge (the default)": lambda t: zscore(R[t]) + zscore(F[t]),
        "retrieval 0.4 + ridge 0.6": lambda t: 0.4 * zscore(R[t]) + 0.6 * zscore(F[t]),
        "retrieval + ridge + ridge_crops": lambda t: zscore(R[t]) + zscore(F[t]) + zscore(C[t]),
        "ridge + ridge_crops": lambda t: zscore(F[t]) + zscore(C[t]),
        "retrieval + per-gene-alpha ridge": lambda t: zscore(R[t]) + zscore(G[t]),
    }
    print(f"{'predictor':34s} ACG    HEG    HVG   (mean over {len(ids)} held-out sections)")
    for name, fn in rows.items():
        if any(t not in G for t in ids) and "per-gene" in name:
            continue
        m = np.mean([scores(fn(t), S[t]["X"]) for t in ids], 0)
        print(f"{name:34s} {m[0]:.4f} {m[1]:.4f} {m[2]:.4f}")


if __name__ == "__main__":
    main()
