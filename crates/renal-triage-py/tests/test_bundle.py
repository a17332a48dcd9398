"""Bundles from Python against the command line: a bundle trained by `renal-triage train` on
50 KiTS23 cases, loaded with the same checks, predicts the same probabilities bit for bit as
`renal-triage predict` for the same inputs (a mask file or the same mask as an array)."""

import json
import shutil
import subprocess

import numpy as np
import pytest

import renal_triage as rt

def cli_predict(cli, bundle, args):
    o = subprocess.run([cli, "predict", "--model", bundle, *args], capture_output=True, text=True)
    assert o.returncode == 0, o.stderr
    return json.loads(o.stdout)


PATIENT = {"age": 64, "sex": "female", "bmi": 31.5, "smoking_status": "former"}


def test_predictions_equal_the_command_line_bit_for_bit(cli, trained, shared):
    mask = shared / "kits23" / "cases" / "case_00019" / "segmentation.nii.gz"
    b = rt.Bundle.load(trained)
    sets = [f"{k}={v}" for k, v in PATIENT.items()]
    theirs = cli_predict(cli, trained, [*sum((["--set", s] for s in sets), []), "--mask", str(mask)])
    ours = b.predict(PATIENT, mask=mask)
    from_array = b.predict(PATIENT, mask=rt.read_volume(mask, labels=True))
    for key in ("p_benign", "p_indolent", "p_aggressive", "p_malignant", "p_aggressive_vs_rest", "tumor_size_mm"):
        assert ours[key] == theirs[key], key
        assert from_array[key] == theirs[key], key
    assert ours == {**theirs, **{k: ours[k] for k in ours if k not in theirs}}
    assert ours["triage"]["headline"] == theirs["triage"]["headline"]


def test_load_checks_digest_and_files(trained, tmp_path):
    b = rt.Bundle.load(trained)
    assert b.digest.startswith("sha256:") or len(b.digest) == 64
    assert rt.Bundle.load(trained, expect_digest=b.digest).digest == b.digest
    with pytest.raises(rt.BundleError, match="not the expected"):
        rt.Bundle.load(trained, expect_digest="0" * 64)
    with pytest.raises(FileNotFoundError, match="no such bundle folder"):
        rt.Bundle.load(tmp_path / "none")
    altered = tmp_path / "altered"
    shutil.copytree(trained, altered)
    manifest = altered / "bundle.json"
    manifest.write_text(manifest.read_text().replace('"rf"', '"rf2"', 1))
    with pytest.raises(rt.BundleError, match="altered"):
        rt.Bundle.load(altered)
    keys = tmp_path / "keys.txt"
    keys.write_text("ed25519:" + "ab" * 32 + "\n")
    with pytest.raises(rt.BundleError, match="sign"):
        rt.Bundle.load(trained, trusted_keys=keys)


def test_fields_are_the_vocabulary_in_words(trained):
    fields = {f["name"]: f for f in rt.Bundle.load(trained).fields}
    assert "age" in fields and fields["age"]["kind"] == "number" and fields["age"]["unit"]
    sex = fields["sex"]
    assert sex["kind"] == "category"
    assert {v["value"] for v in sex["values"]} >= {"female", "male"}


def test_bad_inputs_name_the_field(trained, shared):
    b = rt.Bundle.load(trained)
    mask = shared / "kits23" / "cases" / "case_00019" / "segmentation.nii.gz"
    with pytest.raises(ValueError, match="creatinine|not used|unknown|did you mean"):
        b.predict({"creatinine_typo": 1.0}, mask=mask)
    with pytest.raises(ValueError, match="age"):
        b.predict({"age": "old"}, mask=mask)
    with pytest.raises(ValueError, match="mask"):
        b.predict(PATIENT)
    with pytest.raises(FileNotFoundError, match="mask: "):
        b.predict(PATIENT, mask=mask.parent / "nothing.nii.gz")
    with pytest.raises(ValueError, match="clinical: age: "):
        b.predict({"age": [1, 2]}, mask=mask)


def test_predict_batch_keeps_every_row_and_names_errors(pytest_pandas, trained, shared):
    pd = pytest_pandas
    mask = str(shared / "kits23" / "cases" / "case_00019" / "segmentation.nii.gz")
    frame = pd.DataFrame(
        [
            {"case_id": "a", "age": 64, "sex": "female", "bmi": np.nan, "mask": mask},
            {"case_id": "b", "age": "old", "sex": "male", "bmi": 22.0, "mask": mask},
            {"case_id": "c", "age": 50, "sex": "male", "bmi": 27.0, "mask": mask},
        ]
    )
    out = rt.Bundle.load(trained).predict_batch(frame)
    assert list(out["case_id"]) == ["a", "b", "c"]
    assert out["error"].isna().tolist() == [True, False, True]
    assert "age" in out.loc[1, "error"]
    one = rt.Bundle.load(trained).predict({"age": 50, "sex": "male", "bmi": 27.0}, mask=mask, case_id="c")
    assert out.loc[2, "p_malignant"] == one["p_malignant"]
    assert out.loc[2, "triage"] == one["triage"]["headline"]
    assert not any(str(t).isidentifier() and "_" in str(t) for t in out["triage"].dropna())


@pytest.fixture
def pytest_pandas():
    return pytest.importorskip("pandas")


def test_threads_change_no_prediction(trained, shared):
    b = rt.Bundle.load(trained)
    mask = shared / "kits23" / "cases" / "case_00019" / "segmentation.nii.gz"
    assert b.predict(PATIENT, mask=mask, threads=1) == b.predict(PATIENT, mask=mask, threads=2)
