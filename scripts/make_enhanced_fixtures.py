#!/usr/bin/env python3
"""Enhanced multi-frame CT fixtures (issue 15, item 1), written by highdicom from the
uncompressed single-frame series of make_dicom_fixtures.sh:

- dicom/enhanced/ct.dcm: a Legacy Converted Enhanced CT Image (one file, one frame per slice,
  per-frame plane positions, shared orientation, pixel measures and rescale), explicit VR
  little endian;
- dicom/enhanced_rle/ct.dcm: the same, RLE Lossless (highdicom encodes each frame);
- dicom/bad_enhanced/ct.dcm: pydicom's edit of the first, frame 5 given another orientation
  (inconsistent functional groups).

Run from the repository root after make_dicom_fixtures.sh:
    pip install highdicom pydicom
    python3 scripts/make_enhanced_fixtures.py
"""
import copy
from pathlib import Path

import highdicom as hd
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

ROOT = Path("crates/renal-imaging/tests/fixtures/dicom")


def main():
    ds = [pydicom.dcmread(f) for f in sorted((ROOT / "uncompressed").glob("*.dcm"))]
    for folder, syntax in [("enhanced", ExplicitVRLittleEndian), ("enhanced_rle", RLELossless)]:
        (ROOT / folder).mkdir(exist_ok=True)
        img = hd.legacy.LegacyConvertedEnhancedCTImage(
            ds, series_instance_uid=ds[0].SeriesInstanceUID, series_number=1,
            sop_instance_uid=hd.UID(), instance_number=1, transfer_syntax_uid=syntax)
        img.save_as(ROOT / folder / "ct.dcm")
    bad = pydicom.dcmread(ROOT / "enhanced" / "ct.dcm")
    frame = bad.PerFrameFunctionalGroupsSequence[4]
    o = copy.deepcopy(bad.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence)
    o[0].ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    frame.PlaneOrientationSequence = o
    (ROOT / "bad_enhanced").mkdir(exist_ok=True)
    bad.save_as(ROOT / "bad_enhanced" / "ct.dcm")


if __name__ == "__main__":
    main()
