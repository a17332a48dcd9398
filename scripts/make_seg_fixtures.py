#!/usr/bin/env python3
"""DICOM SEG and RTSTRUCT fixtures (issue 15, item 2), written by independent tools from the
uncompressed CT series of `make_dicom_fixtures.sh` (a phantom CT around KiTS23 case_00002's
mask, on an oblique grid) and the label map it was made from (formats/mask.nii.gz):

- seg_binary.dcm: highdicom, BINARY, segments labelled kidney, tumor and cyst, frames only on
  the slices where a segment is present (highdicom's default omits empty frames);
- seg_fractional.dcm: highdicom, FRACTIONAL (max 255), segments labelled only "region 1..3",
  their meaning given by the segmented property type code (Kidney, Neoplasm, Cyst);
- seg_labelmap_rle.dcm: highdicom, LABELMAP (the label-map SEG of DICOM 2024, one frame per
  slice holding the segment numbers), RLE Lossless;
- rtstruct.dcm: rt-utils, one ROI per label (kidney, tumor, cyst), closed planar contours
  traced through the boundary pixels' centres (as rt-utils always draws them);
- rtstruct_fine.dcm: rt-utils' contours of the same labels traced on a series upsampled 2x
  in-plane (SimpleITK), so that they pass a quarter voxel outside the CT's boundary pixel
  centres instead of through them, then re-referenced to the CT series by pydicom (the
  rasterisation is then well-posed: no pixel centre lies on a contour);
- plastimatch/, plastimatch_fine/: plastimatch's rasterisation of those on the CT (the
  reference for the Dice check);
- bad/: pydicom edits of those files (a frame moved off the grid, an open contour, a
  self-intersecting contour, a contour between slices, an unknown transfer syntax).

Run from the repository root after make_dicom_fixtures.sh:
    pip install highdicom rt-utils pydicom SimpleITK && apt-get install plastimatch
    python3 scripts/make_seg_fixtures.py
"""
import copy
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.sr.codedict import codes
from rt_utils import RTStructBuilder

ROOT = Path("crates/renal-imaging/tests/fixtures")
CT = ROOT / "dicom/uncompressed"
OUT = ROOT / "seg"
NAMES = ["kidney", "tumor", "cyst"]


def series():
    files = sorted(CT.glob("*.dcm"))
    ds = [pydicom.dcmread(f) for f in files]
    normal = np.cross(*np.array(ds[0].ImageOrientationPatient, float).reshape(2, 3))
    ds.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    return ds


def labels_on_series(ds):
    """The label map as [slice][row][column] in the series' slice order."""
    img = sitk.ReadImage(str(ROOT / "formats/mask.nii.gz"))
    arr = sitk.GetArrayFromImage(img)  # [k][j][i], k in the NIfTI's slice order
    # The series was written slice by slice from the NIfTI (slice k = file k); sort order
    # along the normal equals k order, checked here.
    pos0 = np.array(img.TransformIndexToPhysicalPoint((0, 0, 0)), float)
    assert np.allclose(np.array(ds[0].ImagePositionPatient, float), pos0, atol=1e-3)
    return arr.astype(np.uint8)


def segment(i, label, meaning, code):
    return hd.seg.SegmentDescription(
        segment_number=i + 1,
        segment_label=label,
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=code,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bad").mkdir(exist_ok=True)
    ds = series()
    lab = labels_on_series(ds)
    masks = np.stack([lab == v for v in (1, 2, 3)], axis=-1)  # [k][j][i][segment]
    kidney = codes.SCT.Kidney
    tumor = codes.SCT.Neoplasm
    cyst = hd.sr.CodedConcept("367643001", "SCT", "Cyst")
    common = dict(
        source_images=ds, pixel_array=masks, series_number=100, instance_number=1,
        manufacturer="renal-triage fixtures", manufacturer_model_name="highdicom",
        software_versions="0", device_serial_number="0",
    )
    seg = hd.seg.Segmentation(
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment(i, n, None, c) for i, (n, c) in enumerate(zip(NAMES, [kidney, tumor, cyst]))],
        series_instance_uid=hd.UID(), sop_instance_uid=hd.UID(), **common)
    seg.save_as(OUT / "seg_binary.dcm")
    frac = hd.seg.Segmentation(
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY,
        max_fractional_value=255,
        segment_descriptions=[segment(i, f"region {i + 1}", None, c) for i, c in enumerate([kidney, tumor, cyst])],
        series_instance_uid=hd.UID(), sop_instance_uid=hd.UID(),
        **{**common, "pixel_array": masks.astype(np.float32)})
    frac.save_as(OUT / "seg_fractional.dcm")
    lm = hd.seg.Segmentation(
        segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP,
        segment_descriptions=[segment(i, n, None, c) for i, (n, c) in enumerate(zip(NAMES, [kidney, tumor, cyst]))],
        series_instance_uid=hd.UID(), sop_instance_uid=hd.UID(),
        transfer_syntax_uid="1.2.840.10008.1.2.5",
        **{**common, "pixel_array": lab})
    lm.save_as(OUT / "seg_labelmap_rle.dcm")

    rt = RTStructBuilder.create_new(dicom_series_path=str(for_rtutils(CT)))
    for v, name in zip((1, 2, 3), NAMES):
        # rt-utils takes the mask as [row][column][slice] in its own (sorted) slice order.
        m = np.transpose(lab == v, (1, 2, 0))
        rt.add_roi(mask=m, name=name)
    rt.save(str(OUT / "rtstruct.dcm"))

    fine_rtstruct(ds, lab)
    for name, folder in [("rtstruct.dcm", "plastimatch"), ("rtstruct_fine.dcm", "plastimatch_fine")]:
        pm = OUT / folder
        pm.mkdir(exist_ok=True)
        subprocess.run(["plastimatch", "convert", "--input", str(OUT / name),
                        "--referenced-ct", str(CT), "--output-prefix", str(pm),
                        "--prefix-format", "nii.gz"], check=True, stdout=subprocess.DEVNULL)
    bad(ds)


def for_rtutils(src):
    """The series as rt-utils must be given it. rt-utils up to at least 1.2.7 scales the row
    direction by the row spacing (PixelSpacing[0]) instead of the column spacing (its issue
    #92): with unequal in-plane spacing, as here (1.5 x 1.6 mm), its contours are stretched.
    When the installed rt-utils has the bug, it is given copies of the files with the two
    PixelSpacing values swapped, which makes its pixel-to-patient matrix the right one; the
    files' UIDs are unchanged, so the RTSTRUCT references the real series."""
    import tempfile
    from rt_utils import image_helper
    files = sorted(Path(src).glob("*.dcm"))
    series_data = image_helper.load_sorted_image_series(str(src))
    mat = image_helper.get_pixel_to_patient_transformation_matrix(series_data)
    first = series_data[0]
    if abs(np.linalg.norm(mat[:3, 0]) - float(first.PixelSpacing[1])) < 1e-4:
        return src  # a fixed rt-utils
    tmp = Path(tempfile.mkdtemp())
    for f in files:
        d = pydicom.dcmread(f)
        d.PixelSpacing = [d.PixelSpacing[1], d.PixelSpacing[0]]
        d.save_as(tmp / f.name)
    return tmp


def fine_rtstruct(ds, lab):
    """rt-utils contours on a 2x in-plane upsampled series, re-referenced to the CT."""
    import tempfile
    img = sitk.ReadImage(str(ROOT / "formats/ct.nii.gz"))
    sp = img.GetSpacing()
    fine_sp = (sp[0] / 2, sp[1] / 2, sp[2])
    d = np.array(img.GetDirection()).reshape(3, 3)
    origin = np.array(img.GetOrigin()) - 0.25 * d[:, 0] * sp[0] - 0.25 * d[:, 1] * sp[1]
    arr = sitk.GetArrayFromImage(img)
    fine = sitk.GetImageFromArray(np.repeat(np.repeat(arr, 2, axis=1), 2, axis=2))
    fine.SetSpacing(fine_sp)
    fine.SetDirection(img.GetDirection())
    fine.SetOrigin(tuple(origin))
    tmp = Path(tempfile.mkdtemp())
    w = sitk.ImageFileWriter()
    w.KeepOriginalImageUIDOn()
    series = "1.2.826.0.1.3680043.8.498.9"
    orientation = "\\".join(f"{v:.10g}" for v in (d[0, 0], d[1, 0], d[2, 0], d[0, 1], d[1, 1], d[2, 1]))
    for k in range(fine.GetDepth()):
        s = fine[:, :, k]
        for tag, value in [
            ("0008|0060", "CT"), ("0008|0016", "1.2.840.10008.5.1.4.1.1.2"),
            ("0020|000d", "1.2.826.0.1.3680043.8.498.2"), ("0020|000e", series),
            ("0008|0018", f"{series}.{k + 1}"), ("0020|0013", str(k + 1)),
            ("0020|0037", orientation), ("0020|0052", "1.2.826.0.1.3680043.8.498.3"),
            ("0018|0050", "2.5"),
            ("0020|0032", "\\".join(f"{v:.10g}" for v in fine.TransformIndexToPhysicalPoint((0, 0, k)))),
            ("0028|1052", "0"), ("0028|1053", "1"),
        ]:
            s.SetMetaData(tag, value)
        w.SetFileName(str(tmp / f"slice{k:03d}.dcm"))
        w.Execute(s)
    rt = RTStructBuilder.create_new(dicom_series_path=str(for_rtutils(tmp)))
    for v, name in zip((1, 2, 3), NAMES):
        m = np.transpose(np.repeat(np.repeat(lab == v, 2, axis=1), 2, axis=2), (1, 2, 0))
        rt.add_roi(mask=m, name=name)
    out = OUT / "rtstruct_fine.dcm"
    rt.save(str(out))
    # Re-reference the contours to the CT series (same frame of reference, same slices).
    r = pydicom.dcmread(out)
    coarse = {f"{series}.{k + 1}": d.SOPInstanceUID for k, d in enumerate(ds)}
    s = r.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    s.SeriesInstanceUID = ds[0].SeriesInstanceUID
    for item in s.ContourImageSequence:
        item.ReferencedSOPInstanceUID = coarse[item.ReferencedSOPInstanceUID]
    for roi in r.ROIContourSequence:
        for c in roi.ContourSequence:
            for item in c.ContourImageSequence:
                item.ReferencedSOPInstanceUID = coarse[item.ReferencedSOPInstanceUID]
    r.save_as(out)


def bad(ds):
    b = OUT / "bad"
    s = pydicom.dcmread(OUT / "seg_binary.dcm")
    f = s.PerFrameFunctionalGroupsSequence[3].PlanePositionSequence[0]
    f.ImagePositionPatient = [float(x) + 1000.0 for x in f.ImagePositionPatient]
    s.save_as(b / "seg_frame_off_grid.dcm")
    r = pydicom.dcmread(OUT / "rtstruct.dcm")
    # The bad copies keep the tumor ROI only (number 2, the second item), to stay small.
    keep = [i for i, roi in enumerate(r.ROIContourSequence) if roi.ReferencedROINumber == 2]
    assert keep == [1]
    r.ROIContourSequence = pydicom.Sequence([r.ROIContourSequence[1]])
    r.StructureSetROISequence = pydicom.Sequence([s for s in r.StructureSetROISequence if s.ROINumber == 2])
    r.RTROIObservationsSequence = pydicom.Sequence([s for s in r.RTROIObservationsSequence if s.ReferencedROINumber == 2])
    o = copy.deepcopy(r)
    o.ROIContourSequence[0].ContourSequence[2].ContourGeometricType = "OPEN_PLANAR"
    o.save_as(b / "rt_open_contour.dcm")
    x = copy.deepcopy(r)
    c = x.ROIContourSequence[0].ContourSequence[2]
    pts = [float(v) for v in c.ContourData]
    n = len(pts) // 3
    assert n >= 6
    # Swap the second and the fourth points of a contour: its edges cross (a bow tie).
    p = [pts[3 * i:3 * i + 3] for i in range(n)]
    p[1], p[n // 2] = p[n // 2], p[1]
    c.ContourData = [v for q in p for v in q]
    x.save_as(b / "rt_self_intersecting.dcm")
    z = copy.deepcopy(r)
    c = z.ROIContourSequence[0].ContourSequence[2]
    # Move a contour half a slice along the slice normal: on no slice.
    o6 = np.array(ds[0].ImageOrientationPatient, float)
    normal = np.cross(o6[:3], o6[3:])
    step = np.dot(normal, np.array(ds[1].ImagePositionPatient, float) - np.array(ds[0].ImagePositionPatient, float))
    pts = np.array([float(v) for v in c.ContourData]).reshape(-1, 3) + normal * step * 0.5
    c.ContourData = [f"{v:.6f}" for v in pts.ravel()]
    z.save_as(b / "rt_between_slices.dcm")


if __name__ == "__main__":
    main()
