//! Acceptance of the learners and the statistics engine on real data: the KiTS23 development
//! cohort with pre-operative clinical features plus the computed tumor size, under seeded 5x5
//! nested cross-validation.
//!
//! Reference values (independent Python implementation on the same cohort, from the issue):
//! random forest 0.853 (aggressive vs rest) and 0.668 (malignant vs benign); logistic regression
//! on log(size) and sex 0.876 and 0.566.

use std::sync::OnceLock;

use renal_imaging::LabelScheme;
use renal_learn::{BinaryTask, LearnerParams, LogisticParams, NestedCv, PipelineParams, Step};
use renal_stats::roc_auc;
use renal_testdata::shared;
use renal_triage::engine::features::{build, FeatureSpec, FeatureTable};

fn table() -> Option<&'static FeatureTable> {
    static T: OnceLock<Option<FeatureTable>> = OnceLock::new();
    T.get_or_init(|| {
        let shared = shared()?;
        let mut cohort = renal_cohort::load_kits23(&shared.join("kits23")).unwrap();
        let meas =
            renal_triage::engine::measure::measure_cohort(&mut cohort, LabelScheme::default());
        let spec = FeatureSpec::all_clinical_and_size(&cohort);
        Some(build(&cohort, &meas, &spec).unwrap())
    })
    .as_ref()
}

fn tasks() -> Vec<BinaryTask> {
    renal_triage::engine::tasks::study_tasks()
}

fn rf_grid(n_trees: usize) -> Vec<PipelineParams> {
    renal_triage::engine::experiment::forest_grid(n_trees, 42, &[Step::MedianImpute])
}

/// Pooled out-of-fold AUC per task.
fn aucs(t: &FeatureTable, y: &[usize], grid: &[PipelineParams], seed: u64) -> Vec<f64> {
    let cv = NestedCv {
        outer_folds: 5,
        inner_folds: 5,
        seed,
        tasks: tasks(),
    };
    let r = cv.run(grid, &t.x, y, 3, None).unwrap();
    assert_eq!(r.oof.len(), y.len(), "every case predicted once");
    tasks()
        .iter()
        .map(|task| {
            let (tt, s): (Vec<bool>, Vec<f64>) = r
                .oof
                .iter()
                .filter(|o| task.included.contains(&y[o.row]))
                .map(|o| (task.positive.contains(&y[o.row]), task.score(&o.proba)))
                .unzip();
            roc_auc(&tt, &s).unwrap()
        })
        .collect()
}

#[test]
fn random_forest_nested_cv_reaches_the_reference_aucs() {
    let Some(t) = table() else { return };
    assert_eq!(t.x.rows, 300);
    assert!(t.x.names.iter().any(|n| n == "tumor_size_mm"));
    let a = aucs(t, &t.y, &rf_grid(500), 20260);
    eprintln!(
        "RF nested CV: malignant vs benign {:.3}, aggressive vs rest {:.3}",
        a[0], a[1]
    );
    assert!(
        (a[1] - 0.853).abs() < 0.04,
        "aggressive vs rest AUC {} far from 0.853",
        a[1]
    );
    assert!(
        (a[0] - 0.668).abs() < 0.08,
        "malignant vs benign AUC {} far from 0.668",
        a[0]
    );
}

#[test]
fn logistic_baseline_on_log_size_and_sex() {
    let Some(t) = table() else { return };
    let cols: Vec<usize> = ["tumor_size_mm", "sex_male"]
        .iter()
        .map(|n| t.x.names.iter().position(|x| x == n).unwrap())
        .collect();
    let mut x = t.x.select_cols(&cols);
    for i in 0..x.rows {
        x.data[i * 2] = x.data[i * 2].ln();
    }
    x.names[0] = "log_size".into();
    let lr = PipelineParams {
        steps: vec![Step::MedianImpute, Step::Standardize],
        learner: LearnerParams::Logistic(LogisticParams::default()),
    };
    let cv = NestedCv {
        outer_folds: 5,
        inner_folds: 5,
        seed: 20260,
        tasks: tasks(),
    };
    let r = cv.run(&[lr], &x, &t.y, 3, None).unwrap();
    let a: Vec<f64> = tasks()
        .iter()
        .map(|task| {
            let (tt, s): (Vec<bool>, Vec<f64>) = r
                .oof
                .iter()
                .map(|o| (task.positive.contains(&t.y[o.row]), task.score(&o.proba)))
                .unzip();
            roc_auc(&tt, &s).unwrap()
        })
        .collect();
    eprintln!(
        "LR(log size, sex): malignant vs benign {:.3}, aggressive vs rest {:.3}",
        a[0], a[1]
    );
    assert!((a[1] - 0.876).abs() < 0.03, "aggressive vs rest {}", a[1]);
    assert!((a[0] - 0.566).abs() < 0.08, "malignant vs benign {}", a[0]);
}

/// Under permuted labels the pooled AUC is a random variable centred on 0.5 (SD about 0.035
/// for aggressive vs rest and 0.06 for malignant vs benign here). The mean over four
/// permutations must be within 0.5 +- 0.1 for both tasks, and no single one beyond +- 0.2.
#[test]
fn permuted_labels_score_chance() {
    let Some(t) = table() else { return };
    let mut sums = [0.0f64; 2];
    for k in 0..4u64 {
        let mut y = t.y.clone();
        renal_stats::Rng::new(99 + k).shuffle(&mut y);
        let a = aucs(t, &y, &rf_grid(100), 7 + k);
        eprintln!("permuted labels {k}: {a:?}");
        for (s, v) in sums.iter_mut().zip(&a) {
            assert!((v - 0.5).abs() < 0.2, "permuted-label AUC {v}");
            *s += v / 4.0;
        }
    }
    for m in sums {
        assert!((m - 0.5).abs() < 0.1, "mean permuted-label AUC {m}");
    }
}
