"""Reference voxels for the vendor DICOM differential test (issue 26, tests/vendor_dicom.rs).

The corpus: the DICOM files pydicom ships in its wheel (pydicom/data/test_files), written by
many vendors' and toolkits' software (GE, Siemens, Philips, Agfa, GDCM, dcmtk, ...), none by
this project. For every file that holds a monochrome, single-sample image, the independent
decoder (pydicom 3 with pylibjpeg's OpenJPEG and libjpeg plugins, and pyjpegls) decodes the
pixel data and applies the rescale (RescaleSlope/Intercept, per frame where functional groups
give it); the values are written as float32 little endian (`<file>.f32`, frames x rows x
columns) with `index.json`. Files it cannot read, or that are not monochrome images, are
listed with the reason and not compared.

Usage: python3 scripts/vendor_dicom_reference.py OUT_DIR
"""
import hashlib
import json
import os
import sys

import numpy as np
import pydicom
import pydicom.data
from pydicom.pixels import apply_rescale

# Lossy transfer syntaxes: compared within 1 stored unit.
LOSSY = {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.203",
}


def reference(path):
    ds = pydicom.dcmread(path, force=True)
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return None, "no pixel data"
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or ds.get(
        "PhotometricInterpretation", ""
    ) not in ("MONOCHROME1", "MONOCHROME2"):
        return None, "not a monochrome single-sample image"
    try:
        arr = ds.pixel_array
    except Exception as e:  # the independent decoder's refusal: not compared
        return None, f"pydicom cannot decode it: {type(e).__name__}: {e}"[:200]
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    arr = np.asarray(arr).reshape(frames, int(ds.Rows), int(ds.Columns))
    values = np.asarray(apply_rescale(arr, ds), dtype=np.float64)
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    slope = float(ds.get("RescaleSlope", 1) or 1)
    return (
        {
            "rows": int(ds.Rows),
            "columns": int(ds.Columns),
            "frames": frames,
            "transfer_syntax": ts,
            "lossy": ts in LOSSY or ds.get("LossyImageCompression", "") == "01",
            "unit": abs(slope),
        },
        values.astype("<f4"),
    )


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    src = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")
    entries = []
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if not os.path.isfile(path) or name.endswith((".py", ".json", ".txt", ".gz", ".bz2")):
            continue
        try:
            info, values = reference(path)
        except Exception as e:
            entries.append({"file": name, "skipped": f"pydicom cannot read it: {e}"[:200]})
            continue
        if info is None:
            entries.append({"file": name, "skipped": values})
            continue
        blob = values.tobytes()
        with open(os.path.join(out, name + ".f32"), "wb") as f:
            f.write(blob)
        info.update(file=name, sha256=hashlib.sha256(blob).hexdigest())
        entries.append(info)
    index = {
        "source": src,
        "decoder": f"pydicom {pydicom.__version__}",
        "files": entries,
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    compared = sum(1 for e in entries if "skipped" not in e)
    print(f"{compared} images decoded by pydicom, {len(entries) - compared} not compared -> {out}")


if __name__ == "__main__":
    main()
