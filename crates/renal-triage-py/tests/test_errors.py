"""Bad input raises a Python exception of the right type naming the argument; random arrays
raise or answer, never abort the interpreter or let a Rust panic through."""

import re

import numpy as np
import pytest

import renal_triage as rt
from renal_triage import _native
from renal_triage.learn import RandomForestClassifier


def test_wrong_shape_names_the_argument():
    with pytest.raises(ValueError, match=r"y_score: expected a 1-D array, got shape \(3, 1\)"):
        rt.roc_auc([0, 1, 1], [[1], [2], [3]])
    with pytest.raises(ValueError, match=r"ratings: expected a 2-D array, got shape \(4,\)"):
        rt.icc([1, 2, 3, 4])


def test_wrong_dtype_names_the_argument():
    with pytest.raises(ValueError, match=r"y_score: expected numbers, got an array of dtype <U1"):
        rt.roc_auc([0, 1, 1], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"y_true: expected numbers.*complex128"):
        rt.roc_auc(np.array([0, 1j, 1]), [1, 2, 3])


def test_nan_and_infinity_name_the_argument_and_the_index():
    with pytest.raises(ValueError, match=r"y_score: nan at index 1; values must be finite|y_score: NaN at index 1"):
        rt.roc_auc([0, 1, 1], [1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match=r"y_prob: inf at index 2"):
        rt.brier_score([0, 1, 1], [0.1, 0.2, np.inf])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        RandomForestClassifier().fit([[1.0], [np.nan]], [0, 1])


def test_wrong_length_names_both_arguments():
    with pytest.raises(ValueError, match="y_score has 2 values but y_true has 3"):
        rt.roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="score_b has 2 values but y_true has 3"):
        rt.delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2])


def test_wrong_values_and_parameters():
    with pytest.raises(ValueError, match="y_true: the outcome must be 0/1 or bool; found 2 at index 2"):
        rt.roc_auc([0, 1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="both classes are needed"):
        rt.roc_auc([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="level: 1.5 is not a confidence level"):
        rt.roc_auc_ci([0, 1, 0, 1], [1, 2, 3, 4], level=1.5)
    with pytest.raises(ValueError, match=re.escape('form: unknown ICC form "ICC(4,1)"')):
        rt.icc([[1, 2], [3, 4], [5, 7]], form="ICC(4,1)")
    with pytest.raises(ValueError, match="n_estimators: 0 is not a positive integer"):
        RandomForestClassifier(n_estimators=0).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="max_features: the fraction 1.5 is not in"):
        RandomForestClassifier(max_features=1.5).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="threads: at least one thread"):
        RandomForestClassifier(threads=0).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match=r"y: class code 2 at index 1 is not in 0\.\.2"):
        _native.fit(np.zeros((2, 1)), np.array([0.0, 2.0]), 2, "logistic", LOGISTIC, 1)
    with pytest.raises(ValueError, match='kind: "tree" is not forest, logistic, mlp or gbm'):
        _native.fit(np.zeros((2, 1)), np.array([0.0, 1.0]), 2, "tree", LOGISTIC, 1)
    with pytest.raises(ValueError, match="params: `max_iter` is missing"):
        _native.fit(np.zeros((2, 1)), np.array([0.0, 1.0]), 2, "logistic", {"c": 1.0}, 1)


def test_undefined_statistics_are_renal_triage_errors():
    with pytest.raises(rt.StatsError, match="rank the cases identically") as e:
        rt.delong_test([0, 0, 1, 1], [1, 2, 3, 4], [1, 2, 3, 4])
    assert isinstance(e.value, rt.RenalTriageError)
    assert not isinstance(e.value, ValueError)


def test_stored_model_that_is_not_one_is_a_learn_error():
    with pytest.raises(rt.LearnError, match="not a stored model"):
        _native.model_from_json('{"Forest": 3}')


FOREST = dict(
    n_estimators=2, max_features="sqrt", min_samples_leaf=1, max_depth=None, bootstrap=True,
    balanced=False, class_weight=None, seed=0,
)
LOGISTIC = dict(c=1.0, max_iter=5, tol=1e-6)
GBM = dict(n_estimators=2, learning_rate=0.1, max_depth=2, min_samples_leaf=1, subsample=1.0, seed=0)


def random_array(rng):
    shape = tuple(rng.randint(0, 5, size=rng.randint(0, 4)))
    kind = rng.randint(7)
    if kind == 0:
        return rng.normal(size=shape) * 10.0 ** rng.randint(-300, 300)
    if kind == 1:
        return rng.randint(-3, 3, size=shape)
    if kind == 2:
        a = rng.normal(size=shape)
        if a.size:
            a.flat[rng.randint(a.size)] = rng.choice([np.nan, np.inf, -np.inf])
        return a
    if kind == 3:
        return rng.randint(0, 2, size=shape).astype(bool)
    if kind == 4:
        return np.array(["x"] * int(np.prod(shape))).reshape(shape)
    if kind == 5:
        return rng.normal(size=shape)[..., ::2] if shape else rng.normal(size=shape)
    others = [None, [], [[]], "text", 3.5, {"a": 1}]
    return others[rng.randint(len(others))]


def test_random_arrays_raise_or_answer_never_abort():
    """A Rust panic would surface as pyo3's PanicException, a BaseException that `except
    Exception` does not catch, so this fails on one."""
    rng = np.random.RandomState(12345)
    calls = [
        lambda a, b, c: rt.roc_auc(a, b),
        lambda a, b, c: rt.roc_auc_ci(a, b),
        lambda a, b, c: rt.delong_test(a, b, c),
        lambda a, b, c: rt.roc_curve(a, b),
        lambda a, b, c: rt.average_precision(a, b),
        lambda a, b, c: rt.youden(a, b),
        lambda a, b, c: rt.brier_score(a, b),
        lambda a, b, c: rt.calibration_curve(a, b, n_boot=3),
        lambda a, b, c: rt.decision_curve(a, b, c),
        lambda a, b, c: rt.icc(a),
        lambda a, b, c: _native.fit(a, b, 2, "forest", FOREST, 1),
        lambda a, b, c: _native.fit(a, b, 2, "logistic", LOGISTIC, 1),
        lambda a, b, c: _native.fit(a, b, 3, "gbm", GBM, 1),
        lambda a, b, c: rt.measure(a, spacing=b),
        lambda a, b, c: rt.measure(a, affine=b),
    ]
    outcomes = {"answered": 0, "raised": 0}
    for _ in range(1500):
        f = calls[rng.randint(len(calls))]
        args = [random_array(rng) for _ in range(3)]
        if rng.rand() < 0.5:
            # Often valid-looking: a 0/1 outcome and scores of the same length.
            n = rng.randint(0, 9)
            args[0] = rng.randint(0, 2, size=n)
            args[1] = rng.rand(n) if rng.rand() < 0.5 else rng.rand(n, rng.randint(1, 4))
        try:
            f(*args)
            outcomes["answered"] += 1
        except Exception:
            outcomes["raised"] += 1
    assert outcomes["answered"] > 0 and outcomes["raised"] > 0, outcomes


def test_a_crafted_stored_model_is_refused_before_it_is_walked():
    """A pickle is JSON of the fitted model: one whose tree points outside itself is refused
    on load (renal_learn's Model::validate), never walked out of bounds."""
    import json

    m = RandomForestClassifier(n_estimators=2, random_state=0).fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    stored = json.loads(m._model.to_json())
    node = next(n for n in stored[0]["forest"]["trees"][0]["nodes"] if n["feature"] != 2**32 - 1)
    node["left"] = 10**6
    with pytest.raises(rt.LearnError, match="not a stored model: .*1000000"):
        _native.model_from_json(json.dumps(stored))
