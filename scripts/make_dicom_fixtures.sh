#!/usr/bin/env bash
# Compressed DICOM fixtures (issue 15, item 1), written by independent tools: SimpleITK (GDCM)
# writes the uncompressed CT series of the formats fixture's phantom CT
# (crates/renal-imaging/tests/fixtures/formats/ct.nii.gz, an oblique grid), then dcmtk
# re-encodes every file: RLE Lossless (dcmcrle), JPEG Lossless SV1 (dcmcjpeg +e1), JPEG
# Lossless with selection values 4 and 7 (dcmcjpeg +el +sv N), explicit VR big endian and
# deflated explicit VR little endian (dcmconv +tb, +td) and
# JPEG-LS Lossless (dcmcjpls). Run from the repository root:
#     pip install SimpleITK && apt-get install dcmtk
#     bash scripts/make_dicom_fixtures.sh
set -euo pipefail
src=crates/renal-imaging/tests/fixtures/formats/ct.nii.gz
out=crates/renal-imaging/tests/fixtures/dicom
rm -rf "$out" && mkdir -p "$out/uncompressed" "$out/rle" "$out/jpeg_lossless" "$out/jpeg_lossless_sv4" "$out/jpeg_lossless_sv7" "$out/jpegls" "$out/bigendian" "$out/deflated"
python3 - "$src" "$out/uncompressed" <<'PY'
import sys
import SimpleITK as sitk
img = sitk.ReadImage(sys.argv[1])
w = sitk.ImageFileWriter()
w.KeepOriginalImageUIDOn()
d = img.GetDirection()
orientation = "\\".join(f"{v:.10g}" for v in (d[0], d[3], d[6], d[1], d[4], d[7]))
series = "1.2.826.0.1.3680043.8.498.1"
for k in range(img.GetDepth()):
    s = img[:, :, k]
    for tag, value in [
        ("0008|0060", "CT"), ("0008|0016", "1.2.840.10008.5.1.4.1.1.2"),
        ("0020|000d", "1.2.826.0.1.3680043.8.498.2"), ("0020|000e", series),
        ("0008|0018", f"{series}.{k + 1}"), ("0020|0013", str(k + 1)),
        ("0020|0037", orientation), ("0020|0052", "1.2.826.0.1.3680043.8.498.3"), ("0018|0050", "2.5"),
        ("0020|0032", "\\".join(f"{v:.10g}" for v in img.TransformIndexToPhysicalPoint((0, 0, k)))),
        ("0028|1052", "0"), ("0028|1053", "1"),
    ]:
        s.SetMetaData(tag, value)
    w.SetFileName(f"{sys.argv[2]}/slice{k:03d}.dcm")
    w.Execute(s)
PY
for f in "$out"/uncompressed/*.dcm; do
  n=$(basename "$f")
  dcmcrle "$f" "$out/rle/$n"
  dcmcjpeg +e1 "$f" "$out/jpeg_lossless/$n"
  dcmcjpeg +el +sv 4 "$f" "$out/jpeg_lossless_sv4/$n"
  dcmcjpeg +el +sv 7 "$f" "$out/jpeg_lossless_sv7/$n"
  dcmcjpls "$f" "$out/jpegls/$n"
  dcmconv +tb "$f" "$out/bigendian/$n"
  dcmconv +td "$f" "$out/deflated/$n"
done
echo "written under $out"
