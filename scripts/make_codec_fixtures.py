#!/usr/bin/env python3
"""Lossy and JPEG 2000 DICOM fixtures (issue 15, item 1), written by independent tools from the
uncompressed series of make_dicom_fixtures.sh:

- jpeg_baseline/: dcmtk's dcmcjpeg +eb (JPEG Baseline, 8 bits: dcmcjpeg shifts each slice's
  values into 0..255 through its own RescaleIntercept), quality 90;
- jpeg_extended12/: dcmcjpeg +ee (JPEG Extended, 12 bits), not decoded yet: refused by name;
- jpegls_near/: dcmcjpls +en +md 2 (JPEG-LS near-lossless, every sample within 2 of the
  original: the codec's stated error); dcmcjpls takes only unsigned samples near-lossless, so
  pydicom first stores the slices unsigned (value + 1024, RescaleIntercept -1024);
- j2k/, j2k_lossy/: OpenJPEG's opj_compress (libopenjp2-tools) on each slice's raw samples
  (lossless; lossy at rate 4), wrapped as encapsulated pixel data by pydicom;
- reference/<folder>.nii.gz: what the tools' own decoders (dcmtk's dcmdjpeg, OpenJPEG's
  opj_decompress) make of those files, in HU on the series' grid (written by SimpleITK): the
  expected voxels of the lossy syntaxes.

Run from the repository root after make_dicom_fixtures.sh:
    apt-get install dcmtk libopenjp2-tools && pip install pydicom SimpleITK numpy
    python3 scripts/make_codec_fixtures.py
"""
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.encaps import encapsulate

ROOT = Path("crates/renal-imaging/tests/fixtures")
DICOM = ROOT / "dicom"
SRC = DICOM / "uncompressed"
REF = DICOM / "reference"


def run(*args):
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL)


def fresh(name):
    d = DICOM / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def hu_volume(files):
    """HU of uncompressed files, [k][j][i] in file order (the series' slice order)."""
    out = []
    for f in files:
        d = pydicom.dcmread(f)
        out.append(d.pixel_array.astype(np.float64) * float(d.get("RescaleSlope", 1)) + float(d.get("RescaleIntercept", 0)))
    return np.stack(out)


def write_reference(name, hu):
    like = sitk.ReadImage(str(ROOT / "formats/ct.nii.gz"))
    img = sitk.GetImageFromArray(hu.astype(np.float32))
    img.CopyInformation(like)
    REF.mkdir(exist_ok=True)
    sitk.WriteImage(img, str(REF / f"{name}.nii.gz"))


def raw_write(path, a):
    # opj_compress's raw input: big-endian samples, described by -F (its PGX reader narrows
    # the precision to the data and wraps values around: not used).
    Path(path).write_bytes(a.astype(">i2").tobytes())


def pgx_read(path, shape):
    b = Path(path).read_bytes()
    header, _, data = b.partition(b"\n")
    fields = header.split()
    signed, bits = fields[2] == b"-", int(fields[3])
    # opj_decompress writes the samples with as many bytes as its precision needs.
    dtype = (">i" if signed else ">u") + ("1" if bits <= 8 else "2")
    return np.frombuffer(data, dtype=dtype)[: shape[0] * shape[1]].reshape(shape)


def main():
    files = sorted(SRC.glob("*.dcm"))
    tmp = Path(tempfile.mkdtemp())
    # dcmtk: JPEG baseline and extended, JPEG-LS near-lossless; dcmdjpeg's decode as reference.
    unsigned = tmp / "unsigned"
    unsigned.mkdir()
    for f in files:
        ds = pydicom.dcmread(f)
        a = ds.pixel_array.astype(np.int32) + 1024
        assert a.min() >= 0 and a.max() < 65536
        ds.PixelRepresentation = 0
        ds.PixelData = a.astype("<u2").tobytes()
        ds.RescaleIntercept = float(ds.RescaleIntercept) - 1024
        ds.save_as(unsigned / f.name, enforce_file_format=True)
    for name, tool, opts, src in [("jpeg_baseline", "dcmcjpeg", ["+eb"], SRC),
                                  ("jpeg_extended12", "dcmcjpeg", ["+ee"], SRC),
                                  ("jpegls_near", "dcmcjpls", ["+en", "+md", "2"], unsigned)]:
        d = fresh(name)
        for f in files:
            run(tool, *opts, src / f.name, d / f.name)
    dec = tmp / "baseline"
    dec.mkdir()
    for f in sorted((DICOM / "jpeg_baseline").glob("*.dcm")):
        run("dcmdjpeg", f, dec / f.name)
    write_reference("jpeg_baseline", hu_volume(sorted(dec.glob("*.dcm"))))
    # OpenJPEG: each slice's stored samples as PGX, compressed, wrapped by pydicom.
    for name, uid, opts in [("j2k", "1.2.840.10008.1.2.4.90", []),
                            ("j2k_lossy", "1.2.840.10008.1.2.4.91", ["-r", "4"])]:
        d = fresh(name)
        ref = []
        for f in files:
            ds = pydicom.dcmread(f)
            a = ds.pixel_array
            raw = tmp / f"{f.stem}.raw"
            j2k = tmp / f"{f.stem}.j2k"
            back = tmp / f"{f.stem}_back.pgx"
            raw_write(raw, a)
            fmt = f"{a.shape[1]},{a.shape[0]},1,16,s"
            run("opj_compress", "-i", raw, "-F", fmt, "-o", j2k, "-n", "3", *opts)
            run("opj_decompress", "-i", j2k, "-o", back)
            # opj_decompress names its output by component: <name>_0.pgx.
            ref.append(pgx_read(back.with_name(f"{back.stem}_0.pgx"), a.shape).astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
            ds.PixelData = encapsulate([j2k.read_bytes()])
            ds["PixelData"].VR = "OB"
            ds.file_meta.TransferSyntaxUID = uid
            if opts:
                ds.LossyImageCompression = "01"
            ds.save_as(d / f.name, enforce_file_format=True)
        write_reference(name, np.stack(ref))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
