//! A soft-voting ensemble: each member is a grid of candidates (pipelines, in practice) on its
//! own columns, tuned by its own inner cross-validation on the rows the ensemble is fit on
//! (never on other rows) and refit on them; the ensemble's probabilities are the members'
//! mean. Generic over the member type, so that the pipeline (which holds a vote as a learner)
//! and the vote do not import each other.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};
use crate::estimator::{Fit, PredictProba};
use crate::folds::NestedCv;
use crate::matrix::Matrix;

/// One member: a name, the columns it reads (by name or name prefix) and its candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteMember<P> {
    pub name: String,
    pub names: Vec<String>,
    pub prefixes: Vec<String>,
    pub candidates: Vec<P>,
}

impl<P> VoteMember<P> {
    fn columns(&self, x: &Matrix) -> Vec<usize> {
        (0..x.cols)
            .filter(|&j| {
                let n = &x.names[j];
                self.names.contains(n) || self.prefixes.iter().any(|p| n.starts_with(p.as_str()))
            })
            .collect()
    }
}

/// The ensemble: members, and the inner CV that tunes each (its folds, seed and tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteParams<P> {
    pub members: Vec<VoteMember<P>>,
    pub tune: NestedCv,
}

/// A fitted ensemble: each member's columns (indices into the ensemble's input) and pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote<M> {
    pub n_classes: usize,
    pub n_features: usize,
    pub members: Vec<(String, Vec<usize>, M)>,
}

impl<P: Fit> Fit for VoteParams<P> {
    type Fitted = Vote<P::Fitted>;
    fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self::Fitted> {
        Vote::fit(self, x, y, n_classes)
    }
}

impl<M: PredictProba> PredictProba for Vote<M> {
    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        Vote::predict_proba(self, x)
    }
    fn classes(&self) -> Vec<usize> {
        (0..self.n_classes).collect()
    }
}

impl<M: PredictProba> Vote<M> {
    pub fn fit<P: Fit<Fitted = M>>(
        params: &VoteParams<P>,
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        if params.members.len() < 2 {
            return Err(LearnError::Param {
                name: "ensemble members",
                detail: format!(
                    "{} member(s); a vote needs at least 2",
                    params.members.len()
                ),
            });
        }
        let mut members = Vec::with_capacity(params.members.len());
        for m in &params.members {
            let cols = m.columns(x);
            if cols.is_empty() {
                return Err(LearnError::Param {
                    name: "ensemble members",
                    detail: format!("member `{}` has none of its columns in the input", m.name),
                });
            }
            let xm = x.select_cols(&cols);
            let model = match m.candidates.as_slice() {
                [one] => one.fit(&xm, y, n_classes)?,
                many => params.tune.tune_generic(many, &xm, y, n_classes)?.1,
            };
            members.push((m.name.clone(), cols, model));
        }
        Ok(Vote {
            n_classes,
            n_features: x.cols,
            members,
        })
    }

    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.n_features {
            return Err(LearnError::Columns {
                what: "ensemble predict",
                expected: self.n_features,
                got: x.cols,
            });
        }
        let mut sum = vec![0.0; x.rows * self.n_classes];
        for (_, cols, model) in &self.members {
            let p = model.predict_proba(&x.select_cols(cols))?;
            sum.iter_mut().zip(&p.data).for_each(|(s, v)| *s += v);
        }
        let k = self.members.len() as f64;
        sum.iter_mut().for_each(|s| *s /= k);
        Ok(Matrix::probabilities(x.rows, self.n_classes, sum))
    }
}
