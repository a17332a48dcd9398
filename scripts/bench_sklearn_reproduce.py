#!/usr/bin/env python3
"""Optional speed comparison for `renal-triage bench reproduce --sklearn`: the same non-image
reproduction written with the Python stack (nibabel, numpy, scipy, scikit-image, scikit-learn),
on one thread, timed stage by stage.

Usage: bench_sklearn_reproduce.py COHORT.csv OUT_DIR [TREES]

COHORT.csv is written by the bench from the cohort it loaded (so both sides start from the same
cases, labels and clinical values): case_id, y (0 benign, 1 indolent, 2 aggressive), mask (the
label map), annotations (instance:annotator:path joined by ';'), then the clinical columns (empty
for missing). What this script then does itself, as `reproduce` does:

1. measurement: every label map (tumor = 2, largest 26-connected component, largest axial
   diameter over per-slice convex hulls, shape features: voxel and marching-cubes mesh volume,
   surface area, sphericity, maximum 3D diameter, PCA axis lengths, elongation, flatness), and
   every annotator mask of the instances all annotators delineated;
2. agreement: ICC(3,1) per shape feature, Pearson r and Bland-Altman against radiographic size;
3. models M2-M5 and the size+sex logistic baseline: median imputation, scaling for MLP/LR,
   in-fold top-9 selection by random-forest importance, 5x5 nested CV with the 3x3 forest grid
   (inner score: mean one-vs-rest AUC of the two tasks), Youden thresholds from the inner folds;
4. statistics per model and task: ROC AUC with DeLong CI, PR-AUC, confusion at the threshold,
   Brier, calibration in 10 bins with 1000x bootstrap CIs; paired DeLong matrices between models;
5. report: CSV tables and an HTML page.

Prints JSON with per-stage and total wall times. scikit-learn's MLP is the closest equivalent of
the study's linear head (hidden_layer_sizes=(), Adam, lr 3e-4, L2 8e-4, 200 epochs, batch 32).
"""
import csv
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage, stats  # noqa: E402
from scipy.spatial import ConvexHull, QhullError  # noqa: E402
from skimage import measure  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.feature_selection import SelectFromModel  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

TASKS = {"malignant_vs_benign": (1, 2), "aggressive_vs_rest": (2,)}


# ---------------------------------------------------------------- measurement
def hull_diameter(points, scale):
    pts = points * scale
    if len(pts) >= 3:
        try:
            pts = pts[ConvexHull(pts).vertices]
        except QhullError:
            pass  # collinear or duplicate points: use them all
    d = pts[:, None, :] - pts[None, :, :]
    return float(np.sqrt((d ** 2).sum(-1).max())) if len(pts) > 1 else 0.0


def shape(mask, spacing, axial):
    lab, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if n == 0:
        raise ValueError("empty tumor")
    sizes = np.bincount(lab.ravel())[1:]
    comp = lab == (1 + int(np.argmax(sizes)))
    idx = np.argwhere(comp)
    other = [a for a in range(3) if a != axial]
    best = 0.0
    for s in np.unique(idx[:, axial]):
        pts = idx[idx[:, axial] == s][:, other].astype(float)
        best = max(best, hull_diameter(pts, np.array([spacing[a] for a in other])))
    full = np.argwhere(mask).astype(float) * np.array(spacing)
    vox_vol = mask.sum() * float(np.prod(spacing))
    padded = np.pad(mask.astype(np.float32), 1)
    verts, faces, _, _ = measure.marching_cubes(padded, 0.5, spacing=tuple(spacing))
    area = measure.mesh_surface_area(verts, faces)
    tri = verts[faces]
    mesh_vol = abs(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0
    sph = (36 * math.pi * mesh_vol ** 2) ** (1 / 3) / area if area > 0 else 0.0
    hv = verts
    if len(verts) >= 4:
        try:
            hv = verts[ConvexHull(verts).vertices]
        except QhullError:
            pass
    d = hv[:, None, :] - hv[None, :, :]
    max3d = float(np.sqrt((d ** 2).sum(-1).max()))
    ev = np.sort(np.linalg.eigvalsh(np.cov(full.T))) if len(full) > 1 else np.zeros(3)
    ev = np.clip(ev, 0, None)
    major, minor, least = (4 * math.sqrt(ev[2]), 4 * math.sqrt(ev[1]), 4 * math.sqrt(ev[0]))
    return {
        "voxel_volume_ml": vox_vol / 1000,
        "mesh_volume_ml": mesh_vol / 1000,
        "surface_area_mm2": area,
        "sphericity": sph,
        "maximum_3d_diameter_mm": max3d,
        "axial_diameter_mm": best,
        "major_axis_length_mm": major,
        "minor_axis_length_mm": minor,
        "least_axis_length_mm": least,
        "elongation": minor / major if major > 0 else 0.0,
        "flatness": least / major if major > 0 else 0.0,
    }


def load_mask(path, labels):
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    spacing = [float(z) for z in img.header.get_zooms()[:3]]
    codes = nib.aff2axcodes(img.affine)
    axial = [i for i, c in enumerate(codes) if c in ("S", "I")][0]
    return np.isin(data, labels), spacing, axial


# ---------------------------------------------------------------- statistics
def midrank(x):
    j = np.argsort(x, kind="mergesort")
    z = x[j]
    n = len(x)
    t = np.zeros(n)
    i = 0
    while i < n:
        k = i
        while k < n and z[k] == z[i]:
            k += 1
        t[i:k] = 0.5 * (i + k - 1) + 1
        i = k
    out = np.empty(n)
    out[j] = t
    return out


def delong(y, scores):
    """Sun & Xu's fast DeLong: AUCs and their covariance for a list of score vectors."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    k = scores.shape[0]
    tx = np.array([midrank(p) for p in pos])
    ty = np.array([midrank(q) for q in neg])
    tz = np.array([midrank(np.concatenate([p, q])) for p, q in zip(pos, neg)])
    aucs = (tz[:, :m].sum(1) / m - (m + 1) / 2) / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1 - (tz[:, m:] - ty) / m
    cov = np.cov(v01).reshape(k, k) / m + np.cov(v10).reshape(k, k) / n
    return aucs, cov


def youden(y, p):
    fpr, tpr, thr = roc_curve(y, p)
    i = int(np.argmax(tpr - fpr))
    return float(min(thr[i], 1.0))


def calibration(y, p, rng, bins=10, boot=1000):
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    obs = [float(y[which == b].mean()) if (which == b).any() else float("nan") for b in range(bins)]
    reps = np.full((boot, bins), np.nan)
    for r in range(boot):
        i = rng.integers(0, len(y), len(y))
        yb, wb = y[i], which[i]
        for b in range(bins):
            s = wb == b
            if s.any():
                reps[r, b] = yb[s].mean()
    lo = np.nanpercentile(reps, 2.5, axis=0)
    hi = np.nanpercentile(reps, 97.5, axis=0)
    return obs, lo.tolist(), hi.tolist()


def icc31(r):
    n, k = r.shape
    gm = r.mean()
    ms_r = k * ((r.mean(1) - gm) ** 2).sum() / (n - 1)
    ss_c = n * ((r.mean(0) - gm) ** 2).sum()
    ss_e = ((r - gm) ** 2).sum() - ms_r * (n - 1) - ss_c
    ms_e = ss_e / ((n - 1) * (k - 1))
    return (ms_r - ms_e) / (ms_r + (k - 1) * ms_e)


# ---------------------------------------------------------------- models
def candidates(kind, n_clin, top, trees, seed):
    steps = [("impute", SimpleImputer(strategy="median"))]
    if kind != "rf":
        steps.append(("scale", StandardScaler()))
    if top:
        sel = SelectFromModel(RandomForestClassifier(250, random_state=seed, n_jobs=1),
                              max_features=top, threshold=-np.inf)
        steps.append(("top", sel))
    out = []
    if kind == "rf":
        for mf in ["sqrt", 0.1, 0.3]:
            for leaf in [1, 3, 5]:
                out.append(Pipeline(steps + [("m", RandomForestClassifier(
                    trees, max_features=mf, min_samples_leaf=leaf, random_state=seed, n_jobs=1))]))
    elif kind == "mlp":
        out.append(Pipeline(steps + [("m", MLPClassifier(
            hidden_layer_sizes=(), learning_rate_init=3e-4, alpha=8e-4, max_iter=200,
            batch_size=32, random_state=seed))]))
    else:
        out.append(Pipeline(steps + [("m", LogisticRegression(C=1.0, max_iter=1000))]))
    return out


def task_scores(proba, task):
    pos = TASKS[task]
    if task == "malignant_vs_benign":
        return 1 - proba[:, 0]
    return proba[:, pos[0]]


def nested_cv(X, y, cands, seed):
    outer = StratifiedKFold(5, shuffle=True, random_state=seed)
    pooled = np.zeros((len(y), 3))
    thresholds = {t: [] for t in TASKS}
    for tr, te in outer.split(X, y):
        inner = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X[tr], y[tr]))
        best, best_score, best_preds = None, -1, None
        for c in cands:
            preds = []
            for a, b in inner:
                m = clone(c).fit(X[tr][a], y[tr][a])
                preds.append((b, m.predict_proba(X[tr][b])))
            p = np.zeros((len(tr), 3))
            for b, pr in preds:
                p[b] = pr
            score = np.mean([roc_auc_score(np.isin(y[tr], TASKS[t]), task_scores(p, t)) for t in TASKS])
            if score > best_score:
                best, best_score, best_preds = c, score, preds
        for t in TASKS:
            for b, pr in best_preds:
                yt = np.isin(y[tr][b], TASKS[t]).astype(int)
                if 0 < yt.sum() < len(yt):
                    thresholds[t].append(youden(yt, task_scores(pr, t)))
        pooled[te] = clone(best).fit(X[tr], y[tr]).predict_proba(X[te])
    return pooled, {t: float(np.mean(v)) for t, v in thresholds.items()}


def main():
    table, out = sys.argv[1], sys.argv[2]
    trees = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    os.makedirs(out, exist_ok=True)
    times = {}
    t_all = time.perf_counter()
    with open(table) as f:
        rows = list(csv.DictReader(f))
    clinical = [c for c in rows[0].keys() if c not in ("case_id", "y", "mask", "annotations")]

    t0 = time.perf_counter()
    meas = {}
    for r in rows:
        m, sp, ax = load_mask(r["mask"], [2])
        meas[r["case_id"]] = shape(m, sp, ax)
    ratings = {}
    for r in rows:
        by_inst = {}
        for a in filter(None, r["annotations"].split(";")):
            inst, ann, path = a.split(":", 2)
            by_inst.setdefault(inst, []).append(path)
        for inst, paths in by_inst.items():
            ratings[(r["case_id"], inst)] = paths
    k = max(len(p) for p in ratings.values()) if ratings else 0
    shapes = []
    for key, paths in sorted(ratings.items()):
        if len(paths) != k:
            continue
        try:
            per = []
            for p in paths:
                m, sp, ax = load_mask(p, [1])
                per.append(shape(m, sp, ax))
            shapes.append(per)
        except ValueError:
            continue
    times["measurement"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    agreement = {}
    if shapes:
        for feat in shapes[0][0]:
            r = np.array([[s[feat] for s in inst] for inst in shapes])
            agreement[feat] = icc31(r)
    if "radiographic_size_cm" in clinical:
        a = np.array([meas[r["case_id"]]["axial_diameter_mm"] for r in rows])
        b = np.array([float(r["radiographic_size_cm"]) * 10 if r["radiographic_size_cm"] else np.nan for r in rows])
        ok = ~np.isnan(b)
        diff = a[ok] - b[ok]
        agreement["pearson_r"] = float(stats.pearsonr(a[ok], b[ok])[0])
        agreement["bland_altman_bias_mm"] = float(diff.mean())
        agreement["loa_mm"] = [float(diff.mean() - 1.96 * diff.std(ddof=1)), float(diff.mean() + 1.96 * diff.std(ddof=1))]
    times["agreement"] = time.perf_counter() - t0

    y = np.array([int(r["y"]) for r in rows])
    clin = np.array([[float(r[c]) if r[c] != "" else np.nan for c in clinical] for r in rows])
    size = np.array([[meas[r["case_id"]]["axial_diameter_mm"]] for r in rows])
    sex = clin[:, [clinical.index("sex_male")]] if "sex_male" in clinical else np.zeros((len(rows), 1))
    models = {
        "M2 clinical RF": (clin, "rf", 0),
        "M3 clinical-top9 RF": (clin, "rf", 9),
        "M4 clinical+size RF": (np.hstack([clin, size]), "rf", 0),
        "M5 clinical-top9+size MLP": (np.hstack([clin, size]), "mlp", 9),
        "Baseline size+sex LR": (np.hstack([sex, np.log(size)]), "lr", 0),
    }
    preds, thr = {}, {}
    for name, (X, kind, top) in models.items():
        t0 = time.perf_counter()
        preds[name], thr[name] = nested_cv(X, y, candidates(kind, X.shape[1], top, trees, 0), 1)
        times["model " + name] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    results, matrices = [], {}
    names = list(models)
    for t in TASKS:
        yt = np.isin(y, TASKS[t]).astype(int)
        scores = np.array([task_scores(preds[n], t) for n in names])
        aucs, cov = delong(yt, scores)
        for i, n in enumerate(names):
            s = scores[i]
            se = math.sqrt(cov[i, i])
            th = thr[n][t]
            pred = s >= th
            tp, fp = int((pred & (yt == 1)).sum()), int((pred & (yt == 0)).sum())
            fn, tn = int((~pred & (yt == 1)).sum()), int((~pred & (yt == 0)).sum())
            obs, lo, hi = calibration(yt, s, rng)
            results.append({
                "model": n, "task": t, "auc": float(aucs[i]),
                "auc_ci": [float(aucs[i] - 1.96 * se), float(aucs[i] + 1.96 * se)],
                "pr_auc": float(average_precision_score(yt, s)), "threshold": th,
                "sensitivity": tp / max(tp + fn, 1), "specificity": tn / max(tn + fp, 1),
                "precision": tp / max(tp + fp, 1), "brier": float(brier_score_loss(yt, s)),
                "calibration": obs, "calibration_lo": lo, "calibration_hi": hi,
            })
        mat = []
        for i in range(len(names)):
            row = []
            for j in range(len(names)):
                if i == j:
                    row.append(1.0)
                    continue
                var = cov[i, i] + cov[j, j] - 2 * cov[i, j]
                z = (aucs[i] - aucs[j]) / math.sqrt(var) if var > 0 else 0.0
                row.append(float(2 * stats.norm.sf(abs(z))))
            mat.append(row)
        matrices[t] = mat
    times["tables_and_delong"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with open(os.path.join(out, "models.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "task", "auc", "ci_lo", "ci_hi", "pr_auc", "threshold", "sensitivity",
                    "specificity", "precision", "brier"])
        for r in results:
            w.writerow([r["model"], r["task"], r["auc"], *r["auc_ci"], r["pr_auc"], r["threshold"],
                        r["sensitivity"], r["specificity"], r["precision"], r["brier"]])
    with open(os.path.join(out, "delong.json"), "w") as f:
        json.dump({"models": names, "p_values": matrices}, f)
    html = ["<html><body><h1>Reproduction (scikit-learn)</h1><table>"]
    for r in results:
        html.append(f"<tr><td>{r['model']}</td><td>{r['task']}</td><td>{r['auc']:.3f}</td></tr>")
    html.append("</table></body></html>")
    with open(os.path.join(out, "report.html"), "w") as f:
        f.write("\n".join(html))
    times["report"] = time.perf_counter() - t0
    print(json.dumps({
        "total_s": time.perf_counter() - t_all, "stages_s": times, "threads": 1,
        "cases": len(rows), "annotator_instances": len(shapes),
        "auc": {f"{r['model']} / {r['task']}": r["auc"] for r in results},
        "icc_mean": float(np.mean([v for k, v in agreement.items() if k in shapes[0][0]])) if shapes else None,
    }))


if __name__ == "__main__":
    main()
