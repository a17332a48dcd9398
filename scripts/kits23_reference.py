#!/usr/bin/env python3
"""Independent reference values for the KiTS23 development cohort, written with the Python
stack (nibabel, numpy, scipy), never with renal-triage: the test fixture
`crates/renal-triage/tests/fixtures/kits23_reference.json`, read by `tests/cli_cohort.rs` and
`renal-cohort/tests/kits23.rs`.

1. Labels: the Bhindi et al. (2018) rules as docs/data.md states them (B1, A1-A4, I1), applied
   to `kits23.json` with the default blank-modifier policy (a blank necrosis, sarcomatoid
   feature or T stage read as absent / not above T1a); each case's class and the counts.
2. Size: the largest axial in-plane diameter of the index tumor (the largest 26-connected
   component of label 2), between voxel centres, in mm: per axial slice the convex hull of the
   component's voxel centres (scipy's Qhull) scaled by the in-plane spacing, the largest
   pairwise distance over the slices. The axial axis is the one nibabel's orientation codes
   call S/I. Then Pearson r (scipy) and Bland-Altman (bias, SD with ddof=1, limits of
   agreement) of computed - radiographic size.

Usage: kits23_reference.py KITS23_DIR OUT.json   (a few minutes on 2 cores)
"""
import json
import multiprocessing
import sys

import nibabel as nib
import numpy as np
import scipy
from scipy import ndimage, stats
from scipy.spatial import ConvexHull, QhullError

A2 = {
    "collecting_duct_undefined",
    "rcc_unclassified",
    "transitional_cell_carcinoma",
    "wilms_tumor",
    "spindle_cell_neoplasm",
}


def grade(r):
    g = r.get("tumor_isup_grade")
    return int(g) if g not in (None, "", "na") else None


def t_above_1a(r):
    t = r.get("pathology_t_stage")
    return t not in (None, "", "na", "0", "1a", "x")


def label(r):
    if r["malignant"] is False:
        return "benign", "B1"
    sub, g = r["tumor_histologic_subtype"], grade(r)
    if sub in ("clear_cell_rcc", "papillary_rcc") and g in (3, 4):
        return "aggressive", "A1"
    if sub in A2 or "translocation" in sub or "hlrcc" in sub or "collecting" in sub:
        return "aggressive", "A2"
    low_papillary = sub == "papillary_rcc" and g in (1, 2)
    if (r.get("tumor_necrosis") is True or r.get("sarcomatoid_features") is True) and not low_papillary:
        return "aggressive", "A3"
    size = r.get("pathologic_size")
    if t_above_1a(r) and size is not None and float(size) > 4.0:
        return "aggressive", "A4"
    return "indolent", "I1"


def axial_diameter(path):
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    spacing = [float(z) for z in img.header.get_zooms()[:3]]
    codes = nib.aff2axcodes(img.affine)
    axial = [i for i, c in enumerate(codes) if c in ("S", "I")][0]
    tumor = data == 2
    if not tumor.any():
        return None
    # The tumor's bounding box holds all its components (labelling there is the same).
    nz = np.nonzero(tumor)
    tumor = tumor[tuple(slice(v.min(), v.max() + 1) for v in nz)]
    lab, n = ndimage.label(tumor, structure=np.ones((3, 3, 3)))
    if n == 0:
        return None
    sizes = np.bincount(lab.ravel())[1:]
    idx = np.argwhere(lab == 1 + int(np.argmax(sizes)))
    other = [a for a in range(3) if a != axial]
    scale = np.array([spacing[a] for a in other])
    best = 0.0
    for s in np.unique(idx[:, axial]):
        pts = idx[idx[:, axial] == s][:, other].astype(float) * scale
        if len(pts) >= 3:
            try:
                pts = pts[ConvexHull(pts).vertices]
            except QhullError:
                pass  # collinear points: all of them
        if len(pts) > 1:
            d = pts[:, None, :] - pts[None, :, :]
            best = max(best, float(np.sqrt((d**2).sum(-1).max())))
    return best


def main():
    root, out = sys.argv[1], sys.argv[2]
    records = json.load(open(f"{root}/kits23.json"))
    paths = [f"{root}/cases/{r['case_id']}/segmentation.nii.gz" for r in records]
    with multiprocessing.Pool(2) as pool:
        diameters = pool.map(axial_diameter, paths)
    cases = {}
    for r, d in zip(records, diameters):
        cls, rule = label(r)
        rs = r.get("radiographic_size")
        cases[r["case_id"]] = {
            "class": cls,
            "rule": rule,
            "axial_diameter_mm": d,
            "radiographic_size_mm": None if rs is None else float(rs) * 10.0,
        }
        print(r["case_id"], cls, rule, d, file=sys.stderr)
    pairs = [(c["axial_diameter_mm"], c["radiographic_size_mm"]) for c in cases.values()
             if c["axial_diameter_mm"] is not None and c["radiographic_size_mm"] is not None]
    a, b = np.array(pairs).T
    diff = a - b
    sd = float(diff.std(ddof=1))
    counts = {k: sum(c["class"] == k for c in cases.values()) for k in ("benign", "indolent", "aggressive")}
    json.dump({
        "generator": "scripts/kits23_reference.py",
        "versions": {"python": sys.version.split()[0], "nibabel": nib.__version__,
                     "numpy": np.__version__, "scipy": scipy.__version__},
        "class_counts": counts,
        "size_agreement": {
            "n": len(pairs),
            "pearson_r": float(stats.pearsonr(a, b)[0]),
            "bias_mm": float(diff.mean()),
            "sd_mm": sd,
            "limits_of_agreement_mm": [float(diff.mean() - 1.96 * sd), float(diff.mean() + 1.96 * sd)],
        },
        "cases": cases,
    }, open(out, "w"), indent=1, sort_keys=True)
    print(counts, file=sys.stderr)


if __name__ == "__main__":
    main()
