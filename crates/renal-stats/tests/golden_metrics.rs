//! ROC/PR/DeLong/calibration against pROC and scikit-learn (`shared/golden/delong-asah`,
//! `shared/golden/metrics-sklearn`), tolerances from their READMEs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_stats::*;
use renal_testdata::{assert_abs, assert_all_abs, read_json, shared};

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    (
        header,
        lines
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect(),
    )
}

fn col(h: &[String], rows: &[Vec<String>], name: &str) -> Vec<f64> {
    let c = h.iter().position(|x| x == name).unwrap();
    rows.iter().map(|r| r[c].parse().unwrap()).collect()
}

#[test]
fn delong_on_asah_matches_proc() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("golden/delong-asah");
    let exp = read_json(&dir.join("expected.json"));
    let (h, rows) = read_csv(&dir.join("asah.csv"));
    let oc = h.iter().position(|x| x == "outcome").unwrap();
    let y: Vec<bool> = rows.iter().map(|r| r[oc] == "Poor").collect();
    assert_eq!(y.iter().filter(|v| **v).count(), 41);
    let score = |n: &str| col(&h, &rows, n);
    for m in ["wfns", "s100b", "ndka"] {
        let s = score(m);
        assert_abs(
            roc_auc(&y, &s).unwrap(),
            exp["auc"][m].as_f64().unwrap(),
            1e-12,
            m,
        );
        assert_abs(
            average_precision(&y, &s).unwrap(),
            exp["average_precision_sklearn"][m].as_f64().unwrap(),
            1e-12,
            m,
        );
        let yd = youden(&y, &s).unwrap();
        let e = &exp["youden_sklearn"][m];
        assert_eq!(
            yd.threshold,
            e["threshold"].as_f64().unwrap(),
            "{m} youden threshold"
        );
        assert_abs(yd.tpr, e["sensitivity"].as_f64().unwrap(), 1e-12, m);
        assert_abs(yd.specificity, e["specificity"].as_f64().unwrap(), 1e-12, m);
    }
    for t in exp["delong_paired"].as_array().unwrap() {
        let (a, b) = (t["a"].as_str().unwrap(), t["b"].as_str().unwrap());
        let r = delong_paired(&y, &score(a), &score(b), 0.95).unwrap();
        let what = format!("{a} vs {b}");
        assert_abs(r.z, t["z"].as_f64().unwrap(), 1e-12, &what);
        // z and the CI match to 1e-12 (README); p goes through a normal CDF (statrs here, R's
        // pnorm there), whose tails differ by a few 1e-12 (observed up to 7.4e-12).
        assert_abs(r.p_two_sided, t["p"].as_f64().unwrap(), 1e-11, &what);
        assert_abs(r.ci[0], t["ci_low"].as_f64().unwrap(), 1e-12, &what);
        assert_abs(r.ci[1], t["ci_high"].as_f64().unwrap(), 1e-12, &what);
    }
    let r = delong_paired(&y, &score("wfns"), &score("s100b"), 0.95).unwrap();
    let e = &exp["delong_paired_one_sided_wfns_vs_s100b"];
    assert_abs(
        r.p_greater,
        e["greater_p"].as_f64().unwrap(),
        1e-11,
        "greater",
    );
    assert_abs(r.p_less, e["less_p"].as_f64().unwrap(), 1e-11, "less");
    let ci = delong_ci(&y, &score("ndka"), 0.95).unwrap();
    let e = &exp["delong_ci_auc"]["ndka"];
    assert_abs(ci.auc, e["auc"].as_f64().unwrap(), 1e-12, "ndka auc");
    assert_abs(ci.ci[0], e["low"].as_f64().unwrap(), 1e-12, "ndka low");
    assert_abs(ci.ci[1], e["high"].as_f64().unwrap(), 1e-12, "ndka high");
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}

#[test]
fn metrics_match_sklearn_on_three_problems() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("golden/metrics-sklearn");
    let exp = read_json(&dir.join("expected.json"));
    for (name, e) in exp["problems"].as_object().unwrap() {
        let (h, rows) = read_csv(&dir.join(e["csv"].as_str().unwrap()));
        let y: Vec<bool> = col(&h, &rows, "y").iter().map(|v| *v == 1.0).collect();
        let s = col(&h, &rows, "score");
        let p = col(&h, &rows, "prob");
        assert_abs(
            roc_auc(&y, &s).unwrap(),
            e["roc_auc"].as_f64().unwrap(),
            1e-12,
            name,
        );
        assert_abs(
            average_precision(&y, &s).unwrap(),
            e["average_precision"].as_f64().unwrap(),
            1e-12,
            name,
        );
        assert_abs(
            brier(&y, &p).unwrap(),
            e["brier_score_loss"].as_f64().unwrap(),
            1e-12,
            name,
        );
        for (key, drop) in [("roc_curve", true), ("roc_curve_full", false)] {
            let c = roc_curve(&y, &s, drop).unwrap();
            let ec = &e[key];
            assert_eq!(
                c.thresholds,
                floats(&ec["thresholds"]),
                "{name} {key} thresholds"
            );
            assert_all_abs(&c.fpr, &floats(&ec["fpr"]), 1e-12, name);
            assert_all_abs(&c.tpr, &floats(&ec["tpr"]), 1e-12, name);
        }
        let yd = youden(&y, &s).unwrap();
        assert_eq!(
            yd.index as u64,
            e["youden"]["index"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            yd.threshold,
            e["youden"]["threshold"].as_f64().unwrap(),
            "{name}"
        );
        assert_abs(yd.j, e["youden"]["J"].as_f64().unwrap(), 1e-12, name);
        let ey = &e["youden"];
        assert_abs(yd.tpr, ey["tpr"].as_f64().unwrap(), 1e-12, name);
        assert_abs(yd.fpr, ey["fpr"].as_f64().unwrap(), 1e-12, name);
        assert_abs(
            yd.specificity,
            ey["specificity"].as_f64().unwrap(),
            1e-12,
            name,
        );
        // The ties at the optimum, counted on our curve as scikit-learn's were counted: the
        // first maximum is the answer whether it is alone or not.
        let c = roc_curve(&y, &s, true).unwrap();
        let j: Vec<f64> = c.tpr.iter().zip(&c.fpr).map(|(t, f)| t - f).collect();
        let at_max = j.iter().filter(|&&v| v == yd.j).count();
        let near_max = j.iter().filter(|&&v| (v - yd.j).abs() <= 1e-12).count();
        assert_eq!(
            at_max as u64,
            ey["n_indices_at_max"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            near_max as u64,
            ey["n_indices_within_1e-12_of_max"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(j.iter().position(|&v| v == yd.j), Some(yd.index), "{name}");
        // Dropping intermediate points never moves the optimum: the full curve's Youden point
        // is the same threshold, sensitivity and specificity.
        let full = &e["youden_on_full_curve"];
        assert_eq!(yd.threshold, full["threshold"].as_f64().unwrap(), "{name}");
        assert_abs(yd.tpr, full["tpr"].as_f64().unwrap(), 1e-12, name);
        assert_abs(yd.fpr, full["fpr"].as_f64().unwrap(), 1e-12, name);
        assert_abs(yd.j, full["J"].as_f64().unwrap(), 1e-12, name);
        let pr = precision_recall_curve(&y, &s).unwrap();
        let ep = &e["precision_recall_curve"];
        assert_eq!(
            pr.thresholds,
            floats(&ep["thresholds"]),
            "{name} pr thresholds"
        );
        assert_eq!(
            pr.precision.len(),
            ep["precision"].as_array().unwrap().len()
        );
        assert_all_abs(&pr.precision, &floats(&ep["precision"]), 1e-12, name);
        assert_all_abs(&pr.recall, &floats(&ep["recall"]), 1e-12, name);
        let cal = calibration(&y, &p, 10).unwrap();
        let ec = &e["calibration_curve"];
        let counts: Vec<u64> = ec["bin_counts_all_10"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(
            cal.count.iter().map(|&c| c as u64).collect::<Vec<_>>(),
            counts,
            "{name} bins"
        );
        let obs: Vec<f64> = cal.observed.iter().flatten().copied().collect();
        let pred: Vec<f64> = cal.predicted.iter().flatten().copied().collect();
        assert_eq!(
            obs.len(),
            ec["prob_true"].as_array().unwrap().len(),
            "{name}: empty bins dropped"
        );
        assert_all_abs(&obs, &floats(&ec["prob_true"]), 1e-12, name);
        assert_all_abs(&pred, &floats(&ec["prob_pred"]), 1e-12, name);
    }
}

#[test]
fn calibration_bootstrap_is_seeded_and_brackets_the_estimate() {
    let y: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
    let p: Vec<f64> = (0..200).map(|i| (i % 10) as f64 / 10.0 + 0.05).collect();
    let (c1, ci1) = calibration_bootstrap(&y, &p, 10, 200, 7).unwrap();
    let (_, ci2) = calibration_bootstrap(&y, &p, 10, 200, 7).unwrap();
    assert_eq!(ci1, ci2);
    assert_eq!(c1.observed.len(), ci1.len());
    let mut checked = 0;
    for (o, ci) in c1.observed.iter().zip(&ci1) {
        // A bin is empty (no estimate) exactly when it has no interval.
        assert_eq!(o.is_some(), ci.is_some());
        if let (Some(o), Some([lo, hi])) = (o, ci) {
            assert!(lo <= o && o <= hi, "{lo} {o} {hi}");
            assert!(lo < hi, "a degenerate interval [{lo}, {hi}]");
            checked += 1;
        }
    }
    // The scores fill all ten bins, so every bin was checked.
    assert_eq!(checked, 10);
}
