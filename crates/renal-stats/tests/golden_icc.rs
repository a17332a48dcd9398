//! ICC against the Shrout & Fleiss example (exact fractions, pingouin) and the KiTS23 annotator
//! volumes (pingouin), `shared/golden/icc-*`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_stats::{icc_all, mean_squares};
use renal_testdata::{assert_abs, assert_rel, read_json, shared};

fn frac(s: &str) -> f64 {
    let (a, b) = s.split_once('/').unwrap();
    a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap()
}

/// Tolerances of a fixture's README: ICC (absolute or relative), F (relative), p and CI
/// (relative).
struct Tol {
    icc: f64,
    abs_icc: bool,
    f: f64,
    p_ci: f64,
}

fn check_against_pingouin(rows: &[Vec<f64>], exp: &serde_json::Value, tol: Tol) {
    let Tol {
        icc: icc_tol,
        abs_icc,
        f: f_tol,
        p_ci,
    } = tol;
    for r in icc_all(rows).unwrap() {
        let e = &exp["icc"][r.form.name()];
        let name = r.form.name();
        if abs_icc {
            assert_abs(r.icc, e["ICC"].as_f64().unwrap(), icc_tol, name);
        } else {
            assert_rel(r.icc, e["ICC"].as_f64().unwrap(), icc_tol, name);
        }
        assert_rel(r.f, e["F"].as_f64().unwrap(), f_tol, name);
        assert_eq!(r.df1, e["df1"].as_f64().unwrap(), "{name} df1");
        assert_eq!(r.df2, e["df2"].as_f64().unwrap(), "{name} df2");
        assert_rel(
            r.pval,
            e["pval"].as_f64().unwrap(),
            p_ci,
            &format!("{name} p"),
        );
        assert_rel(
            r.ci95[0],
            e["CI95"][0].as_f64().unwrap(),
            p_ci,
            &format!("{name} CI low"),
        );
        assert_rel(
            r.ci95[1],
            e["CI95"][1].as_f64().unwrap(),
            p_ci,
            &format!("{name} CI high"),
        );
    }
}

#[test]
fn shrout_fleiss_example() {
    let Some(shared) = shared() else { return };
    let exp = read_json(&shared.join("golden/icc-shrout-fleiss/expected.json"));
    let rows = renal_testdata::float_rows(&exp["data_rows_targets_cols_judges"]);
    let ms = mean_squares(&rows).unwrap();
    let ex = &exp["exact_rational"];
    assert_abs(ms.msr, frac(ex["MSR"].as_str().unwrap()), 1e-12, "MSR");
    assert_abs(ms.msc, frac(ex["MSC"].as_str().unwrap()), 1e-12, "MSC");
    assert_abs(ms.mse, frac(ex["MSE"].as_str().unwrap()), 1e-12, "MSE");
    assert_abs(ms.msw, frac(ex["MSW"].as_str().unwrap()), 1e-12, "MSW");
    // The float64 ANOVA (numpy) and the paper's mean squares (Table 2, 2 decimals).
    let fm = &exp["mean_squares"];
    assert_eq!(ms.n_targets as u64, fm["n_targets"].as_u64().unwrap());
    assert_eq!(ms.k_raters as u64, fm["k_raters"].as_u64().unwrap());
    let (n, k) = (ms.n_targets as u64, ms.k_raters as u64);
    assert_eq!(n - 1, fm["df_R"].as_u64().unwrap(), "df between targets");
    assert_eq!(k - 1, fm["df_C"].as_u64().unwrap(), "df between judges");
    assert_eq!(
        (n - 1) * (k - 1),
        fm["df_E"].as_u64().unwrap(),
        "df residual"
    );
    assert_eq!(n * (k - 1), fm["df_W"].as_u64().unwrap(), "df within");
    let published = &exp["published_mean_squares_2dp"];
    for (got, key, paper) in [
        (ms.msr, "MSR", "BMS"),
        (ms.msc, "MSC", "JMS"),
        (ms.mse, "MSE", "EMS"),
        (ms.msw, "MSW", "WMS"),
    ] {
        assert_rel(got, fm[key].as_f64().unwrap(), 1e-12, key);
        assert_eq!(
            (got * 100.0).round() / 100.0,
            published[paper].as_f64().unwrap(),
            "{paper} rounds to the paper"
        );
    }
    for r in icc_all(&rows).unwrap() {
        let name = r.form.name();
        assert_abs(r.icc, frac(ex[name].as_str().unwrap()), 1e-12, name);
        let published = exp["published_2dp"][name].as_f64().unwrap();
        assert_eq!(
            (r.icc * 100.0).round() / 100.0,
            published,
            "{name} rounds to the paper"
        );
    }
    // README: ICC absolute 1e-12, F relative 1e-12, p and CI relative 1e-8.
    let tol = Tol {
        icc: 1e-12,
        abs_icc: true,
        f: 1e-12,
        p_ci: 1e-8,
    };
    check_against_pingouin(&rows, &exp, tol);
}

#[test]
fn kits23_annotator_volumes() {
    let Some(shared) = shared() else { return };
    let exp = read_json(&shared.join("golden/icc-kits23-annotators/expected.json"));
    let rows: Vec<Vec<f64>> = exp["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (1..=3)
                .map(|a| i[format!("volume_ml_a{a}")].as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 20);
    let ms = mean_squares(&rows).unwrap();
    let e = &exp["mean_squares"];
    assert_eq!(ms.n_targets as u64, e["n_targets"].as_u64().unwrap());
    assert_eq!(ms.k_raters as u64, e["k_raters"].as_u64().unwrap());
    for (got, key) in [
        (ms.msr, "MSR"),
        (ms.msc, "MSC"),
        (ms.mse, "MSE"),
        (ms.msw, "MSW"),
    ] {
        assert_rel(got, e[key].as_f64().unwrap(), 1e-9, key);
    }
    // README: ICC relative 1e-9 (F likewise), p and CI relative 1e-6.
    let tol = Tol {
        icc: 1e-9,
        abs_icc: false,
        f: 1e-9,
        p_ci: 1e-6,
    };
    check_against_pingouin(&rows, &exp, tol);
    let icc3 = icc_all(&rows).unwrap()[2];
    assert_rel(
        icc3.icc,
        exp["icc_3_1"].as_f64().unwrap(),
        1e-9,
        "headline ICC(3,1)",
    );
}
