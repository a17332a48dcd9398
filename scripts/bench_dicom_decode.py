#!/usr/bin/env python3
"""Reference side of `renal-triage bench ct` (issue 15): given a folder holding an
uncompressed CT series (`uncompressed/`), writes the same series in each compressed transfer
syntax with independent tools (dcmtk's dcmcrle, dcmcjpeg +e1, dcmcjpls, dcmcjpeg +eb; pydicom
with pylibjpeg-openjpeg for JPEG 2000) into sibling folders, then times, in this process,
pydicom's decoding of every file of each folder (dcmread + pixel_array through pylibjpeg,
pyjpegls or pydicom's RLE decoder: best of 3), and dcmtk's command-line decoders over the same
files (one process per file, as a PACS script runs them). Prints JSON.

    pip install pydicom pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pyjpegls numpy
    apt-get install dcmtk
    python3 scripts/bench_dicom_decode.py DIR
"""
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import JPEG2000Lossless

ENCODERS = {
    "rle": (["dcmcrle"], ["dcmdrle"]),
    "jpeg_lossless": (["dcmcjpeg", "+e1"], ["dcmdjpeg"]),
    "jpegls": (["dcmcjpls"], ["dcmdjpls"]),
    "jpeg_baseline": (["dcmcjpeg", "+eb"], ["dcmdjpeg"]),
}


def main(root):
    root = Path(root)
    src = sorted((root / "uncompressed").glob("*.dcm"))
    folders = {"uncompressed": None}
    for name, (enc, dec) in ENCODERS.items():
        d = root / name
        d.mkdir(exist_ok=True)
        for f in src:
            subprocess.run(enc + [str(f), str(d / f.name)], check=True)
        folders[name] = dec
    d = root / "j2k"
    d.mkdir(exist_ok=True)
    for f in src:
        ds = pydicom.dcmread(f)
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        ds.save_as(d / f.name)
    folders["j2k"] = None
    out = {}
    for name, dec in folders.items():
        files = sorted((root / name).glob("*.dcm"))
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            for f in files:
                pydicom.dcmread(f).pixel_array
            best = min(best, time.perf_counter() - t)
        row = {"files": len(files), "bytes": sum(f.stat().st_size for f in files), "pydicom_s": best}
        if dec:
            tmp = Path(tempfile.mkdtemp())
            t = time.perf_counter()
            for f in files:
                subprocess.run(dec + [str(f), str(tmp / f.name)], check=True)
            row["dcmtk_cli_s"] = time.perf_counter() - t
            shutil.rmtree(tmp)
        out[name] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
