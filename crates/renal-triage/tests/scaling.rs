//! Input scaling per model (issue 13): on a feature table with labels and predefined splits in
//! the `data-K/` JSON layout of published code, the linear head is unchanged by a constant shift
//! of one input column when its inputs are standardized in-fold, and changed by it when it takes
//! them raw (`standardize = false`, the study's code). Self-contained: no shared data needed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::Path;
use std::process::Command;

const EXPERIMENT: &str = r#"
[experiment]
name = "scaling"
seed = 3
outer_folds = 5
inner_folds = 2
bootstrap = 50
tasks = ["malignant_vs_benign", "aggressive_vs_rest"]

[mlp]
hidden = [[]]
epochs = [40]
batch_size = 16

[[model]]
name = "head standardized"
embeddings = "all"
learner = "mlp"
standardize = true

[[model]]
name = "head raw"
embeddings = "all"
learner = "mlp"
standardize = false
"#;

const N: usize = 60;

/// `case_id,f0,f1,f2`: f0 and f2 carry the class, f1 is noise; `shift` is added to f2.
fn features(shift: f64) -> String {
    let mut s = String::from("case_id,f0,f1,f2\n");
    for i in 0..N {
        let c = (i % 3) as f64;
        let noise = ((i * 37 % 17) as f64 - 8.0) / 8.0;
        s.push_str(&format!(
            "p{i:03},{},{},{}\n",
            c + 0.6 * noise,
            ((i * 13 % 11) as f64) / 11.0,
            0.5 * c - 0.4 * noise + shift
        ));
    }
    s
}

/// Five outer folds (case `i` tested in fold `i % 5`), two inner folds each, as
/// `data-K/{train_split,test_split,train_split_I,val_split_I}.json` (`case_id -> label`).
fn data_k(dir: &Path) {
    let map = |ids: &[usize]| {
        let m: serde_json::Map<String, serde_json::Value> = ids
            .iter()
            .map(|&i| (format!("p{i:03}"), serde_json::json!(i % 3)))
            .collect();
        serde_json::Value::Object(m).to_string()
    };
    for k in 0..5 {
        let d = dir.join(format!("data-{k}"));
        std::fs::create_dir_all(&d).unwrap();
        let test: Vec<usize> = (0..N).filter(|i| i % 5 == k).collect();
        let train: Vec<usize> = (0..N).filter(|i| i % 5 != k).collect();
        std::fs::write(d.join("test_split.json"), map(&test)).unwrap();
        std::fs::write(d.join("train_split.json"), map(&train)).unwrap();
        for inner in 0..2 {
            let val: Vec<usize> = train
                .iter()
                .copied()
                .filter(|i| (i / 5) % 2 == inner)
                .collect();
            let itrain: Vec<usize> = train
                .iter()
                .copied()
                .filter(|i| (i / 5) % 2 != inner)
                .collect();
            std::fs::write(d.join(format!("val_split_{inner}.json")), map(&val)).unwrap();
            std::fs::write(d.join(format!("train_split_{inner}.json")), map(&itrain)).unwrap();
        }
    }
}

/// Out-of-fold probabilities of a model: case -> [p0, p1, p2].
fn oof(out: &Path, model: &str) -> Vec<(String, [f64; 3])> {
    let text = std::fs::read_to_string(out.join("models").join(model).join("oof_predictions.csv"))
        .unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_string(),
                [
                    c[4].parse().unwrap(),
                    c[5].parse().unwrap(),
                    c[6].parse().unwrap(),
                ],
            )
        })
        .collect()
}

fn max_diff(a: &[(String, [f64; 3])], b: &[(String, [f64; 3])]) -> f64 {
    assert_eq!(a.len(), N);
    assert_eq!(a.len(), b.len());
    let ids = |v: &[(String, [f64; 3])]| v.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    assert_eq!(ids(a), ids(b), "the same cases in the same order");
    let flat = |v: &[(String, [f64; 3])]| v.iter().flat_map(|r| r.1).collect::<Vec<f64>>();
    renal_testdata::max_abs_diff(&flat(a), &flat(b), "probabilities")
}

fn run(dir: &Path, feats: &str, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["reproduce", "--encoder", "none", "--data"])
        .arg(dir.join(feats))
        .arg("--labels")
        .arg(dir.join("labels.csv"))
        .arg("--splits")
        .arg(dir.join("splits"))
        .arg("--experiment")
        .arg(dir.join("experiment.toml"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_shifted_column_moves_the_raw_linear_head_only() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("features.csv"), features(0.0)).unwrap();
    std::fs::write(dir.join("shifted.csv"), features(1000.0)).unwrap();
    let mut labels = String::from("case_id,label\n");
    for i in 0..N {
        labels.push_str(&format!("p{i:03},{}\n", i % 3));
    }
    std::fs::write(dir.join("labels.csv"), labels).unwrap();
    std::fs::write(dir.join("experiment.toml"), EXPERIMENT).unwrap();
    data_k(&dir.join("splits"));
    let (a, b) = (dir.join("out-a"), dir.join("out-b"));
    run(dir, "features.csv", &a);
    run(dir, "shifted.csv", &b);
    // Standardized in-fold: the shift cancels (up to the rounding of x + 1000 - mean).
    let std_diff = max_diff(&oof(&a, "head_standardized"), &oof(&b, "head_standardized"));
    assert!(std_diff < 1e-9, "standardized head moved by {std_diff}");
    // Raw: a column 1000 away from the others changes the fit.
    let raw_diff = max_diff(&oof(&a, "head_raw"), &oof(&b, "head_raw"));
    assert!(raw_diff > 1e-3, "raw head did not move ({raw_diff})");
    // The splits were used as given: every case predicted in its `data-K` fold.
    let text = std::fs::read_to_string(a.join("models/head_raw/oof_predictions.csv")).unwrap();
    for l in text.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        let i: usize = c[0][1..].parse().unwrap();
        assert_eq!(c[2].parse::<usize>().unwrap(), i % 5, "{l}");
    }
}

#[test]
fn scaling_keys_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let bad = EXPERIMENT.replace(
        "standardize = false",
        "standardize = false\npca_standardize = true",
    );
    std::fs::write(d.path().join("features.csv"), features(0.0)).unwrap();
    std::fs::write(d.path().join("labels.csv"), "case_id,label\np000,0\n").unwrap();
    std::fs::write(d.path().join("experiment.toml"), bad).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["reproduce", "--encoder", "none", "--data"])
        .arg(d.path().join("features.csv"))
        .arg("--labels")
        .arg(d.path().join("labels.csv"))
        .arg("--experiment")
        .arg(d.path().join("experiment.toml"))
        .arg("--out")
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("model `head raw`: `pca_standardize`") && e.contains("pca"),
        "{e}"
    );
}
