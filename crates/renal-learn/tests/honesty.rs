//! Honesty of the learners: fitting twice gives the same model; the forest is the same on 1 or 2
//! threads; transforms never see test rows; bad input is a typed error, never a panic or NaN.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_learn::cv::OuterRecord;
use renal_learn::*;
use renal_stats::Rng;

/// 3 classes, 6 features: the class shifts features 0 and 1; the rest is noise; some NaN.
fn data(n: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let c = i % 3;
        let mut r: Vec<f64> = (0..6).map(|_| rng.f64() * 2.0 - 1.0).collect();
        r[0] += c as f64;
        r[1] -= 0.5 * c as f64;
        if i % 17 == 5 {
            r[3] = f64::NAN;
        }
        rows.push(r);
        y.push(c);
    }
    (Matrix::from_rows(&rows, None).unwrap(), y)
}

fn pipelines() -> Vec<PipelineParams> {
    let imp = Step::MedianImpute;
    vec![
        PipelineParams {
            calibrate: None,
            steps: vec![imp.clone()],
            learner: LearnerParams::Forest(ForestParams::default().n_trees(50).seed(3)),
        },
        PipelineParams {
            calibrate: None,
            steps: vec![
                imp.clone(),
                Step::Standardize,
                Step::Pca {
                    columns: Columns::All,
                    components: Components::Count(3),
                },
            ],
            learner: LearnerParams::Mlp(MlpParams {
                hidden: vec![8],
                epochs: 20,
                ..Default::default()
            }),
        },
        PipelineParams {
            calibrate: None,
            steps: vec![
                imp,
                Step::MinMax,
                Step::SelectTopK {
                    columns: Columns::All,
                    k: 2,
                    forest: ForestParams::default().n_trees(30),
                },
            ],
            learner: LearnerParams::Logistic(LogisticParams::default()),
        },
    ]
}

#[test]
fn fitting_twice_gives_identical_models() {
    let (x, y) = data(90, 1);
    for p in pipelines() {
        let a = p.fit(&x, &y, 3).unwrap();
        let b = p.fit(&x, &y, 3).unwrap();
        assert_eq!(a, b, "{:?}", p.learner);
    }
}

/// A grid fit together (shared steps, one sort for the forests) gives the pipelines fitted one
/// by one. (Two or more logistic candidates on the same steps are the exception by design: they
/// walk the C path from one another's solutions, each to its own optimum within the stopping
/// rule, not to the same last digits; `tests/sklearn_logistic_real.rs` checks both ways.)
#[test]
fn a_grid_fit_together_equals_its_candidates_fit_alone() {
    let (x, y) = data(90, 4);
    let imp = vec![Step::MedianImpute];
    let forest = |mf, leaf| {
        LearnerParams::Forest(
            ForestParams::default()
                .n_trees(20)
                .max_features(mf)
                .min_samples_leaf(leaf)
                .seed(5),
        )
    };
    let mut grid = vec![
        PipelineParams {
            calibrate: None,
            steps: imp.clone(),
            learner: forest(MaxFeatures::Sqrt, 1),
        },
        PipelineParams {
            calibrate: None,
            steps: vec![Step::MedianImpute, Step::Standardize],
            learner: forest(MaxFeatures::Sqrt, 1),
        },
        PipelineParams {
            calibrate: None,
            steps: imp.clone(),
            learner: LearnerParams::Logistic(LogisticParams::default()),
        },
        PipelineParams {
            calibrate: None,
            steps: imp.clone(),
            learner: forest(MaxFeatures::Fraction(0.5), 3),
        },
    ];
    grid.extend(pipelines());
    let together = fit_grid(&grid, &x, &y, 3).unwrap();
    assert_eq!(together.len(), grid.len());
    for (p, t) in grid.iter().zip(&together) {
        assert_eq!(&p.fit(&x, &y, 3).unwrap(), t, "{p:?}");
    }
    // A candidate that cannot be fit fails the grid with its error.
    grid.push(PipelineParams {
        calibrate: None,
        steps: imp,
        learner: LearnerParams::Forest(ForestParams::default().n_trees(0)),
    });
    assert!(matches!(
        fit_grid(&grid, &x, &y, 3),
        Err(LearnError::Param {
            name: "n_trees",
            ..
        })
    ));
}

#[test]
fn forest_is_identical_on_one_or_two_threads() {
    let (x, y) = data(120, 2);
    let x = Step::MedianImpute
        .fit(&x, &y, 3)
        .unwrap()
        .transform(&x)
        .unwrap();
    let p = ForestParams::default().n_trees(64).seed(11);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| RandomForest::fit(&p, &x, &y, 3).unwrap());
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| RandomForest::fit(&p, &x, &y, 3).unwrap());
    assert_eq!(one, two);
    let pr = one.predict_proba(&x).unwrap();
    for i in 0..pr.rows {
        assert!((pr.row(i).iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert!((one.feature_importances().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // The informative features dominate the importances.
    let imp = one.feature_importances();
    assert!(imp[0] > imp[2] && imp[0] > imp[4], "{imp:?}");
}

/// Outer fold `k`'s record (every candidate's inner score, the choice, the thresholds) and its
/// out-of-fold predictions.
type FoldView = (OuterRecord, Vec<(usize, Vec<f64>)>);

fn fold_view(r: &NestedResult, k: usize) -> FoldView {
    let oof = r
        .oof
        .iter()
        .filter(|o| o.fold == k)
        .map(|o| (o.row, o.proba.clone()))
        .collect();
    (r.outer[k].clone(), oof)
}

/// Three given outer folds of 90 rows, each holding all three classes (rows cycle through the
/// classes), and the plan that uses them exactly.
fn three_given_folds() -> (Vec<Vec<usize>>, FoldPlan) {
    let folds: Vec<Vec<usize>> = (0..3)
        .map(|o| (0..90).filter(|i| (i / 3) % 3 == o).collect())
        .collect();
    let plan = FoldPlan {
        outer: folds
            .iter()
            .map(|test| OuterPlan {
                train: renal_learn::cv::complement(90, test),
                test: test.clone(),
                inner: vec![],
            })
            .collect(),
    };
    (folds, plan)
}

/// Rows `rows` of `x` with every feature set to 1e12.
fn poison(x: &Matrix, rows: &[usize]) -> Matrix {
    let mut p = x.clone();
    for &i in rows {
        for j in 0..p.cols {
            p.data[i * p.cols + j] = 1e12;
        }
    }
    p
}

/// The features of an outer test fold never reach the fit that predicts it (no imputer,
/// scaler, PCA, selector or threshold sees them): poisoning one test fold's rows with huge
/// values leaves that fold's inner search and thresholds unchanged, bit for bit, and moves its
/// own predictions (the poison does reach the run). Poisoning the fold's training rows
/// instead moves its inner search (the check can fail).
#[test]
fn transforms_never_see_test_rows() {
    let (x, y) = data(90, 3);
    let cv = nested_3x3(7);
    let (folds, plan) = three_given_folds();
    let grid = pipelines();
    let base = cv.run(&grid, &x, &y, 3, Some(&plan)).unwrap();
    for (k, test) in folds.iter().enumerate() {
        let r = cv
            .run(&grid, &poison(&x, test), &y, 3, Some(&plan))
            .unwrap();
        let (clean, dirty) = (fold_view(&base, k), fold_view(&r, k));
        assert_eq!(
            dirty.0, clean.0,
            "fold {k}: the inner search saw its test rows"
        );
        assert_eq!(clean.1.len(), test.len());
        assert_ne!(
            dirty.1, clean.1,
            "fold {k}: the poison never reached the run"
        );
        let r = cv
            .run(&grid, &poison(&x, &plan.outer[k].train), &y, 3, Some(&plan))
            .unwrap();
        assert_ne!(fold_view(&r, k).0, clean.0, "fold {k}: insensitive check");
    }
}

/// 3 x 3 nested CV of one task (class 2 against the rest).
fn nested_3x3(seed: u64) -> NestedCv {
    NestedCv {
        outer_folds: 3,
        inner_folds: 3,
        seed,
        tasks: vec![BinaryTask {
            name: "c2".into(),
            positive: vec![2],
            included: vec![0, 1, 2],
        }],
        operating: Vec::new(),
    }
}

#[test]
fn nested_cv_uses_given_folds_exactly_and_is_thread_independent() {
    let (x, y) = data(60, 4);
    let cv = nested_3x3(5);
    let given = FoldPlan {
        outer: (0..3)
            .map(|o| {
                let test: Vec<usize> = (0..60).filter(|i| (i / 3) % 3 == o).collect();
                OuterPlan {
                    train: renal_learn::cv::complement(60, &test),
                    test,
                    inner: vec![],
                }
            })
            .collect(),
    };
    let grid = &pipelines()[..1];
    let r1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| cv.run(grid, &x, &y, 3, Some(&given)).unwrap());
    let r2 = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| cv.run(grid, &x, &y, 3, Some(&given)).unwrap());
    assert_eq!(r1, r2);
    for o in &r1.oof {
        assert_eq!(
            o.fold,
            (o.row / 3) % 3,
            "row {} predicted in the given fold",
            o.row
        );
    }
    assert!(r1.thresholds[0].is_some());
}

/// The labels of an outer test fold never reach the fit that predicts it: with every other
/// label the same, scrambling one test fold's labels leaves that fold's inner search (every
/// candidate's score, the choice) and its out-of-fold probabilities unchanged, bit for bit.
/// Scrambling the fold's training labels instead must change them (the check can fail).
#[test]
fn an_outer_test_folds_labels_never_reach_its_fit() {
    let (x, y) = data(90, 6);
    let cv = nested_3x3(11);
    let (folds, plan) = three_given_folds();
    let grid = pipelines();
    let base = cv.run(&grid, &x, &y, 3, Some(&plan)).unwrap();
    let oof_of = |r: &renal_learn::NestedResult, k: usize| -> Vec<(usize, Vec<f64>)> {
        r.oof
            .iter()
            .filter(|o| o.fold == k)
            .map(|o| (o.row, o.proba.clone()))
            .collect()
    };
    for (k, test) in folds.iter().enumerate() {
        let mut scrambled = y.clone();
        for &i in test {
            scrambled[i] = (y[i] + 1) % 3;
        }
        let r = cv.run(&grid, &x, &scrambled, 3, Some(&plan)).unwrap();
        assert_eq!(r.outer[k], base.outer[k], "fold {k}: inner search moved");
        assert_eq!(
            oof_of(&r, k),
            oof_of(&base, k),
            "fold {k}: predictions moved"
        );
        assert_eq!(oof_of(&base, k).len(), test.len());
        // The same scrambling on the fold's training rows does move its predictions.
        let mut train_scrambled = y.clone();
        for &i in &plan.outer[k].train {
            train_scrambled[i] = (y[i] + 1) % 3;
        }
        let r = cv.run(&grid, &x, &train_scrambled, 3, Some(&plan)).unwrap();
        assert_ne!(
            oof_of(&r, k),
            oof_of(&base, k),
            "fold {k}: insensitive check"
        );
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let (x, y) = data(30, 5);
    let f = ForestParams::default().n_trees(5);
    // NaN features reach a learner without imputation.
    let e = RandomForest::fit(&f, &x, &y, 3).unwrap_err();
    assert!(matches!(e, LearnError::NonFinite { column: 3, .. }), "{e}");
    // Infinite value.
    let mut xi = Step::MedianImpute
        .fit(&x, &y, 3)
        .unwrap()
        .transform(&x)
        .unwrap();
    xi.data[7] = f64::INFINITY;
    assert!(matches!(
        Logistic::fit(&LogisticParams::default(), &xi, &y, 3),
        Err(LearnError::NonFinite { .. })
    ));
    // A single class.
    let xi = Step::MedianImpute
        .fit(&x, &y, 3)
        .unwrap()
        .transform(&x)
        .unwrap();
    assert!(matches!(
        RandomForest::fit(&f, &xi, &[1; 30], 3),
        Err(LearnError::SingleClass { .. })
    ));
    // Zero rows.
    let empty = Matrix::new(0, 6, vec![], (0..6).map(|j| format!("x{j}")).collect());
    assert!(matches!(
        RandomForest::fit(&f, &empty, &[], 3),
        Err(LearnError::Empty)
    ));
    // Labels of a different length.
    assert!(matches!(
        RandomForest::fit(&f, &xi, &y[..10], 3),
        Err(LearnError::LengthMismatch { .. })
    ));
    // Fewer cases of a class than folds.
    let mut yy = vec![0usize; 20];
    yy[0] = 1;
    yy[1] = 1;
    assert!(matches!(
        stratified_kfold(&yy, 5, 0),
        Err(LearnError::TooFewForFolds {
            class: 1,
            count: 2,
            folds: 5
        })
    ));
    // A constant column.
    let mut xc = xi.clone();
    for i in 0..xc.rows {
        xc.data[i * xc.cols + 2] = 1.0;
    }
    assert!(matches!(
        check_no_constant(&xc),
        Err(LearnError::Constant { column: 2, .. })
    ));
    // Predictions and labels of different lengths: the statistics refuse, no NaN AUC.
    assert!(renal_stats::roc_auc(&[true, false, true], &[0.1, 0.2]).is_err());
    // An inner fold holding a single class of a task cannot produce a threshold: skipped, not NaN.
    let (x2, mut y2) = data(30, 6);
    for v in y2.iter_mut() {
        if *v == 2 {
            *v = 1;
        }
    }
    let tasks = vec![BinaryTask {
        name: "c2".into(),
        positive: vec![2],
        included: vec![0, 1, 2],
    }];
    let cv = NestedCv {
        outer_folds: 3,
        inner_folds: 3,
        seed: 1,
        tasks,
        operating: Vec::new(),
    };
    let r = cv.run(&pipelines()[..1], &x2, &y2, 3, None).unwrap();
    assert_eq!(r.thresholds, vec![None]);
}
