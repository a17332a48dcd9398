//! Pooled 5-fold AUCs and fit time of two gradient-boosting implementations on the same
//! table and folds; prints JSON.

use std::collections::HashSet;
use std::time::Instant;

use perpetual::objective::Objective;
use perpetual::{Matrix as PMatrix, MultiOutputBooster};
use renal_learn::cv::complement;
use renal_learn::{stratified_kfold, Gbm, GbmParams, Matrix};
use renal_triage::engine::features::{build, FeatureSpec, SizeSource};

fn aucs(y: &[usize], proba: &[[f64; 3]]) -> [f64; 2] {
    let mal: (Vec<bool>, Vec<f64>) = y.iter().zip(proba).map(|(&c, p)| (c > 0, p[1] + p[2])).unzip();
    let agg: (Vec<bool>, Vec<f64>) = y.iter().zip(proba).map(|(&c, p)| (c == 2, p[2])).unzip();
    [
        renal_stats::roc_auc(&mal.0, &mal.1).unwrap(),
        renal_stats::roc_auc(&agg.0, &agg.1).unwrap(),
    ]
}

fn perpetual_fold(x: &Matrix, y: &[usize], train: &[usize], test: &[usize], budget: f32) -> Vec<[f64; 3]> {
    let col_major = |rows: &[usize]| -> Vec<f64> {
        (0..x.cols).flat_map(|j| rows.iter().map(move |&i| x.get(i, j))).collect()
    };
    let xtr = col_major(train);
    let onehot: Vec<f64> = (0..3)
        .flat_map(|c| train.iter().map(move |&i| (y[i] == c) as u8 as f64))
        .collect();
    let mut b = MultiOutputBooster::new(
        3, Objective::LogLoss, budget, 256, Some(1), None, None, true, f64::NAN, true, false,
        HashSet::new(), perpetual::booster::config::MissingNodeTreatment::AssignToParent, 0, 0,
        None, None, None, None, None, None, false,
    )
    .unwrap();
    b.fit(
        &PMatrix::new(&xtr, train.len(), x.cols),
        &PMatrix::new(&onehot, train.len(), 3),
        None,
        None,
    )
    .unwrap();
    let xte = col_major(test);
    let p = b.predict_proba(&PMatrix::new(&xte, test.len(), x.cols), false);
    // `MultiOutputBooster::predict_proba`: the softmax of the one-vs-rest log-odds, row-major.
    (0..test.len())
        .map(|r| [p[3 * r], p[3 * r + 1], p[3 * r + 2]])
        .collect()
}

fn main() {
    let data = std::env::args().nth(1).unwrap_or_else(|| "../shared/kits23".into());
    let mut cohort = renal_cohort::load_kits23(std::path::Path::new(&data)).unwrap();
    let meas = renal_triage::engine::measure::measure_cohort(&mut cohort, renal_imaging::LabelScheme::default());
    let spec = FeatureSpec { clinical: vec!["sex_male".into()], size: SizeSource::Mask, extra_prefix: None, shape: true };
    let t = build(&cohort, &meas, &spec).unwrap();
    // One case has sex missing: the median (as the pipelines impute in-fold; here once, both
    // learners see the same table).
    let mut x = t.x.clone();
    for j in 0..x.cols {
        let mut v: Vec<f64> = x.column(j).into_iter().filter(|v| !v.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        let med = v[v.len() / 2];
        for i in 0..x.rows {
            if x.data[i * x.cols + j].is_nan() {
                x.data[i * x.cols + j] = med;
            }
        }
    }
    let y = &t.y;
    let mut out = Vec::new();
    for seed in [20260u64, 1, 2] {
        let folds = stratified_kfold(y, 5, seed).unwrap();
        let mut ours = vec![[0.0; 3]; y.len()];
        let mut theirs = vec![vec![[0.0; 3]; y.len()]; 2];
        let (mut t_ours, mut t_theirs) = (0.0, [0.0; 2]);
        for test in &folds {
            let train = complement(y.len(), test);
            let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
            let t0 = Instant::now();
            let p = GbmParams { n_estimators: 100, learning_rate: 0.05, max_depth: 2, min_samples_leaf: 5, subsample: 0.8, seed };
            let m = Gbm::fit(&p, &x.select_rows(&train), &ytr, 3).unwrap();
            let pr = m.predict_proba(&x.select_rows(test)).unwrap();
            t_ours += t0.elapsed().as_secs_f64();
            for (k, &i) in test.iter().enumerate() {
                ours[i] = [pr.get(k, 0), pr.get(k, 1), pr.get(k, 2)];
            }
            for (b, budget) in [0.5f32, 1.0].into_iter().enumerate() {
                let t0 = Instant::now();
                let pp = perpetual_fold(&x, y, &train, test, budget);
                t_theirs[b] += t0.elapsed().as_secs_f64();
                for (k, &i) in test.iter().enumerate() {
                    theirs[b][i] = pp[k];
                }
            }
        }
        out.push(format!(
            "{{\"seed\": {seed}, \"renal_learn_gbm\": {{\"auc_malignant\": {:.4}, \"auc_aggressive\": {:.4}, \"fit_predict_s\": {:.3}}}, \"perpetual_budget_0.5\": {{\"auc_malignant\": {:.4}, \"auc_aggressive\": {:.4}, \"fit_predict_s\": {:.3}}}, \"perpetual_budget_1.0\": {{\"auc_malignant\": {:.4}, \"auc_aggressive\": {:.4}, \"fit_predict_s\": {:.3}}}}}",
            aucs(y, &ours)[0], aucs(y, &ours)[1], t_ours,
            aucs(y, &theirs[0])[0], aucs(y, &theirs[0])[1], t_theirs[0],
            aucs(y, &theirs[1])[0], aucs(y, &theirs[1])[1], t_theirs[1],
        ));
    }
    println!("[\n{}\n]", out.join(",\n"));
}
