//! Multinomial L2 logistic regression against scikit-learn 1.9's optimum (fixture made by
//! `scripts/golden_sklearn_logistic.py` at a tight tolerance, never by this crate): every
//! coefficient and intercept within 1e-6, on a narrow and a wide table, C = 0.01, 1, 100, when
//! the fit is asked to run to the end of its progress (`tol` 1e-16: the default 1e-10 bounds
//! the objective's relative distance to the optimum, not the coefficients', which on the
//! flatter problems of small C can be 1e-5 from it at the same objective).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_learn::{Logistic, LogisticParams, Matrix};
use renal_testdata::{float_rows, floats, max_abs_diff};
use serde_json::Value;

#[test]
fn coefficients_equal_scikit_learns_to_1e6() {
    let f: Value = serde_json::from_str(include_str!("fixtures/sklearn_logistic.json")).unwrap();
    for case in f["cases"].as_array().unwrap() {
        let rows = float_rows(&case["x"]);
        let x = Matrix::from_rows(&rows, None).unwrap();
        let y: Vec<usize> = case["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let c = case["c"].as_f64().unwrap();
        let m = Logistic::fit(
            &LogisticParams {
                c,
                tol: 1e-16,
                ..Default::default()
            },
            &x,
            &y,
            3,
        )
        .unwrap();
        let want: Vec<f64> = case["coef"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(floats)
            .collect();
        let label = format!("{} C={c}", case["name"]);
        let worst = max_abs_diff(&m.coef, &want, &format!("{label}: coefficients"));
        assert!(worst < 1e-6, "{label}: coefficient off by {worst}");
        // Intercepts are defined up to a common shift (softmax): compare them centred.
        let centre = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| x - m).collect::<Vec<f64>>()
        };
        let off = max_abs_diff(
            &centre(&m.intercept),
            &centre(&floats(&case["intercept"])),
            &format!("{label}: intercepts"),
        );
        assert!(off < 1e-6, "{label}: intercept off by {off}");
        eprintln!(
            "{label}: worst coefficient difference {worst:.2e}, {} iterations",
            m.iterations
        );
    }
}
