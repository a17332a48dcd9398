//! Folds, binary tasks and the settings of a nested cross-validation, with no dependency on
//! the pipelines (so that a pipeline step, such as calibration or a vote, can make folds of
//! its own training rows); running the nested CV of pipelines is [`crate::cv`].

use renal_stats::{roc_auc, Rng};

use crate::error::{LearnError, Result};
use crate::estimator::{Fit, PredictProba};
use crate::matrix::Matrix;

/// A binary question on the class probabilities: positive classes, and the classes included
/// (cases of other classes are left out of that task). Score = sum of the positive classes'
/// probabilities, clamped to [0, 1].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BinaryTask {
    pub name: String,
    pub positive: Vec<usize>,
    pub included: Vec<usize>,
}

impl BinaryTask {
    pub fn score(&self, proba: &[f64]) -> f64 {
        // The sum of probabilities can exceed 1 by an ulp (e.g. 0.7 + 0.3000000000000001).
        self.positive
            .iter()
            .map(|&c| proba[c])
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    /// (targets, scores) for the rows whose class is included.
    pub fn pairs(&self, y: &[usize], proba: &Matrix) -> (Vec<bool>, Vec<f64>) {
        let mut t = Vec::new();
        let mut s = Vec::new();
        for (i, &c) in y.iter().enumerate() {
            if self.included.contains(&c) {
                t.push(self.positive.contains(&c));
                s.push(self.score(proba.row(i)));
            }
        }
        (t, s)
    }
}

/// Seeded stratified K-fold: returns the test rows of each fold (sorted). Each class is
/// shuffled and dealt round-robin, continuing across classes, so folds differ in size by at
/// most one and keep the class ratios.
pub fn stratified_kfold(y: &[usize], k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k < 2 {
        return Err(LearnError::Param {
            name: "folds",
            detail: format!("{k} < 2"),
        });
    }
    if y.is_empty() {
        return Err(LearnError::Empty);
    }
    let n_classes = y.iter().max().map(|m| m + 1).unwrap_or(0);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        if idx.is_empty() {
            continue;
        }
        if idx.len() < k {
            return Err(LearnError::TooFewForFolds {
                class: c,
                count: idx.len(),
                folds: k,
            });
        }
        Rng::derive(seed, c as u64).shuffle(&mut idx);
        for i in idx {
            folds[next % k].push(i);
            next += 1;
        }
    }
    folds.iter_mut().for_each(|f| f.sort_unstable());
    Ok(folds)
}

/// Train rows = all rows not in `test`.
pub fn complement(n: usize, test: &[usize]) -> Vec<usize> {
    let mut mark = vec![false; n];
    test.iter().for_each(|&i| mark[i] = true);
    (0..n).filter(|&i| !mark[i]).collect()
}

/// Predefined nested folds, as row indices (from a split file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldPlan {
    pub outer: Vec<OuterPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuterPlan {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
    /// Inner (train, validation) pairs, as rows of the full matrix; empty = make our own.
    pub inner: Vec<(Vec<usize>, Vec<usize>)>,
}

/// Settings of a nested CV.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NestedCv {
    pub outer_folds: usize,
    pub inner_folds: usize,
    pub seed: u64,
    pub tasks: Vec<BinaryTask>,
    /// Per task (by position), a threshold rule besides Youden's, learned on the inner folds
    /// exactly as Youden's is (`None` or absent: none).
    #[serde(default)]
    pub operating: Vec<Option<renal_stats::ThresholdRule>>,
}

impl NestedCv {
    /// Mean over the tasks of the AUC of `proba` (rows `rows` of `y`); −inf when no task can
    /// be scored.
    pub(crate) fn score(&self, y: &[usize], rows: &[usize], proba: &Matrix) -> f64 {
        let ys: Vec<usize> = rows.iter().map(|&i| y[i]).collect();
        let aucs: Vec<f64> = self
            .tasks
            .iter()
            .filter_map(|t| {
                let (tt, s) = t.pairs(&ys, proba);
                roc_auc(&tt, &s).ok()
            })
            .collect();
        if aucs.is_empty() {
            f64::NEG_INFINITY
        } else {
            aucs.iter().sum::<f64>() / aucs.len() as f64
        }
    }

    /// Tunes by `inner_folds`-fold CV on all rows (mean task AUC of the pooled validation
    /// predictions, first best on ties) and refits the chosen candidate on all rows; any
    /// estimator (a pipeline's step uses it on its own training rows).
    pub fn tune_generic<P: Fit>(
        &self,
        candidates: &[P],
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
    ) -> Result<(usize, P::Fitted)> {
        if candidates.is_empty() {
            return Err(LearnError::Param {
                name: "candidates",
                detail: "empty grid".into(),
            });
        }
        let folds = stratified_kfold(y, self.inner_folds, self.seed)?;
        let rows: Vec<usize> = folds.iter().flatten().copied().collect();
        let mut best = (0, f64::NEG_INFINITY);
        for (c, cand) in candidates.iter().enumerate() {
            let mut data = Vec::with_capacity(rows.len() * n_classes);
            for test in &folds {
                let train = complement(y.len(), test);
                let yt: Vec<usize> = train.iter().map(|&i| y[i]).collect();
                let m = cand.fit(&x.select_rows(&train), &yt, n_classes)?;
                data.extend_from_slice(&m.predict_proba(&x.select_rows(test))?.data);
            }
            let pooled = Matrix::probabilities(rows.len(), n_classes, data);
            let s = self.score(y, &rows, &pooled);
            if s > best.1 {
                best = (c, s);
            }
        }
        Ok((best.0, candidates[best.0].fit(x, y, n_classes)?))
    }
}
