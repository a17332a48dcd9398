"""An image model on CT phases from Python: a bundle trained by `renal-triage train
--encoder tiny` on 18 KiTS23 masks (cropped around the tumour) with two synthetic phases each
(written here with nibabel: HU by tissue plus seeded noise; the labels assigned in turn, so
this checks the software's path, not what a model learns). `Bundle.predict` with the phases
as paths and as `(array, affine)` gives `renal-triage predict`'s probabilities bit for bit."""

import json
import subprocess

import nibabel
import numpy as np
import pytest

import renal_triage as rt

EXPERIMENT = """[experiment]
name = "ct"
outer_folds = 3
inner_folds = 3
bootstrap = 50
[rf]
trees = 30
max_features = ["sqrt"]
[[model]]
name = "image RF"
embeddings = "all"
learner = "rf"
"""

HU = {"arterial": [40.0, 220.0, 150.0, 10.0], "venous": [45.0, 170.0, 110.0, 12.0]}


def write_case(shared, case_id, folder, seed):
    img = nibabel.load(shared / "kits23" / "cases" / case_id / "segmentation.nii.gz")
    labels = np.asarray(img.dataobj).astype(np.uint8)
    lo = np.maximum(np.argwhere(labels == 2).min(axis=0) - 12, 0)
    hi = np.minimum(np.argwhere(labels == 2).max(axis=0) + 13, labels.shape)
    crop = np.ascontiguousarray(labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ lo + img.affine[:3, 3]
    folder.mkdir(parents=True)
    nibabel.save(nibabel.Nifti1Image(crop, affine), folder / "mask.nii.gz")
    rng = np.random.RandomState(seed)
    for phase, hu in HU.items():
        v = np.choose(np.minimum(crop, 3), hu).astype(np.float32) + rng.normal(scale=8, size=crop.shape).astype(np.float32)
        nibabel.save(nibabel.Nifti1Image(v, affine), folder / f"{phase}.nii.gz")


@pytest.fixture(scope="module")
def ct_model(cli, shared, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ct")
    records = json.loads((shared / "kits23" / "kits23.json").read_text())[:18]
    data = tmp / "cohort"
    rows = ["case_id,label,mask,ct_arterial,ct_venous"]
    for n, r in enumerate(records):
        cid = r["case_id"]
        write_case(shared, cid, data / cid, n)
        label = ["benign", "indolent", "aggressive"][n % 3]
        rows.append(f"{cid},{label},{cid}/mask.nii.gz,{cid}/arterial.nii.gz,{cid}/venous.nii.gz")
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    exp = tmp / "ct.toml"
    exp.write_text(EXPERIMENT)
    bundle = tmp / "bundle"
    o = subprocess.run(
        [cli, "train", "--data", data, "--experiment", exp, "--model", "image RF", "--encoder", "tiny",
         "--work", tmp / "work", "--out", bundle],
        capture_output=True, text=True,
    )
    assert o.returncode == 0, o.stderr
    return bundle, data / records[0]["case_id"]


def test_ct_phases_as_paths_or_arrays_predict_as_the_command_line(cli, ct_model):
    bundle, case = ct_model
    phases = {p: case / f"{p}.nii.gz" for p in HU}
    args = ["--mask", str(case / "mask.nii.gz")]
    for p, path in phases.items():
        args += ["--ct", f"{p}={path}"]
    o = subprocess.run([cli, "predict", "--model", bundle, *args], capture_output=True, text=True)
    assert o.returncode == 0, o.stderr
    theirs = json.loads(o.stdout)
    b = rt.Bundle.load(bundle)
    by_path = b.predict(mask=case / "mask.nii.gz", ct=phases)
    arrays = {p: rt.read_volume(path)[:2] for p, path in phases.items()}
    by_array = b.predict(mask=rt.read_volume(case / "mask.nii.gz", labels=True), ct=arrays)
    for key in ("p_benign", "p_indolent", "p_aggressive", "p_malignant", "p_aggressive_vs_rest"):
        assert by_path[key] == theirs[key], key
        assert by_array[key] == theirs[key], key
    assert by_array["image"] == theirs["image"]


def test_bad_ct_arrays_name_the_phase(ct_model):
    bundle, case = ct_model
    b = rt.Bundle.load(bundle)
    mask = case / "mask.nii.gz"
    venous, affine, _ = rt.read_volume(case / "venous.nii.gz")
    bad = venous.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="ct: venous: NaN at flat index"):
        b.predict(mask=mask, ct={"venous": (bad, affine)})
    with pytest.raises(ValueError, match="ct: venous: expected a 3-D CT volume, got 2 dimensions"):
        b.predict(mask=mask, ct={"venous": (venous[0], affine)})
    with pytest.raises(ValueError, match="ct: venous: a tuple must be"):
        b.predict(mask=mask, ct={"venous": (venous,)})
    with pytest.raises(ValueError, match="ct_portal: not a phase of this model"):
        b.predict(mask=mask, ct={"portal": (venous, affine)})
    # An array off the mask's grid is refused as a file would be, naming the phase.
    moved = affine.copy()
    moved[0, 3] += 300.0
    with pytest.raises(ValueError, match="ct_venous: .*venous"):
        b.predict(mask=mask, ct={"venous": (venous, moved), "arterial": case / "arterial.nii.gz"})
    # Every phase the model was trained on is needed (this bundle refuses a missing one).
    with pytest.raises(ValueError, match="ct_arterial: phase arterial is missing"):
        b.predict(mask=mask, ct={"venous": (venous, affine)})
