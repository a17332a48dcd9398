//! A pipeline: preprocessing steps then a learner, all fit on the training rows only, so that
//! scaling, PCA, imputation and selection can never see a test row.

use crate::error::Result;
use crate::forest::{ForestParams, RandomForest};
use crate::logistic::{Logistic, LogisticParams};
use crate::matrix::Matrix;
use crate::mlp::{Mlp, MlpParams};
use crate::transform::{Fitted, Step};

/// The final estimator.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnerParams {
    Forest(ForestParams),
    Mlp(MlpParams),
    Logistic(LogisticParams),
}

/// Unfitted pipeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PipelineParams {
    pub steps: Vec<Step>,
    pub learner: LearnerParams,
}

/// A fitted learner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Forest(RandomForest),
    Mlp(Mlp),
    Logistic(Logistic),
}

/// A fitted pipeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pipeline {
    pub steps: Vec<Fitted>,
    pub model: Model,
    pub n_classes: usize,
    /// Column names entering the learner (after the steps).
    pub learner_inputs: Vec<String>,
}

impl PipelineParams {
    /// Fits every step, then the learner, on `x` (the training rows).
    pub fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Pipeline> {
        let mut cur = x.clone();
        let mut steps = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let f = s.fit(&cur, y, n_classes)?;
            cur = f.transform(&cur)?;
            steps.push(f);
        }
        let model = match &self.learner {
            LearnerParams::Forest(p) => Model::Forest(RandomForest::fit(p, &cur, y, n_classes)?),
            LearnerParams::Mlp(p) => Model::Mlp(Mlp::fit(p, &cur, y, n_classes)?),
            LearnerParams::Logistic(p) => Model::Logistic(Logistic::fit(p, &cur, y, n_classes)?),
        };
        Ok(Pipeline {
            steps,
            model,
            n_classes,
            learner_inputs: cur.names,
        })
    }
}

impl Pipeline {
    /// Class probabilities (columns: classes 0..n_classes).
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let mut cur = x.clone();
        for s in &self.steps {
            cur = s.transform(&cur)?;
        }
        match &self.model {
            Model::Forest(m) => m.predict_proba(&cur),
            Model::Mlp(m) => m.predict_proba(&cur),
            Model::Logistic(m) => m.predict_proba(&cur),
        }
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
