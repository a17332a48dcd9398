//! Stratified K-fold and nested cross-validation.
//!
//! Nested CV: for each outer fold, an inner K-fold on the outer training rows scores every
//! candidate pipeline (mean over the binary tasks of the AUC of the pooled inner-validation
//! predictions); the best (first on ties) is refit on all outer training rows and predicts the
//! outer test rows. The inner folds of the chosen candidate also give each task's Youden
//! threshold; the mean over all inner folds of all outer folds is the global threshold (the
//! study's rule). Outer-test predictions are pooled and scored once by the caller. Every fit
//! starts from the params, so no state leaks between folds; seeds derive from the base seed and
//! the fold indices, so results do not depend on the thread count.

use rayon::prelude::*;
use renal_stats::youden;

use crate::error::{LearnError, Result};
pub use crate::folds::{complement, stratified_kfold, BinaryTask, FoldPlan, NestedCv, OuterPlan};
use crate::matrix::Matrix;
use crate::pipeline::{fit_grid, Pipeline, PipelineParams};

/// One out-of-fold prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OofRow {
    pub row: usize,
    pub fold: usize,
    pub proba: Vec<f64>,
}

/// What the inner search chose in one outer fold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OuterRecord {
    pub fold: usize,
    pub chosen: usize,
    /// Inner score of every candidate.
    pub inner_scores: Vec<f64>,
    /// Youden thresholds of the chosen candidate, per task, one per inner fold (None when the
    /// inner fold lacked a class for that task).
    pub inner_thresholds: Vec<Vec<Option<f64>>>,
    /// The operating-point thresholds of the chosen candidate, per task and inner fold (empty
    /// for a task without an operating rule).
    pub inner_operating: Vec<Vec<Option<f64>>>,
}

/// Result of a nested CV.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NestedResult {
    /// Out-of-fold predictions, sorted by row.
    pub oof: Vec<OofRow>,
    pub outer: Vec<OuterRecord>,
    /// Global threshold per task: the mean of all inner-fold Youden thresholds.
    pub thresholds: Vec<Option<f64>>,
    /// Operating-point threshold per task (the mean over all inner folds, as the Youden
    /// threshold); None for a task without a rule or where no inner fold could give one.
    pub operating: Vec<Option<f64>>,
    /// Forest importances of each outer refit, by learner input name (forest learners only).
    pub importances: Vec<Vec<(String, f64)>>,
}

fn inner_plan(
    y: &[usize],
    train: &[usize],
    k: usize,
    seed: u64,
) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    let ys: Vec<usize> = train.iter().map(|&i| y[i]).collect();
    let folds = stratified_kfold(&ys, k, seed)?;
    Ok(folds
        .iter()
        .map(|test| {
            let tr = complement(train.len(), test);
            (
                tr.iter().map(|&i| train[i]).collect(),
                test.iter().map(|&i| train[i]).collect(),
            )
        })
        .collect())
}

/// Fits `params` on `train` rows of `x` and predicts `rows`.
pub fn fit_predict(
    params: &PipelineParams,
    x: &Matrix,
    y: &[usize],
    n_classes: usize,
    train: &[usize],
    rows: &[usize],
) -> Result<(Pipeline, Matrix)> {
    let xt = x.select_rows(train);
    let yt: Vec<usize> = train.iter().map(|&i| y[i]).collect();
    let model = params.fit(&xt, &yt, n_classes)?;
    let p = model.predict_proba(&x.select_rows(rows))?;
    Ok((model, p))
}

/// Result of tuning on a whole cohort (for external validation): the chosen candidate, its
/// thresholds from the CV folds, and the model refit on every row.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub chosen: usize,
    pub inner_scores: Vec<f64>,
    pub thresholds: Vec<Option<f64>>,
    /// Operating-point thresholds per task (see [`NestedResult::operating`]).
    pub operating: Vec<Option<f64>>,
    pub model: Pipeline,
}

/// The mean of the thresholds an inner fold could give; None when none could.
fn mean_of(v: &[Option<f64>]) -> Option<f64> {
    let t: Vec<f64> = v.iter().flatten().copied().collect();
    (!t.is_empty()).then(|| t.iter().sum::<f64>() / t.len() as f64)
}

/// What the inner search chose: the candidate, every candidate's score, and the chosen one's
/// Youden and operating-point thresholds per task and inner fold.
struct Selection {
    chosen: usize,
    inner_scores: Vec<f64>,
    inner_thresholds: Vec<Vec<Option<f64>>>,
    inner_operating: Vec<Vec<Option<f64>>>,
}

impl NestedCv {
    /// Tunes by `inner_folds`-fold CV on all rows, keeps the chosen candidate's mean Youden
    /// thresholds, and refits it on all rows.
    pub fn tune_and_fit(
        &self,
        candidates: &[PipelineParams],
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Tuned> {
        let all: Vec<usize> = (0..y.len()).collect();
        let folds = inner_plan(y, &all, self.inner_folds, self.seed)?;
        let sel = self.select(candidates, x, y, n_classes, &folds)?;
        let thresholds = sel.inner_thresholds.iter().map(|v| mean_of(v)).collect();
        let operating = sel.inner_operating.iter().map(|v| mean_of(v)).collect();
        let model = candidates[sel.chosen].fit(x, y, n_classes)?;
        Ok(Tuned {
            chosen: sel.chosen,
            inner_scores: sel.inner_scores,
            thresholds,
            operating,
            model,
        })
    }

    /// Scores every candidate on the inner folds; returns the chosen index, the scores and the
    /// chosen candidate's Youden and operating-point thresholds per task and inner fold.
    fn select(
        &self,
        candidates: &[PipelineParams],
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
        inner: &[(Vec<usize>, Vec<usize>)],
    ) -> Result<Selection> {
        if candidates.is_empty() {
            return Err(LearnError::Param {
                name: "candidates",
                detail: "empty grid".into(),
            });
        }
        // The inner folds are independent: run them in parallel. Within a fold the candidates
        // share their common work (`fit_grid`); each forest grows its trees in parallel.
        let preds: Vec<Result<Vec<Matrix>>> = inner
            .par_iter()
            .map(|(train, test)| {
                let yt: Vec<usize> = train.iter().map(|&i| y[i]).collect();
                let models = fit_grid(candidates, &x.select_rows(train), &yt, n_classes)?;
                let xv = x.select_rows(test);
                models.iter().map(|m| m.predict_proba(&xv)).collect()
            })
            .collect();
        let mut by_cand: Vec<Vec<Matrix>> = vec![Vec::new(); candidates.len()];
        for fold in preds {
            for (c, p) in fold?.into_iter().enumerate() {
                by_cand[c].push(p);
            }
        }
        let rows: Vec<usize> = inner.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let inner_scores: Vec<f64> = by_cand
            .iter()
            .map(|ps| {
                let mut data = Vec::new();
                for p in ps {
                    data.extend_from_slice(&p.data);
                }
                let pooled = Matrix::probabilities(rows.len(), n_classes, data);
                self.score(y, &rows, &pooled)
            })
            .collect();
        let chosen = (0..candidates.len()).fold(0, |b, c| {
            if inner_scores[c] > inner_scores[b] {
                c
            } else {
                b
            }
        });
        let mut inner_thresholds = vec![Vec::new(); self.tasks.len()];
        let mut inner_operating = vec![Vec::new(); self.tasks.len()];
        for (i, (_, val)) in inner.iter().enumerate() {
            let ys: Vec<usize> = val.iter().map(|&r| y[r]).collect();
            for (t, task) in self.tasks.iter().enumerate() {
                let (tt, s) = task.pairs(&ys, &by_cand[chosen][i]);
                inner_thresholds[t].push(
                    youden(&tt, &s)
                        .ok()
                        .map(|yd| yd.threshold)
                        .filter(|v| v.is_finite()),
                );
                if let Some(rule) = self.operating.get(t).copied().flatten() {
                    inner_operating[t].push(rule.threshold(&tt, &s).ok().filter(|v| v.is_finite()));
                }
            }
        }
        Ok(Selection {
            chosen,
            inner_scores,
            inner_thresholds,
            inner_operating,
        })
    }

    /// Plans the folds: stratified, seeded, or as given.
    pub fn plan(&self, y: &[usize], given: Option<&FoldPlan>) -> Result<FoldPlan> {
        if let Some(g) = given {
            let mut outer = g.outer.clone();
            for (o, f) in outer.iter_mut().enumerate() {
                if f.inner.is_empty() {
                    f.inner = inner_plan(
                        y,
                        &f.train,
                        self.inner_folds,
                        self.seed.wrapping_add(1 + o as u64),
                    )?;
                }
            }
            return Ok(FoldPlan { outer });
        }
        let folds = stratified_kfold(y, self.outer_folds, self.seed)?;
        let mut outer = Vec::new();
        for (o, test) in folds.into_iter().enumerate() {
            let train = complement(y.len(), &test);
            let inner = inner_plan(
                y,
                &train,
                self.inner_folds,
                self.seed.wrapping_add(1 + o as u64),
            )?;
            outer.push(OuterPlan { train, test, inner });
        }
        Ok(FoldPlan { outer })
    }

    /// Runs the nested CV of `candidates` on `x`, `y`.
    pub fn run(
        &self,
        candidates: &[PipelineParams],
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
        given: Option<&FoldPlan>,
    ) -> Result<NestedResult> {
        if candidates.is_empty() {
            return Err(LearnError::Param {
                name: "candidates",
                detail: "empty grid".into(),
            });
        }
        if x.rows != y.len() {
            return Err(LearnError::LengthMismatch {
                what: "nested cv",
                a: x.rows,
                b: y.len(),
            });
        }
        let plan = self.plan(y, given)?;
        // Outer folds are independent: they run in parallel too (each in its own seeded
        // streams), and are assembled in fold order, so the result is the same on any number
        // of threads.
        let per_fold: Vec<Result<_>> = plan
            .outer
            .par_iter()
            .map(|fold| {
                let sel = self.select(candidates, x, y, n_classes, &fold.inner)?;
                let (model, p) = fit_predict(
                    &candidates[sel.chosen],
                    x,
                    y,
                    n_classes,
                    &fold.train,
                    &fold.test,
                )?;
                Ok((sel, model.importances(), p))
            })
            .collect();
        let mut oof = Vec::new();
        let mut outer_records = Vec::new();
        let mut all_thresholds: Vec<Vec<Option<f64>>> = vec![Vec::new(); self.tasks.len()];
        let mut all_operating: Vec<Vec<Option<f64>>> = vec![Vec::new(); self.tasks.len()];
        let mut importances = Vec::new();
        for (o, (fold, result)) in plan.outer.iter().zip(per_fold).enumerate() {
            let (sel, imp, p) = result?;
            for (t, v) in sel.inner_thresholds.iter().enumerate() {
                all_thresholds[t].extend_from_slice(v);
            }
            for (t, v) in sel.inner_operating.iter().enumerate() {
                all_operating[t].extend_from_slice(v);
            }
            importances.extend(imp);
            for (k, &r) in fold.test.iter().enumerate() {
                oof.push(OofRow {
                    row: r,
                    fold: o,
                    proba: p.row(k).to_vec(),
                });
            }
            outer_records.push(OuterRecord {
                fold: o,
                chosen: sel.chosen,
                inner_scores: sel.inner_scores,
                inner_thresholds: sel.inner_thresholds,
                inner_operating: sel.inner_operating,
            });
        }
        oof.sort_by_key(|r| r.row);
        Ok(NestedResult {
            oof,
            outer: outer_records,
            thresholds: all_thresholds.iter().map(|v| mean_of(v)).collect(),
            operating: all_operating.iter().map(|v| mean_of(v)).collect(),
            importances,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_folds_partition_and_balance() {
        let y: Vec<usize> = (0..53)
            .map(|i| {
                if i < 10 {
                    0
                } else if i < 30 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let f = stratified_kfold(&y, 5, 3).unwrap();
        let mut all: Vec<usize> = f.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..53).collect::<Vec<_>>());
        for fold in &f {
            assert!(fold.len() == 10 || fold.len() == 11, "{}", fold.len());
            assert_eq!(fold.iter().filter(|&&i| y[i] == 0).count(), 2);
        }
        assert_eq!(f, stratified_kfold(&y, 5, 3).unwrap());
        assert_ne!(f, stratified_kfold(&y, 5, 4).unwrap());
    }

    #[test]
    fn task_score_is_a_probability_even_when_the_sum_rounds_above_one() {
        let t = BinaryTask {
            name: "malignant".into(),
            positive: vec![1, 2],
            included: vec![0, 1, 2],
        };
        // Two class probabilities of a normalised vector whose f64 sum is 1.0000000000000002.
        let (a, b) = (0.2045308641506939, 0.7954691358493062);
        assert!(a + b > 1.0);
        assert_eq!(t.score(&[0.0, a, b]), 1.0);
        assert_eq!(t.score(&[0.5, 0.25, 0.25]), 0.5);
    }

    #[test]
    fn too_few_cases_for_the_folds() {
        let y = [0, 0, 1, 1, 1, 1, 1];
        assert_eq!(
            stratified_kfold(&y, 5, 0).unwrap_err(),
            LearnError::TooFewForFolds {
                class: 0,
                count: 2,
                folds: 5
            }
        );
    }
}
