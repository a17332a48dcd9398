"""Shared fixtures: the project's shared data (../shared beside the repository, or
$RENAL_TRIAGE_SHARED). Under CI (CI=true) missing data is a failure, never a skip."""

import json
import os

# scikit-learn runs its array-API check (that enabling array-API dispatch with numpy input
# changes nothing) only with this set before scipy is imported; else the check skips itself.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def shared_dir():
    env = os.environ.get("RENAL_TRIAGE_SHARED")
    return pathlib.Path(env) if env else REPO.parent / "shared"


def unavailable(msg):
    """Something a test needs is missing: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def shared():
    d = shared_dir()
    if not (d / "golden").is_dir():
        unavailable(f"the shared data is not at {d} (set RENAL_TRIAGE_SHARED)")
    return d


@pytest.fixture(scope="session")
def golden(shared):
    return shared / "golden"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where nothing may be skipped: {report.longrepr}"


EXPERIMENT = """[experiment]
name = "py"
outer_folds = 3
inner_folds = 2
bootstrap = 50
[rf]
trees = 30
max_features = ["sqrt"]
[[model]]
name = "rf"
clinical = "all"
size = true
learner = "rf"
"""


@pytest.fixture(scope="session")
def cli():
    """The command line's binary: $RENAL_TRIAGE_BIN, or the release build in target/."""
    path = pathlib.Path(os.environ.get("RENAL_TRIAGE_BIN", REPO / "target" / "release" / "renal-triage"))
    if not path.is_file():
        unavailable(f"the renal-triage binary is not at {path} (cargo build --release, or set RENAL_TRIAGE_BIN)")
    return path


@pytest.fixture(scope="session")
def trained(cli, shared, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    records = json.loads((shared / "kits23" / "kits23.json").read_text())
    keep = [r for r in records if r["malignant"] is False][:15] + [
        r for r in records if r["malignant"] is True
    ][:35]
    data = tmp / "kits"
    for r in keep:
        case = data / "cases" / r["case_id"]
        case.mkdir(parents=True)
        os.symlink(shared / "kits23" / "cases" / r["case_id"] / "segmentation.nii.gz", case / "segmentation.nii.gz")
    (data / "kits23.json").write_text(json.dumps(keep))
    exp = tmp / "exp.toml"
    exp.write_text(EXPERIMENT)
    bundle = tmp / "bundle"
    subprocess.run(
        [cli, "train", "--data", data, "--experiment", exp, "--model", "rf", "--out", bundle],
        check=True, capture_output=True,
    )
    return bundle


