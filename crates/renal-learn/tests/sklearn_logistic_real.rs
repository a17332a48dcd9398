//! Logistic regression on a table with the spectrum of real image embeddings (300 x 512,
//! standardised, correlated columns, condition number in the hundreds) against scikit-learn's
//! lbfgs run to `tol=1e-10, max_iter=10000` (fixture made by
//! `scripts/golden_sklearn_logistic_real.py`, which rebuilds the table by the same recipe and
//! never calls this crate). The penalised objective `C Σ CE + ½‖W‖²` is computed here, by hand,
//! for both solutions: at the default stopping rule ours is within 1e-8 of scikit-learn's,
//! relative (issue 31), for each C of the study's grid, fit one C at a time and along the path.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_learn::logistic::LogisticBasis;
use renal_learn::{Logistic, LogisticParams, Matrix, Step};
use renal_testdata::floats;
use serde_json::Value;

/// `C Σ_i −log softmax(W x_i + b)[y_i] + ½ ‖W‖²`, written out.
fn objective(x: &Matrix, y: &[usize], coef: &[f64], intercept: &[f64], c: f64) -> f64 {
    let k = intercept.len();
    let p = x.cols;
    let mut loss = 0.0;
    for (i, &yi) in y.iter().enumerate() {
        let z: Vec<f64> = (0..k)
            .map(|cl| intercept[cl] + (0..p).map(|j| coef[cl * p + j] * x.get(i, j)).sum::<f64>())
            .collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        loss += lse - z[yi];
    }
    c * loss + 0.5 * coef.iter().map(|w| w * w).sum::<f64>()
}

#[test]
fn objective_within_1e8_of_sklearn_lbfgs_at_tight_tolerance() {
    let f: Value =
        serde_json::from_str(include_str!("fixtures/sklearn_logistic_real.json")).unwrap();
    let rows = f["rows"].as_u64().unwrap() as usize;
    let cols = f["cols"].as_u64().unwrap() as usize;
    let (raw, y) = renal_learn::synthetic::embeddings_like(rows, cols, f["seed"].as_u64().unwrap());
    // The same table as the script's, to the last bit.
    assert_eq!(raw.row(0)[..8], floats(&f["x_first_row"])[..]);
    assert_eq!(raw.row(rows - 1)[cols - 8..], floats(&f["x_last_row"])[..]);
    let zeros = raw.data.iter().filter(|v| **v == 0.0).count();
    assert_eq!(zeros as u64, f["zeros"].as_u64().unwrap());
    let x = Step::Standardize
        .fit(&raw, &y, 3)
        .unwrap()
        .transform(&raw)
        .unwrap();
    let (_, cond) = renal_learn::standardized_spectrum(&raw).unwrap();
    let want = f["condition_number"].as_f64().unwrap();
    assert!(
        (cond - want).abs() < 1e-6 * want,
        "condition number {cond} vs numpy's {want}"
    );
    let cases = f["cases"].as_array().unwrap();
    let params: Vec<LogisticParams> = cases
        .iter()
        .map(|c| LogisticParams {
            c: c["c"].as_f64().unwrap(),
            ..Default::default()
        })
        .collect();
    let refs: Vec<&LogisticParams> = params.iter().collect();
    let path = Logistic::fit_path(&refs, &LogisticBasis::new(&x).unwrap(), &y, 3).unwrap();
    for ((case, p), along) in cases.iter().zip(&params).zip(&path) {
        let c = p.c;
        let sk_coef: Vec<f64> = case["coef"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(floats)
            .collect();
        let theirs = objective(&x, &y, &sk_coef, &floats(&case["intercept"]), c);
        let alone = Logistic::fit(p, &x, &y, 3).unwrap();
        for (how, m) in [("alone", &alone), ("along the path", along)] {
            let ours = objective(&x, &y, &m.coef, &m.intercept, c);
            let rel = (ours - theirs) / theirs;
            eprintln!(
                "C={c} {how}: ours {ours:.12} scikit-learn {theirs:.12} relative {rel:.2e} ({} iterations; lbfgs {})",
                m.iterations, case["n_iter"]
            );
            assert!(
                rel.abs() <= 1e-8,
                "C={c} {how}: objective {ours} vs {theirs} ({rel:.2e})"
            );
        }
    }
}
