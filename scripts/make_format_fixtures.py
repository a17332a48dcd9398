#!/usr/bin/env python3
"""Fixtures for the NRRD, .seg.nrrd and MetaImage readers (issue 15), written by independent
tools: SimpleITK (MetaImage .mha/.mhd and the NIfTI references) and pynrrd (NRRD, Slicer's
.seg.nrrd layout). Run from the repository root:

    pip install SimpleITK pynrrd numpy
    python3 scripts/make_format_fixtures.py ../shared/kits23/cases/case_00002/segmentation.nii.gz

The label map is KiTS23 case_00002's, cropped around its tumor and subsampled by 2 in-plane
(the fixtures stay under 1 MB); the CT is a simple phantom (HU by label, seeded noise). The
grid is oblique on purpose (rotations about two axes, anisotropic spacing, an origin far from
zero). `expected.json` holds the RAS+ affine computed here with numpy, in double precision.
Output: crates/renal-imaging/tests/fixtures/formats/.
"""
import json
import sys
from pathlib import Path

import numpy as np
import nrrd
import SimpleITK as sitk

OUT = Path("crates/renal-imaging/tests/fixtures/formats")


def main(seg_path):
    OUT.mkdir(parents=True, exist_ok=True)
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(seg_path)))  # [k][j][i]
    idx = np.argwhere(labels == 2)
    lo = np.maximum(idx.min(0) - 6, 0)
    hi = np.minimum(idx.max(0) + 7, labels.shape)
    crop = labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]][:, ::2, ::2].astype(np.uint8)
    # SimpleITK array order is [z][y][x]; x (the fastest axis) is axis 0 of the file.
    rng = np.random.default_rng(0)
    hu = np.choose(crop, [40, 160, 100, 10]).astype(np.float64)
    ct = np.round(hu + rng.normal(0, 12, crop.shape)).astype(np.int16)

    spacing = np.array([1.6, 1.5, 2.5])
    a, b = np.radians(20.0), np.radians(10.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    direction = rz @ rx  # columns: each file axis' unit vector, LPS
    origin = np.array([-120.5, 80.25, -300.0])  # LPS

    def image(arr):
        im = sitk.GetImageFromArray(arr)
        im.SetSpacing(spacing.tolist())
        im.SetDirection(direction.flatten().tolist())
        im.SetOrigin(origin.tolist())
        return im

    sitk.WriteImage(image(ct), str(OUT / "ct.nii.gz"))
    sitk.WriteImage(image(ct), str(OUT / "ct.mha"), useCompression=True)
    sitk.WriteImage(image(ct), str(OUT / "ct.mhd"))  # + ct.raw, uncompressed
    sitk.WriteImage(image(crop), str(OUT / "mask.nii.gz"))
    sitk.WriteImage(image(crop), str(OUT / "mask.mha"), useCompression=True)

    # NRRD: the file's axis 0 fastest (pynrrd's Fortran order: data[i, j, k]).
    ct_f = np.transpose(ct, (2, 1, 0))
    crop_f = np.transpose(crop, (2, 1, 0))
    dirs_lps = (direction * spacing).T  # row a: axis a's vector
    lps = {"space": "left-posterior-superior", "space directions": dirs_lps, "space origin": origin}
    nrrd.write(str(OUT / "ct.nrrd"), ct_f, {**lps, "encoding": "gzip"}, index_order="F")
    ras_flip = np.array([-1.0, -1.0, 1.0])
    ras = {"space": "right-anterior-superior", "space directions": dirs_lps * ras_flip,
           "space origin": origin * ras_flip, "encoding": "raw", "endian": "big"}
    nrrd.write(str(OUT / "ct_ras_bigendian.nrrd"), ct_f, ras, index_order="F")
    nrrd.write(str(OUT / "mask.nrrd"), crop_f, {**lps, "encoding": "gzip"}, index_order="F")
    # Slicer's segmentation layout: segment label values of its own (not KiTS23's).
    remap = np.array([0, 7, 5, 9], dtype=np.uint8)  # kidney 7, tumor 5, cyst 9
    seg = {**lps, "encoding": "gzip",
           "Segment0_Name": "Tumor", "Segment0_LabelValue": "5", "Segment0_Layer": "0",
           "Segment1_Name": "Kidney (right)", "Segment1_LabelValue": "7", "Segment1_Layer": "0",
           "Segment2_Name": "Cyst", "Segment2_LabelValue": "9", "Segment2_Layer": "0"}
    nrrd.write(str(OUT / "mask.seg.nrrd"), remap[crop_f], seg, index_order="F")
    # Bad input: segments on two layers, an unknown encoding, a space that is not RAS/LPS.
    layered = dict(seg, Segment2_Layer="1")
    nrrd.write(str(OUT / "bad_layers.seg.nrrd"), remap[crop_f], layered, index_order="F")
    nrrd.write(str(OUT / "bad_space.nrrd"), crop_f,
               {"space": "scanner-xyz", "space directions": dirs_lps, "encoding": "raw"}, index_order="F")
    nrrd.write(str(OUT / "bad_encoding.nrrd"), crop_f, {**lps, "encoding": "bzip2"}, index_order="F")

    affine = np.zeros((3, 4))
    affine[:, :3] = (direction * spacing) * ras_flip[:, None]
    affine[:, 3] = origin * ras_flip
    counts = {str(v): int((crop == v).sum()) for v in range(4)}
    (OUT / "expected.json").write_text(json.dumps({
        "dims": [int(crop.shape[2]), int(crop.shape[1]), int(crop.shape[0])],
        "affine_ras": affine.tolist(),
        "label_counts": counts,
        "ct_sum": int(ct.astype(np.int64).sum()),
        "source": "KiTS23 case_00002 segmentation, cropped around the tumor, subsampled by 2 in-plane",
        "writers": {"SimpleITK": sitk.Version_VersionString(), "pynrrd": nrrd.__version__},
    }, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
