//! The learners of `experiments/beyond.toml` (boosted trees, an in-fold calibrated pipeline,
//! a soft vote), compiled from the experiment file as `reproduce` compiles them, score chance
//! on the KiTS23 development cohort when the labels are permuted: nothing they fit can see the
//! test rows' labels.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::sync::OnceLock;

use renal_learn::{NestedCv, PipelineParams};
use renal_stats::roc_auc;
use renal_testdata::shared;
use renal_triage::engine::experiment::Experiment;
use renal_triage::engine::features::{build, FeatureSpec, FeatureTable, SizeSource};

fn table() -> Option<&'static FeatureTable> {
    static T: OnceLock<Option<FeatureTable>> = OnceLock::new();
    T.get_or_init(|| {
        let shared = shared()?;
        let renal_triage::engine::prepare::Prepared { cohort, meas, .. } =
            renal_triage::engine::prepare::load_and_prepare(
                &shared.join("kits23"),
                None,
                &Default::default(),
            )
            .unwrap();
        let spec = FeatureSpec {
            clinical: vec!["sex_male".into()],
            size: SizeSource::Mask,
            extra_prefix: None,
            shape: true,
        };
        Some(build(&cohort, &meas, &spec).unwrap())
    })
    .as_ref()
}

/// The beyond experiment with smaller forests (the permutation check, not the result).
fn experiment() -> Experiment {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/beyond.toml");
    let mut e = Experiment::load(&path).unwrap();
    e.rf.trees = 100;
    e
}

fn candidates(exp: &Experiment, name: &str) -> Vec<PipelineParams> {
    let spec = exp.models.iter().find(|m| m.name == name).unwrap();
    exp.plan(spec, &["sex_male".to_string()])
        .unwrap()
        .candidates
}

/// Mean pooled AUC per task over `perms` label permutations.
fn permuted_aucs(grid: &[PipelineParams], perms: u64) -> Vec<f64> {
    let t = table().unwrap();
    let exp = experiment();
    let mut sums = vec![0.0; 2];
    for k in 0..perms {
        let mut y = t.y.clone();
        renal_stats::Rng::new(1234 + k).shuffle(&mut y);
        let cv = NestedCv {
            seed: 11 + k,
            ..exp.nested_cv()
        };
        let aucs = pooled_aucs(&cv, grid, &t.x, &y);
        for ((s, task), auc) in sums.iter_mut().zip(&cv.tasks).zip(aucs) {
            eprintln!("permutation {k} {}: AUC {auc:.3}", task.name);
            assert!(
                (auc - 0.5).abs() < 0.2,
                "{} permuted-label AUC {auc}",
                task.name
            );
            *s += auc / perms as f64;
        }
    }
    sums
}

/// Pooled out-of-fold AUC per task of one nested CV with labels `y`.
fn pooled_aucs(
    cv: &NestedCv,
    grid: &[PipelineParams],
    x: &renal_learn::Matrix,
    y: &[usize],
) -> Vec<f64> {
    let r = cv.run(grid, x, y, 3, None).unwrap();
    cv.tasks
        .iter()
        .map(|task| {
            let (tt, sc): (Vec<bool>, Vec<f64>) = r
                .oof
                .iter()
                .filter(|o| task.included.contains(&y[o.row]))
                .map(|o| (task.positive.contains(&y[o.row]), task.score(&o.proba)))
                .unzip();
            roc_auc(&tt, &sc).unwrap()
        })
        .collect()
}

/// Pooled out-of-fold AUC per task with the real labels.
fn real_aucs(grid: &[PipelineParams]) -> Vec<f64> {
    let t = table().unwrap();
    pooled_aucs(&experiment().nested_cv(), grid, &t.x, &t.y)
}

/// Chance on permuted labels, and the control that makes it mean something: the same
/// pipelines on the same table with the real labels do learn (aggressive vs rest, where size
/// and shape are strong, well above chance), so chance is not all they can score.
fn check(name: &str, perms: u64) {
    if table().is_none() {
        return;
    }
    let exp = experiment();
    let grid = candidates(&exp, name);
    let means = permuted_aucs(&grid, perms);
    eprintln!("{name}: mean permuted-label AUC {means:?}");
    for m in means {
        assert!((m - 0.5).abs() < 0.1, "{name}: mean permuted-label AUC {m}");
    }
    let real = real_aucs(&grid);
    eprintln!("{name}: real-label AUC {real:?}");
    let aggressive = experiment()
        .nested_cv()
        .tasks
        .iter()
        .position(|t| t.name == "aggressive_vs_rest")
        .unwrap();
    assert!(
        real[aggressive] > 0.75,
        "{name}: real-label AUC {real:?}: the control learns nothing"
    );
}

#[test]
fn boosted_trees_score_chance_on_permuted_labels() {
    check("B2 size+shape GBM", 3);
}

#[test]
fn a_calibrated_pipeline_scores_chance_on_permuted_labels() {
    check("B6 size+shape GBM isotonic", 3);
}

#[test]
fn the_soft_vote_scores_chance_on_permuted_labels() {
    check("E1 vote RF+GBM+LR", 2);
}

#[test]
fn with_the_real_labels_they_learn() {
    let Some(t) = table() else { return };
    let exp = experiment();
    let cv = exp.nested_cv();
    let r = cv
        .run(&candidates(&exp, "B2 size+shape GBM"), &t.x, &t.y, 3, None)
        .unwrap();
    let task = &cv.tasks[1];
    let (tt, sc): (Vec<bool>, Vec<f64>) = r
        .oof
        .iter()
        .filter(|o| task.included.contains(&t.y[o.row]))
        .map(|o| (task.positive.contains(&t.y[o.row]), task.score(&o.proba)))
        .unzip();
    let auc = roc_auc(&tt, &sc).unwrap();
    assert!(auc > 0.75, "{}: {auc}", task.name);
}

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_renal-triage"))
}

/// Bad input of the new keys, on a self-contained features-only cohort: a `shape` model is
/// skipped with the key named (no masks), `calibrate_folds = 1` and a bad ensemble are errors
/// naming the model and the key.
#[test]
fn new_keys_with_bad_input_name_the_model_and_key() {
    let d = tempfile::tempdir().unwrap();
    let mut feats = String::from("case_id,emb_0,emb_1\n");
    let mut labels = String::from("case_id,label\n");
    for i in 0..45 {
        let c = i % 3;
        feats.push_str(&format!(
            "p{i},{},{}\n",
            c as f64 + (i % 7) as f64 / 7.0,
            (i % 5) as f64
        ));
        labels.push_str(&format!("p{i},{c}\n"));
    }
    std::fs::write(d.path().join("f.csv"), feats).unwrap();
    std::fs::write(d.path().join("l.csv"), labels).unwrap();
    let head = "[experiment]\nname = \"x\"\nouter_folds = 3\ninner_folds = 2\nbootstrap = 20\n[gbm]\nn_estimators = [10]\nlearning_rate = [0.1]\nmax_depth = [2]\n";
    let run = |models: &str| {
        let exp = d.path().join("e.toml");
        std::fs::write(&exp, format!("{head}{models}")).unwrap();
        bin()
            .args(["reproduce", "--encoder", "none", "--data"])
            .arg(d.path().join("f.csv"))
            .arg("--labels")
            .arg(d.path().join("l.csv"))
            .arg("--experiment")
            .arg(&exp)
            .arg("--out")
            .arg(d.path().join("out"))
            .output()
            .unwrap()
    };
    let o = run("[[model]]\nname = \"img gbm\"\nembeddings = \"all\"\nlearner = \"gbm\"\ncalibrate = \"sigmoid\"\n[[model]]\nname = \"shape gbm\"\nshape = true\nlearner = \"gbm\"\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let skipped = std::fs::read_to_string(d.path().join("out/tables/skipped_models.csv")).unwrap();
    assert!(
        skipped.contains("shape gbm") && skipped.contains("`shape` needs masks"),
        "{skipped}"
    );
    assert!(d.path().join("out/models/img_gbm/metrics.json").is_file());
    assert!(d
        .path()
        .join("out/tables/decision_curve_aggressive_vs_rest.csv")
        .is_file());

    for (models, needle) in [
        (
            "[[model]]\nname = \"m\"\nembeddings = \"all\"\nlearner = \"gbm\"\ncalibrate = \"isotonic\"\ncalibrate_folds = 1\n",
            "model `m`: `calibrate_folds` = 1",
        ),
        (
            "[[model]]\nname = \"m\"\nembeddings = \"all\"\nlearner = \"gbm\"\ncalibrate = \"platt\"\n",
            "platt",
        ),
        (
            "[[model]]\nname = \"a\"\nembeddings = \"all\"\nlearner = \"gbm\"\n[[model]]\nname = \"v\"\nlearner = \"ensemble\"\nmembers = [\"a\"]\n",
            "model `v`: `members` must name at least 2 models",
        ),
        (
            "[[model]]\nname = \"a\"\nembeddings = \"all\"\nlearner = \"gbm\"\n[[model]]\nname = \"v\"\nlearner = \"ensemble\"\nmembers = [\"a\", \"b\"]\n",
            "no model named `b`",
        ),
    ] {
        let o = run(models);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

/// A bundle of the boosted size+shape model: the shape inputs are computed from the mask by
/// `predict` as `cohort` measured them, and the bundle answers with the probabilities of the
/// model refit on the whole cohort.
#[test]
fn a_boosted_shape_bundle_predicts_from_a_mask() {
    let Some(shared) = shared() else { return };
    let d = tempfile::tempdir().unwrap();
    let exp =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/beyond.toml");
    let o = bin()
        .args(["train", "--model", "B6 size+shape GBM isotonic", "--data"])
        .arg(shared.join("kits23"))
        .arg("--experiment")
        .arg(&exp)
        .arg("--out")
        .arg(d.path().join("b"))
        .arg("--work")
        .arg(d.path().join("work"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("b/bundle.json")).unwrap())
            .unwrap();
    let kinds: Vec<&str> = bundle["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "shape").count(),
        9,
        "{kinds:?}"
    );
    let o = bin()
        .args(["predict", "--model"])
        .arg(d.path().join("b"))
        .arg("--mask")
        .arg(shared.join("kits23/cases/case_00003/segmentation.nii.gz"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sum = ["p_benign", "p_indolent", "p_aggressive"]
        .iter()
        .map(|k| p[k].as_f64().unwrap())
        .sum::<f64>();
    assert!((sum - 1.0).abs() < 1e-9, "{p}");
    assert!(p["imputed"].as_array().unwrap().is_empty(), "{p}");
    // The same probabilities, to the bit, as the refit model gave this case in the process
    // that fitted it (`train --work`: fitted.csv).
    let fitted = std::fs::read_to_string(d.path().join("work/fitted.csv")).unwrap();
    let row: Vec<f64> = fitted
        .lines()
        .find_map(|l| l.strip_prefix("case_00003,"))
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for (k, want) in ["p_benign", "p_indolent", "p_aggressive"].iter().zip(&row) {
        assert_eq!(p[k].as_f64().unwrap(), *want, "{k}: {p}");
    }
    // Without a mask the shape cannot be measured: a clear error naming the mask.
    let o = bin()
        .args(["predict", "--model"])
        .arg(d.path().join("b"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("mask"));
}
