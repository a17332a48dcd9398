"""The package behaves like a Python library: installed from the wheel (not the source
tree) with its type stubs, documented for help(), and long work does not hold the GIL."""

import importlib.resources
import inspect
import os
import threading

import numpy as np

import renal_triage as rt
from renal_triage import learn


def test_imported_from_the_installed_wheel_with_its_stubs():
    if os.environ.get("CI") == "true":
        assert "site-packages" in rt.__file__, rt.__file__
    files = {p.name for p in importlib.resources.files("renal_triage").iterdir()}
    assert {"_native.pyi", "py.typed", "learn.py", "bundle.py"} <= files
    assert any(f.startswith("_native") and f.endswith(".so") for f in files)


def test_every_public_name_is_documented():
    for name in rt.__all__:
        obj = getattr(rt, name)
        if name == "__version__":
            continue
        assert inspect.getdoc(obj), f"renal_triage.{name} has no docstring"
    for name in learn.__all__:
        assert inspect.getdoc(getattr(learn, name)), f"renal_triage.learn.{name}"
    # help() shows the signature and the arguments.
    assert "label_map" in inspect.getdoc(rt.read_volume)
    assert "(path, labels=False, label_map=None, reference=None)" in rt.read_volume.__text_signature__.replace("$module, ", "") or "path" in str(inspect.signature(rt.read_volume))


def test_long_work_releases_the_gil():
    """A forest fits in one thread while this one keeps running Python: with the GIL held
    for the whole fit, the counter would not move until the fit is over."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 40))
    y = (X[:, 0] > 0).astype(int)
    during = []
    done = threading.Event()

    def fit():
        learn.RandomForestClassifier(n_estimators=300, random_state=0, threads=1).fit(X, y)
        done.set()

    t = threading.Thread(target=fit)
    count = 0
    t.start()
    while not done.is_set():
        count += 1
        if count % 1000 == 0:
            during.append(count)
    t.join()
    assert len(during) >= 5, f"the main thread ran {count} loops during the fit"


def test_the_module_links_no_libtorch():
    """Image models run through the plain-Rust encoder: the extension names no torch library
    (and no libpython: an abi3 extension module takes the interpreter's symbols)."""
    so = next(p for p in importlib.resources.files("renal_triage").iterdir() if p.name.startswith("_native"))
    data = so.read_bytes()
    assert b"libtorch" not in data and b"libc10" not in data
    assert b"libpython3" not in data
