"""The statistics against the golden fixtures (pROC, scikit-learn, pingouin) at the
tolerances their READMEs give, and the decision curve against a hand computation."""

import csv
import json
import math

import numpy as np
import pytest

import renal_triage as rt


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def asah(golden):
    rows = read_csv(golden / "delong-asah" / "asah.csv")
    y = np.array([r["outcome"] == "Poor" for r in rows])
    markers = {m: np.array([float(r[m]) for r in rows]) for m in ("wfns", "s100b", "ndka")}
    expected = json.loads((golden / "delong-asah" / "expected.json").read_text())
    return y, markers, expected


def test_auc_ap_youden_equal_scikit_learn_on_asah(asah):
    y, m, e = asah
    for name, score in m.items():
        assert rt.roc_auc(y, score) == pytest.approx(e["auc"][name], abs=1e-12)
        assert rt.average_precision(y, score) == pytest.approx(
            e["average_precision_sklearn"][name], abs=1e-12
        )
        j = rt.youden(y, score)
        ref = e["youden_sklearn"][name]
        assert j["threshold"] == ref["threshold"]
        assert j["sensitivity"] == pytest.approx(ref["sensitivity"], abs=1e-12)
        assert j["specificity"] == pytest.approx(ref["specificity"], abs=1e-12)
        assert j["j"] == pytest.approx(ref["j"], abs=1e-12)


def test_delong_equals_proc(asah):
    y, m, e = asah
    for ref in e["delong_paired"]:
        r = rt.delong_test(y, m[ref["a"]], m[ref["b"]])
        assert r["z"] == pytest.approx(ref["z"], rel=1e-9)
        assert r["p"] == pytest.approx(ref["p"], rel=1e-9)
        assert r["ci"][0] == pytest.approx(ref["ci_low"], rel=1e-9)
        assert r["ci"][1] == pytest.approx(ref["ci_high"], rel=1e-9)
    one = e["delong_paired_one_sided_wfns_vs_s100b"]
    r = rt.delong_test(y, m["wfns"], m["s100b"])
    assert r["p_greater"] == pytest.approx(one["greater_p"], rel=1e-9)
    assert r["p_less"] == pytest.approx(one["less_p"], rel=1e-9)
    for name, ref in e["delong_ci_auc"].items():
        r = rt.roc_auc_ci(y, m[name])
        assert r["auc"] == pytest.approx(ref["auc"], abs=1e-12)
        assert r["ci"][0] == pytest.approx(ref["low"], rel=1e-9)
        assert r["ci"][1] == pytest.approx(ref["high"], rel=1e-9)
        assert r["level"] == 0.95


@pytest.fixture(scope="module", params=["p1_n50_ties", "p2_n200", "p3_n1000_10pct"])
def problem(request, golden):
    d = golden / "metrics-sklearn"
    e = json.loads((d / "expected.json").read_text())["problems"][request.param]
    rows = read_csv(d / e["csv"])
    y = np.array([int(r["y"]) for r in rows])
    score = np.array([float(r["score"]) for r in rows])
    prob = np.array([float(r["prob"]) for r in rows])
    return y, score, prob, e


def test_metrics_equal_scikit_learn(problem):
    y, score, prob, e = problem
    assert rt.roc_auc(y, score) == pytest.approx(e["roc_auc"], abs=1e-12)
    assert rt.average_precision(y, score) == pytest.approx(e["average_precision"], abs=1e-12)
    assert rt.brier_score(y, prob) == pytest.approx(e["brier_score_loss"], abs=1e-12)
    for key, drop in (("roc_curve", True), ("roc_curve_full", False)):
        fpr, tpr, th = rt.roc_curve(y, score, drop_intermediate=drop)
        ref = e[key]
        np.testing.assert_allclose(fpr, ref["fpr"], atol=1e-12, rtol=0)
        np.testing.assert_allclose(tpr, ref["tpr"], atol=1e-12, rtol=0)
        assert math.isinf(th[0]) and ref["thresholds"][0] is None
        np.testing.assert_allclose(th[1:], ref["thresholds"][1:], atol=1e-12, rtol=0)
    j = rt.youden(y, score)
    assert j["threshold"] == pytest.approx(e["youden"]["threshold"], abs=1e-12)
    assert j["j"] == pytest.approx(e["youden"]["J"], abs=1e-12)


def test_calibration_equals_scikit_learn_with_empty_bins_kept(problem):
    y, _, prob, e = problem
    ref = e["calibration_curve"]
    c = rt.calibration_curve(y, prob, n_bins=10)
    assert c["count"].tolist() == ref["bin_counts_all_10"]
    kept = ref["nonempty_bins"]
    assert np.flatnonzero(c["count"]).tolist() == kept
    np.testing.assert_allclose(c["observed"][kept], ref["prob_true"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(c["predicted"][kept], ref["prob_pred"], atol=1e-12, rtol=0)
    empty = [b for b in range(10) if b not in kept]
    assert all(np.isnan(c["observed"][b]) for b in empty)


def test_calibration_bootstrap_intervals_hold_the_estimate_and_repeat(problem):
    y, _, prob, _ = problem
    a = rt.calibration_curve(y, prob, n_bins=5, n_boot=200, seed=7)
    b = rt.calibration_curve(y, prob, n_bins=5, n_boot=200, seed=7)
    np.testing.assert_array_equal(a["ci_low"], b["ci_low"])
    filled = a["count"] > 0
    assert np.all(a["ci_low"][filled] <= a["observed"][filled] + 1e-12)
    assert np.all(a["observed"][filled] <= a["ci_high"][filled] + 1e-12)


def test_decision_curve_by_hand():
    # 6 cases; at pt = 0.25 the cases with p >= 0.25 are treated: TP 2 (0.9, 0.6), FP 1 (0.3).
    y = [1, 1, 0, 0, 1, 0]
    p = [0.9, 0.6, 0.3, 0.1, 0.2, 0.05]
    d = rt.decision_curve(y, p, [0.25, 0.5])
    w = 0.25 / 0.75
    assert d["net_benefit"][0] == pytest.approx(2 / 6 - 1 / 6 * w, abs=1e-15)
    # At 0.5: TP 2, FP 0.
    assert d["net_benefit"][1] == pytest.approx(2 / 6, abs=1e-15)
    # Treat all: 3 positives and 3 negatives.
    assert d["treat_all"][0] == pytest.approx(3 / 6 - 3 / 6 * w, abs=1e-15)
    assert d["treat_all"][1] == pytest.approx(0.0, abs=1e-15)


@pytest.fixture(scope="module")
def shrout_fleiss(golden):
    d = golden / "icc-shrout-fleiss"
    rows = read_csv(d / "ratings.csv")
    ratings = np.array([[float(r[f"judge{j}"]) for j in range(1, 5)] for r in rows])
    return ratings, json.loads((d / "expected.json").read_text())


def test_icc_equals_pingouin_and_the_exact_values(shrout_fleiss):
    ratings, e = shrout_fleiss
    table = rt.icc(ratings)
    assert [t["form"] for t in table] == list(e["icc"].keys())
    for t in table:
        ref = e["icc"][t["form"]]
        num, den = map(int, e["exact_rational"][t["form"]].split("/"))
        assert t["icc"] == pytest.approx(num / den, abs=1e-12)
        assert t["f"] == pytest.approx(ref["F"], rel=1e-12)
        assert (t["df1"], t["df2"]) == (ref["df1"], ref["df2"])
        assert t["pval"] == pytest.approx(ref["pval"], rel=1e-8)
        assert t["ci95"][0] == pytest.approx(ref["CI95"][0], rel=1e-8)
        assert t["ci95"][1] == pytest.approx(ref["CI95"][1], rel=1e-8)
    one = rt.icc(ratings, form="ICC3")
    assert one["form"] == "ICC(3,1)"
    assert one["icc"] == pytest.approx(920 / 1287, abs=1e-12)
