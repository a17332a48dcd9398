"""docs/python.md is a walk-through that runs: its Python blocks, in order, in one namespace,
from the repository's root, the first block's paths pointed at the shared data, the
project's fixtures and a bundle trained by `renal-triage train`."""

import os
import re

from conftest import REPO


def blocks():
    text = (REPO / "docs" / "python.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_walk_through_runs(shared, trained, capsys):
    code = blocks()
    assert len(code) >= 6, "the walk-through's blocks were found"
    setup = code[0]
    assert "SHARED =" in setup and "BUNDLE =" in setup and "FIXTURES =" in setup
    namespace = {}
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        exec(compile(setup, "docs/python.md (setup)", "exec"), namespace)
        # The same names, pointed at this run's data and bundle.
        namespace["SHARED"] = shared
        namespace["BUNDLE"] = trained
        for i, block in enumerate(code[1:], start=2):
            exec(compile(block, f"docs/python.md (block {i})", "exec"), namespace)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    # What the page promises the reader sees.
    assert "index tumour:" in out and "mm across" in out
    assert "malignant vs benign" in out
    assert "| malignant:" in out
    assert namespace["grid"].best_score_ > 0.5
    batch = namespace["bundle"].predict_batch(namespace["frame"])
    assert batch["error"].notna().tolist() == [False, False, True]
