#!/usr/bin/env python3
"""The Python package against the Python tools a researcher would otherwise use, in one
process, one run (issue 29):

1. the random forest's `fit` + `predict_proba` from Python (renal_triage.learn) against
   scikit-learn's RandomForestClassifier with the same trees (500, Gini, max_features="sqrt",
   grown to purity, bootstrap), on a 448 x 512 table of the study's shape, one thread each,
   then all cores each;
2. `read_volume` of a compressed CT series (JPEG-LS, JPEG 2000 and RLE lossless written here
   by pydicom's own encoders, JPEG Lossless by dcmtk's dcmcjpeg, from a 512 x 512 x 100 CT
   made from a KiTS23 segmentation) against pydicom with pylibjpeg (libjpeg, openjpeg),
   pyjpegls or its own RLE decoder reading the same files into the same volume (sorted along
   the slice normal, rescaled to HU).

Each timing is the best of `--repeat` runs, ours and theirs alternating. Prints JSON and
writes it to `--out`.

    pip install ./crates/renal-triage-py scikit-learn pydicom pylibjpeg pylibjpeg-openjpeg pyjpegls
    python3 scripts/bench_python.py --shared ../shared --out docs/bench/bench_python.json
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
import sklearn
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from sklearn.ensemble import RandomForestClassifier as SkForest

import renal_triage as rt
from renal_triage.learn import RandomForestClassifier


def best_pair(ours, theirs, repeat):
    """Best of `repeat` runs of each, the two alternating (so that a slow spell of the machine
    falls on both)."""
    a, b = [], []
    for _ in range(repeat):
        for f, times in ((ours, a), (theirs, b)):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
    return min(a), min(b)


def study_table(seed=0):
    """448 x 512, correlated columns with a few dominant directions (as embeddings are), three
    classes driven by a low-dimensional signal."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(448, 12))
    X = latent @ rng.normal(size=(12, 512)) + 0.5 * rng.normal(size=(448, 512))
    z = latent[:, 0] + 0.5 * latent[:, 1] + rng.normal(scale=0.8, size=448)
    y = np.digitize(z, np.quantile(z, [0.3, 0.7]))
    return X, y


def forest(repeat):
    X, y = study_table()
    out = {"table": "448 x 512, synthetic (12 latent directions + noise), 3 classes",
           "trees": 500, "max_features": "sqrt", "min_samples_leaf": 1, "bootstrap": True}
    for label, ours_threads, sk_jobs in (("one_thread", 1, 1), ("all_cores", None, -1)):
        ours = lambda: RandomForestClassifier(500, random_state=0, threads=ours_threads).fit(X, y).predict_proba(X)
        theirs = lambda: SkForest(500, max_features="sqrt", random_state=0, n_jobs=sk_jobs).fit(X, y).predict_proba(X)
        t_ours, t_theirs = best_pair(ours, theirs, repeat)
        out[label] = {"renal_triage_s": t_ours, "sklearn_s": t_theirs, "speedup": t_theirs / t_ours}
    return out


def write_series(folder, hu, spacing, syntax):
    """The CT as one file per axial slice (pydicom's encoder for `syntax`)."""
    folder.mkdir(parents=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(hu.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.PatientID = "bench"
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, float(k * spacing[2])]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = (hu[:, :, k].T + 1024).astype(np.uint16).tobytes()
        if syntax == "jpeg_lossless":
            # pydicom has no JPEG Lossless encoder: dcmtk's dcmcjpeg writes it (process 14,
            # first-order prediction), decoded by pylibjpeg-libjpeg on pydicom's side.
            plain = folder / f"plain{k:03d}.dcm"
            ds.save_as(plain, enforce_file_format=True)
            subprocess.run(["dcmcjpeg", "+e1", str(plain), str(folder / f"slice{k:03d}.dcm")], check=True)
            plain.unlink()
        else:
            ds.compress(syntax)
            ds.save_as(folder / f"slice{k:03d}.dcm", enforce_file_format=True)


def pydicom_volume(folder):
    slices = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    iop = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda s: float(np.dot(normal, np.array(s.ImagePositionPatient, float))))
    return np.stack(
        [s.pixel_array.T.astype(np.float32) * float(s.RescaleSlope) + float(s.RescaleIntercept) for s in slices],
        axis=2,
    )


def dicom(shared, repeat):
    seg, affine, meta = rt.read_volume(shared / "kits23" / "cases" / "case_00019" / "segmentation.nii.gz", labels=True)
    # KiTS23's axis 0 is the slice axis: put it last, take 100 slices through the kidneys.
    seg = np.transpose(seg, (2, 1, 0))
    k0 = max(0, int(np.flatnonzero((seg > 0).any(axis=(0, 1))).mean()) - 50)
    seg = seg[:, :, k0:k0 + 100]
    rng = np.random.RandomState(0)
    hu = np.choose(seg, [-80, 180, 60, 10]).astype(np.float32) + rng.normal(scale=15, size=seg.shape)
    hu = np.clip(np.round(hu), -1024, 3000)
    spacing = (meta["spacing"][2], meta["spacing"][1], meta["spacing"][0])
    out = {"series": f"{hu.shape[0]} x {hu.shape[1]} x {hu.shape[2]}, 16-bit, one file per slice, from KiTS23 case_00019's labels with noise"}
    with tempfile.TemporaryDirectory() as tmp:
        syntaxes = [("jpeg_ls_lossless", JPEGLSLossless), ("jpeg2000_lossless", JPEG2000Lossless),
                    ("rle_lossless", RLELossless)]
        if shutil.which("dcmcjpeg"):
            syntaxes.append(("jpeg_lossless", "jpeg_lossless"))
        for name, syntax in syntaxes:
            folder = Path(tmp) / name
            write_series(folder, hu, spacing, syntax)
            ours = rt.read_volume(folder)[0]
            theirs = pydicom_volume(folder)
            assert np.array_equal(ours, theirs), f"{name}: the two readers disagree"
            t_ours, t_theirs = best_pair(lambda: rt.read_volume(folder), lambda: pydicom_volume(folder), repeat)
            out[name] = {
                "bytes": sum(f.stat().st_size for f in folder.glob("*.dcm")),
                "renal_triage_s": t_ours,
                "pydicom_s": t_theirs,
                "speedup": t_theirs / t_ours,
            }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("RENAL_TRIAGE_SHARED", "../shared")))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": {"renal_triage": rt.__version__, "scikit-learn": sklearn.__version__,
                     "pydicom": pydicom.__version__, "numpy": np.__version__},
        "forest": forest(a.repeat),
        "read_volume": dicom(a.shared, a.repeat),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
