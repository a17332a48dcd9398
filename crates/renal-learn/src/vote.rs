//! A soft-voting ensemble: each member is a pipeline grid on its own columns, tuned by its own
//! inner cross-validation on the rows the ensemble is fit on (never on other rows), refit on
//! them; the ensemble's probabilities are the members' mean.

use serde::{Deserialize, Serialize};

use crate::cv::NestedCv;
use crate::error::{LearnError, Result};
use crate::matrix::Matrix;
use crate::pipeline::{Pipeline, PipelineParams};

/// One member: a name, the columns it reads (by name or name prefix) and its candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteMember {
    pub name: String,
    pub names: Vec<String>,
    pub prefixes: Vec<String>,
    pub candidates: Vec<PipelineParams>,
}

impl VoteMember {
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
pub struct VoteParams {
    pub members: Vec<VoteMember>,
    pub tune: NestedCv,
}

/// A fitted ensemble: each member's columns (indices into the ensemble's input) and pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub n_classes: usize,
    pub n_features: usize,
    pub members: Vec<(String, Vec<usize>, Pipeline)>,
}

impl Vote {
    pub fn fit(params: &VoteParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
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
                many => params.tune.tune_and_fit(many, &xm, y, n_classes)?.model,
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
        Ok(Matrix::new(
            x.rows,
            self.n_classes,
            sum,
            (0..self.n_classes).map(|c| format!("p{c}")).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::ForestParams;
    use crate::logistic::LogisticParams;
    use crate::pipeline::LearnerParams;

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
