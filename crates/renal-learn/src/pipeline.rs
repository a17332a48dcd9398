//! A pipeline: preprocessing steps then a learner, all fit on the training rows only, so that
//! scaling, PCA, imputation and selection can never see a test row.

use crate::calibration::{CalibrationParams, FittedCalibration};
use crate::error::{LearnError, Result};
use crate::estimator::{Fit, PredictProba};
use crate::folds::{complement, stratified_kfold};
use crate::forest::{ForestData, ForestParams, RandomForest};
use crate::gbm::{Gbm, GbmParams};
use crate::logistic::{Logistic, LogisticBasis, LogisticParams};
use crate::matrix::Matrix;
use crate::mlp::{Mlp, MlpParams};
use crate::transform::{Fitted, Step};
use crate::vote::{Vote, VoteParams};

/// The final estimator.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnerParams {
    Forest(ForestParams),
    Mlp(MlpParams),
    Logistic(LogisticParams),
    Gbm(GbmParams),
    Vote(VoteParams<PipelineParams>),
}

/// Unfitted pipeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PipelineParams {
    pub steps: Vec<Step>,
    pub learner: LearnerParams,
    /// Probability calibration, fit on folds of the training rows (see [`crate::calibration`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrate: Option<CalibrationParams>,
}

/// A fitted learner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Forest(RandomForest),
    Mlp(Mlp),
    Logistic(Logistic),
    Gbm(Gbm),
    Vote(Vote<Pipeline>),
}

/// A fitted pipeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pipeline {
    pub steps: Vec<Fitted>,
    pub model: Model,
    pub n_classes: usize,
    /// Column names entering the learner (after the steps).
    pub learner_inputs: Vec<String>,
    /// Per-class calibrators applied to the learner's probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<FittedCalibration>,
}

impl PipelineParams {
    /// Fits every step, then the learner, on `x` (the training rows).
    pub fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Pipeline> {
        let (steps, cur) = fit_steps(&self.steps, x, y, n_classes)?;
        let model = fit_learner(&self.learner, &cur, None, y, n_classes)?;
        let pipeline = Pipeline {
            steps,
            model,
            n_classes,
            learner_inputs: cur.names,
            calibration: None,
        };
        self.calibrated(pipeline, x, y)
    }

    /// Adds the calibration to a pipeline fitted on all of `x`: the uncalibrated pipeline is
    /// refit on k − 1 folds of `x` at a time, its probabilities on the held-out fold pooled,
    /// and one calibrator per class fit to them. Never sees a row outside `x`.
    fn calibrated(&self, mut fitted: Pipeline, x: &Matrix, y: &[usize]) -> Result<Pipeline> {
        let Some(c) = self.calibrate else {
            return Ok(fitted);
        };
        c.check()?;
        let base = PipelineParams {
            calibrate: None,
            ..self.clone()
        };
        let folds = stratified_kfold(y, c.folds, c.seed)?;
        let mut oof = vec![Vec::new(); y.len()];
        for test in &folds {
            let train = complement(y.len(), test);
            let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
            let p = base
                .fit(&x.select_rows(&train), &ytr, fitted.n_classes)?
                .predict_proba(&x.select_rows(test))?;
            for (r, &i) in test.iter().enumerate() {
                oof[i] = p.row(r).to_vec();
            }
        }
        fitted.calibration = Some(FittedCalibration::fit(c.method, &oof, y)?);
        Ok(fitted)
    }
}

/// Fits each step on the output of the previous one; returns the fitted steps and the
/// transformed `x`.
fn fit_steps(
    params: &[Step],
    x: &Matrix,
    y: &[usize],
    n_classes: usize,
) -> Result<(Vec<Fitted>, Matrix)> {
    let mut cur = x.clone();
    let mut steps = Vec::with_capacity(params.len());
    for s in params {
        let f = s.fit(&cur, y, n_classes)?;
        cur = f.transform(&cur)?;
        steps.push(f);
    }
    Ok((steps, cur))
}

/// Fits the learner on `x`; a forest uses `sorted` (of `x`) when given.
impl LearnerParams {
    /// Fits the learner alone (no steps) on `x`, `y`.
    pub fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Model> {
        fit_learner(self, x, None, y, n_classes)
    }
}

fn fit_learner(
    learner: &LearnerParams,
    x: &Matrix,
    sorted: Option<&ForestData>,
    y: &[usize],
    n_classes: usize,
) -> Result<Model> {
    Ok(match (learner, sorted) {
        // Forests of a grid share the per-feature sort of the training rows.
        (LearnerParams::Forest(p), Some(d)) => {
            Model::Forest(RandomForest::fit_data(p, d, y, n_classes)?)
        }
        (LearnerParams::Forest(p), None) => Model::Forest(Fit::fit(p, x, y, n_classes)?),
        (LearnerParams::Mlp(p), _) => Model::Mlp(Fit::fit(p, x, y, n_classes)?),
        (LearnerParams::Logistic(p), _) => Model::Logistic(Fit::fit(p, x, y, n_classes)?),
        (LearnerParams::Gbm(p), _) => Model::Gbm(Fit::fit(p, x, y, n_classes)?),
        (LearnerParams::Vote(p), _) => Model::Vote(Fit::fit(p, x, y, n_classes)?),
    })
}

/// Fits every candidate on the same rows `x`, in order, sharing the work that does not depend
/// on the learner: candidates with equal steps fit them once, their forests share one sort
/// of the transformed matrix, forests that differ only in leaf size grow their trees together
/// while they agree, and logistic regressions walk their C path together. The pipelines are
/// those [`PipelineParams::fit`] gives one by one.
pub fn fit_grid(
    candidates: &[PipelineParams],
    x: &Matrix,
    y: &[usize],
    n_classes: usize,
) -> Result<Vec<Pipeline>> {
    let mut fitted: Vec<Option<Pipeline>> = vec![None; candidates.len()];
    for (i, first) in candidates.iter().enumerate() {
        if fitted[i].is_some() {
            continue;
        }
        let group: Vec<usize> = (i..candidates.len())
            .filter(|&j| fitted[j].is_none() && candidates[j].steps == first.steps)
            .collect();
        let (steps, cur) = fit_steps(&first.steps, x, y, n_classes)?;
        let forests = group
            .iter()
            .filter(|&&j| matches!(candidates[j].learner, LearnerParams::Forest(_)))
            .count();
        let sorted = if forests > 1 {
            Some(ForestData::new(&cur)?)
        } else {
            None
        };
        let mut logistic = logistic_path(candidates, &group, &cur, y, n_classes)?;
        let mut forests = match &sorted {
            Some(d) => forest_leaf_sizes(candidates, &group, d, y, n_classes)?,
            None => Default::default(),
        };
        for &j in &group {
            let model = match (logistic.remove(&j), forests.remove(&j)) {
                (Some(m), _) => Model::Logistic(m),
                (None, Some(f)) => Model::Forest(f),
                (None, None) => {
                    fit_learner(&candidates[j].learner, &cur, sorted.as_ref(), y, n_classes)?
                }
            };
            let p = Pipeline {
                steps: steps.clone(),
                model,
                n_classes,
                learner_inputs: cur.names.clone(),
                calibration: None,
            };
            fitted[j] = Some(candidates[j].calibrated(p, x, y)?);
        }
    }
    Ok(fitted.into_iter().flatten().collect())
}

/// The forest candidates among `group` that differ only in their leaf size
/// (`min_samples_leaf`), two or more alike, grown together on the sorted rows `data` (see
/// [`RandomForest::fit_leaf_sizes`]: the same forests as one by one), by candidate.
fn forest_leaf_sizes(
    candidates: &[PipelineParams],
    group: &[usize],
    data: &ForestData,
    y: &[usize],
    n_classes: usize,
) -> Result<std::collections::BTreeMap<usize, RandomForest>> {
    let mut out = std::collections::BTreeMap::new();
    // The parameters with the leaf size set aside, and the candidates that share them.
    let mut alike: Vec<(ForestParams, Vec<(usize, usize)>)> = Vec::new();
    for &j in group {
        let LearnerParams::Forest(p) = &candidates[j].learner else {
            continue;
        };
        let rest = p.clone().min_samples_leaf(1);
        match alike.iter_mut().find(|(r, _)| *r == rest) {
            Some((_, members)) => members.push((j, p.min_samples_leaf)),
            None => alike.push((rest, vec![(j, p.min_samples_leaf)])),
        }
    }
    for (rest, members) in alike.into_iter().filter(|(_, m)| m.len() > 1) {
        let leaf: Vec<usize> = members.iter().map(|&(_, l)| l).collect();
        let fitted = RandomForest::fit_leaf_sizes(&rest, &leaf, data, y, n_classes)?;
        out.extend(members.iter().map(|&(j, _)| j).zip(fitted));
    }
    Ok(out)
}

/// The logistic candidates among `group` (two or more, on the same transformed rows `x`) fit
/// along their C path on one decomposition of `x` (see [`Logistic::fit_path`]), by candidate.
fn logistic_path(
    candidates: &[PipelineParams],
    group: &[usize],
    x: &Matrix,
    y: &[usize],
    n_classes: usize,
) -> Result<std::collections::BTreeMap<usize, Logistic>> {
    let (ids, params): (Vec<usize>, Vec<&LogisticParams>) = group
        .iter()
        .filter_map(|&j| match &candidates[j].learner {
            LearnerParams::Logistic(p) => Some((j, p)),
            _ => None,
        })
        .unzip();
    if ids.len() < 2 {
        return Ok(Default::default());
    }
    crate::matrix::check_labels(x, y, n_classes)?;
    let basis = LogisticBasis::new(x)?;
    let fitted = Logistic::fit_path(&params, &basis, y, n_classes)?;
    Ok(ids.into_iter().zip(fitted).collect())
}

impl Model {
    /// The fitted learner behind the enum: the one place the variants are told apart for
    /// prediction.
    pub fn learner(&self) -> &dyn PredictProba {
        match self {
            Model::Forest(m) => m,
            Model::Mlp(m) => m,
            Model::Logistic(m) => m,
            Model::Gbm(m) => m,
            Model::Vote(m) => m,
        }
    }
}

impl PredictProba for Model {
    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        self.learner().predict_proba(x)
    }
    fn classes(&self) -> Vec<usize> {
        self.learner().classes()
    }
}

impl Fit for PipelineParams {
    type Fitted = Pipeline;
    fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Pipeline> {
        PipelineParams::fit(self, x, y, n_classes)
    }
}

impl PredictProba for Pipeline {
    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        Pipeline::predict_proba(self, x)
    }
    fn classes(&self) -> Vec<usize> {
        Pipeline::classes(self)
    }
}

impl Model {
    /// The number of input columns the model takes.
    fn n_features(&self) -> Option<usize> {
        match self {
            Model::Forest(f) => Some(f.n_features),
            Model::Logistic(l) => Some(l.n_features),
            Model::Gbm(g) => Some(g.n_features),
            Model::Vote(v) => Some(v.n_features),
            Model::Mlp(m) => m.layers.first().map(|l| l.n_in),
        }
    }

    /// Checks a model read back from a file before it is applied: every tree walk ends at a
    /// leaf within the tree and reads a feature the model has (see the trees' `validate`),
    /// every weight vector has the length its shape says, and the classes agree.
    pub fn validate(&self, n_classes: usize) -> Result<()> {
        let bad = |detail: String| Err(LearnError::InvalidModel { detail });
        match self {
            Model::Forest(f) => {
                if f.n_classes != n_classes || f.trees.is_empty() {
                    return bad(format!(
                        "a forest of {} trees for {} classes in a pipeline of {n_classes}",
                        f.trees.len(),
                        f.n_classes
                    ));
                }
                for (t, tree) in f.trees.iter().enumerate() {
                    tree.validate(f.n_features, f.n_classes)
                        .or_else(|d| bad(format!("forest tree {t}: {d}")))?;
                }
            }
            Model::Gbm(g) => {
                if g.n_classes != n_classes
                    || g.init.len() != n_classes
                    || g.rounds.iter().any(|r| r.len() > n_classes)
                {
                    return bad(format!(
                        "boosted trees for {} classes ({} initial scores) in a pipeline of {n_classes}",
                        g.n_classes,
                        g.init.len()
                    ));
                }
                for (r, round) in g.rounds.iter().enumerate() {
                    for (c, tree) in round.iter().enumerate() {
                        tree.validate(g.n_features)
                            .or_else(|d| bad(format!("boosting round {r}, class {c}: {d}")))?;
                    }
                }
            }
            Model::Logistic(l) => {
                if l.n_classes != n_classes
                    || Some(l.coef.len()) != n_classes.checked_mul(l.n_features)
                    || l.intercept.len() != n_classes
                {
                    return bad(format!(
                        "logistic regression of {} coefficients and {} intercepts for {n_classes} classes and {} features",
                        l.coef.len(),
                        l.intercept.len(),
                        l.n_features
                    ));
                }
            }
            Model::Mlp(m) => {
                let Some(last) = m.layers.last() else {
                    return bad("an MLP without layers".into());
                };
                if m.n_classes != n_classes || last.n_out != n_classes {
                    return bad(format!(
                        "an MLP with {} outputs for {n_classes} classes",
                        last.n_out
                    ));
                }
                for (i, l) in m.layers.iter().enumerate() {
                    let chained = i == 0 || m.layers[i - 1].n_out == l.n_in;
                    if !chained
                        || Some(l.weight.len()) != l.n_in.checked_mul(l.n_out)
                        || l.bias.len() != l.n_out
                    {
                        return bad(format!(
                            "MLP layer {i}: {} weights and {} biases for {} -> {}",
                            l.weight.len(),
                            l.bias.len(),
                            l.n_in,
                            l.n_out
                        ));
                    }
                }
            }
            Model::Vote(v) => {
                for (name, columns, member) in &v.members {
                    if let Some(c) = columns.iter().find(|&&c| c >= v.n_features) {
                        return bad(format!(
                            "vote member {name} reads column {c} of {}",
                            v.n_features
                        ));
                    }
                    member.validate()?;
                }
            }
        }
        Ok(())
    }
}

impl Pipeline {
    /// Checks a pipeline read back from a file (its model, see [`Model::validate`], and the
    /// learner's input width against its named inputs) before it is applied.
    pub fn validate(&self) -> Result<()> {
        self.model.validate(self.n_classes)?;
        match self.model.n_features() {
            Some(n) if !self.learner_inputs.is_empty() && n != self.learner_inputs.len() => {
                Err(LearnError::InvalidModel {
                    detail: format!(
                        "the learner takes {n} columns, but the pipeline names {} inputs",
                        self.learner_inputs.len()
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Class probabilities (columns: classes 0..n_classes).
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let mut cur = x.clone();
        for s in &self.steps {
            cur = s.transform(&cur)?;
        }
        let mut p = self.model.predict_proba(&cur)?;
        if let Some(c) = &self.calibration {
            for i in 0..p.rows {
                c.apply(&mut p.data[i * p.cols..(i + 1) * p.cols]);
            }
        }
        Ok(p)
    }

    /// Most likely class per row.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let p = self.predict_proba(x)?;
        Ok((0..p.rows)
            .map(|i| {
                let r = p.row(i);
                (0..r.len()).fold(0, |b, c| if r[c] > r[b] { c } else { b })
            })
            .collect())
    }

    pub fn classes(&self) -> Vec<usize> {
        (0..self.n_classes).collect()
    }

    /// The forest's importances by learner input name, when the learner is a forest.
    pub fn importances(&self) -> Option<Vec<(String, f64)>> {
        match &self.model {
            Model::Forest(f) => Some(
                self.learner_inputs
                    .iter()
                    .cloned()
                    .zip(f.feature_importances().iter().copied())
                    .collect(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod vote_tests {
    use super::*;
    use crate::folds::NestedCv;
    use crate::forest::ForestParams;
    use crate::logistic::LogisticParams;
    use crate::vote::{Vote, VoteMember, VoteParams};

    /// The vote is the mean of its members, each fit on its own columns.
    #[test]
    fn the_vote_is_the_members_mean() {
        let rows: Vec<Vec<f64>> = (0..60)
            .map(|i| vec![(i % 3) as f64 + 0.1 * (i % 7) as f64, ((i * 5) % 9) as f64])
            .collect();
        let y: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let x = Matrix::from_rows(&rows, Some(vec!["a".into(), "b".into()])).unwrap();
        let forest = PipelineParams {
            steps: vec![],
            learner: LearnerParams::Forest(ForestParams::default().n_trees(20).seed(1)),
            calibrate: None,
        };
        let logistic = PipelineParams {
            steps: vec![],
            learner: LearnerParams::Logistic(LogisticParams::default()),
            calibrate: None,
        };
        let member = |name: &str, col: &str, c: &PipelineParams| VoteMember {
            name: name.into(),
            names: vec![col.into()],
            prefixes: vec![],
            candidates: vec![c.clone()],
        };
        let params = VoteParams {
            members: vec![member("f", "a", &forest), member("l", "b", &logistic)],
            tune: NestedCv {
                outer_folds: 2,
                inner_folds: 2,
                seed: 0,
                tasks: vec![],
                operating: Vec::new(),
            },
        };
        let v = Vote::fit(&params, &x, &y, 3).unwrap();
        let p = v.predict_proba(&x).unwrap();
        let fa = forest.fit(&x.select_cols(&[0]), &y, 3).unwrap();
        let lb = logistic.fit(&x.select_cols(&[1]), &y, 3).unwrap();
        let (pa, pb) = (
            fa.predict_proba(&x.select_cols(&[0])).unwrap(),
            lb.predict_proba(&x.select_cols(&[1])).unwrap(),
        );
        for i in 0..p.data.len() {
            assert!((p.data[i] - (pa.data[i] + pb.data[i]) / 2.0).abs() < 1e-15);
        }
        let one = VoteParams {
            members: vec![member("f", "a", &forest)],
            ..params
        };
        assert!(Vote::fit(&one, &x, &y, 3).is_err());
    }
}
