//! Gradient boosting and calibration against scikit-learn 1.9 (fixture made by
//! `scripts/golden_sklearn_boosting_calibration.py`, never by this crate).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_learn::{CalibrationMethod, Calibrator, Gbm, GbmParams, Matrix};
use renal_testdata::{float_rows, floats};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/sklearn_boosting_calibration.json")).unwrap()
}

fn matrix(v: &Value) -> Matrix {
    Matrix::from_rows(&float_rows(v), None).unwrap()
}

#[test]
fn gbm_probabilities_match_scikit_learn() {
    let f = fixture();
    let g = &f["gbm"];
    let x = matrix(&g["x"]);
    let y: Vec<usize> = g["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let p = GbmParams {
        n_estimators: 20,
        learning_rate: 0.1,
        max_depth: 2,
        min_samples_leaf: 3,
        subsample: 1.0,
        seed: 0,
    };
    let m = Gbm::fit(&p, &x, &y, 3).unwrap();
    let got = m.predict_proba(&matrix(&g["x_test"])).unwrap();
    let want = matrix(&g["proba_test"]);
    for i in 0..want.rows {
        for c in 0..3 {
            assert!(
                (got.get(i, c) - want.get(i, c)).abs() < 1e-9,
                "row {i} class {c}: {} vs scikit-learn {}",
                got.get(i, c),
                want.get(i, c)
            );
        }
    }
}

#[test]
fn isotonic_and_sigmoid_calibration_match_scikit_learn() {
    let f = fixture();
    let c = &f["calibration"];
    let s = floats(&c["s"]);
    let t: Vec<bool> = c["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64() == Some(1))
        .collect();
    let grid = floats(&c["grid"]);
    let iso = Calibrator::fit(CalibrationMethod::Isotonic, &s, &t).unwrap();
    for (g, want) in grid.iter().zip(floats(&c["isotonic"])) {
        assert!(
            (iso.apply(*g) - want).abs() < 1e-12,
            "isotonic at {g}: {} vs {want}",
            iso.apply(*g)
        );
    }
    let sig = Calibrator::fit(CalibrationMethod::Sigmoid, &s, &t).unwrap();
    let Calibrator::Sigmoid { a, b } = sig else {
        unreachable!()
    };
    let (wa, wb) = (
        c["sigmoid_a"].as_f64().unwrap(),
        c["sigmoid_b"].as_f64().unwrap(),
    );
    // scikit-learn stops its L-BFGS at a gradient tolerance; both fits reach the same optimum.
    assert!(
        (a - wa).abs() < 1e-4 && (b - wb).abs() < 1e-4,
        "a {a} b {b} vs {wa} {wb}"
    );
    for (g, want) in grid.iter().zip(floats(&c["sigmoid"])) {
        assert!(
            (sig.apply(*g) - want).abs() < 1e-5,
            "sigmoid at {g}: {} vs {want}",
            sig.apply(*g)
        );
    }
}
