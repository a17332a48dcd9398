//! ICC against the Shrout & Fleiss example (exact fractions, pingouin) and the KiTS23 annotator
//! volumes (pingouin), `shared/golden/icc-*`.

use renal_stats::{icc_all, mean_squares};
use renal_testdata::{assert_abs, assert_rel, read_json, shared};

fn frac(s: &str) -> f64 {
    let (a, b) = s.split_once('/').unwrap();
    a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap()
}

fn check_against_pingouin(rows: &[Vec<f64>], exp: &serde_json::Value, icc_tol: f64, abs_icc: bool) {
    for r in icc_all(rows).unwrap() {
        let e = &exp["icc"][r.form.name()];
        let name = r.form.name();
        if abs_icc {
            assert_abs(r.icc, e["ICC"].as_f64().unwrap(), icc_tol, name);
        } else {
            assert_rel(r.icc, e["ICC"].as_f64().unwrap(), icc_tol, name);
        }
        assert_rel(r.f, e["F"].as_f64().unwrap(), 1e-9, name);
        assert_eq!(r.df1, e["df1"].as_f64().unwrap(), "{name} df1");
        assert_eq!(r.df2, e["df2"].as_f64().unwrap(), "{name} df2");
        assert_rel(
            r.pval,
            e["pval"].as_f64().unwrap(),
            1e-6,
            &format!("{name} p"),
        );
        assert_rel(
            r.ci95[0],
            e["CI95"][0].as_f64().unwrap(),
            1e-6,
            &format!("{name} CI low"),
        );
        assert_rel(
            r.ci95[1],
            e["CI95"][1].as_f64().unwrap(),
            1e-6,
            &format!("{name} CI high"),
        );
    }
}

#[test]
fn shrout_fleiss_example() {
    let Some(shared) = shared() else { return };
    let exp = read_json(&shared.join("golden/icc-shrout-fleiss/expected.json"));
    let rows: Vec<Vec<f64>> = exp["data_rows_targets_cols_judges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let ms = mean_squares(&rows).unwrap();
    let ex = &exp["exact_rational"];
    assert_abs(ms.msr, frac(ex["MSR"].as_str().unwrap()), 1e-12, "MSR");
    assert_abs(ms.msc, frac(ex["MSC"].as_str().unwrap()), 1e-12, "MSC");
    assert_abs(ms.mse, frac(ex["MSE"].as_str().unwrap()), 1e-12, "MSE");
    assert_abs(ms.msw, frac(ex["MSW"].as_str().unwrap()), 1e-12, "MSW");
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
    check_against_pingouin(&rows, &exp, 1e-12, true);
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
    check_against_pingouin(&rows, &exp, 1e-9, false);
    let icc3 = icc_all(&rows).unwrap()[2];
    assert_rel(
        icc3.icc,
        exp["icc_3_1"].as_f64().unwrap(),
        1e-9,
        "headline ICC(3,1)",
    );
}
