//! The estimator API every learner follows (as scikit-learn's `fit` / `predict_proba` and
//! linfa's `Fit` / `Predict`): hyperparameters implement [`Fit`], which checks them and the
//! data and returns a fitted model; the fitted model implements [`PredictProba`], whose
//! columns are in [`PredictProba::classes`] order. A pipeline is itself such an estimator.

use crate::error::Result;
use crate::forest::{ForestParams, RandomForest};
use crate::gbm::{Gbm, GbmParams};
use crate::logistic::{Logistic, LogisticParams};
use crate::matrix::Matrix;
use crate::mlp::{Mlp, MlpParams};

/// Hyperparameters that can be fitted to labelled rows.
pub trait Fit {
    type Fitted: PredictProba;
    /// Checks the parameters and the data, then fits on `x` and labels `y` in
    /// `0..n_classes`.
    fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self::Fitted>;
}

/// A fitted classifier.
pub trait PredictProba {
    /// Class probabilities, one row per row of `x`, columns in [`Self::classes`] order.
    fn predict_proba(&self, x: &Matrix) -> Result<Matrix>;
    /// The class labels of the probability columns.
    fn classes(&self) -> Vec<usize>;
}

/// Implements the pair for a learner whose fitted type has inherent `fit` and
/// `predict_proba` and a `n_classes` field.
macro_rules! estimator {
    ($params:ty => $fitted:ty) => {
        impl Fit for $params {
            type Fitted = $fitted;
            fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<$fitted> {
                <$fitted>::fit(self, x, y, n_classes)
            }
        }
        impl PredictProba for $fitted {
            fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
                <$fitted>::predict_proba(self, x)
            }
            fn classes(&self) -> Vec<usize> {
                (0..self.n_classes).collect()
            }
        }
    };
}

estimator!(ForestParams => RandomForest);
estimator!(MlpParams => Mlp);
estimator!(LogisticParams => Logistic);
estimator!(GbmParams => Gbm);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{LearnerParams, PipelineParams};
    use crate::transform::Step;

    /// One generic function fits any learner through the trait pair; it gives what the
    /// learner's own `fit` gives, and probabilities in `classes()` order that sum to one.
    fn fit_generic<F: Fit>(params: &F, x: &Matrix, y: &[usize]) -> (Matrix, Vec<usize>) {
        let m = params.fit(x, y, 3).unwrap();
        (m.predict_proba(x).unwrap(), m.classes())
    }

    #[test]
    fn every_learner_fits_and_predicts_through_the_traits() {
        let rows: Vec<Vec<f64>> = (0..30)
            .map(|i| vec![(i % 3) as f64 + 0.1 * (i % 7) as f64, (i % 5) as f64])
            .collect();
        let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let x = Matrix::from_rows(&rows, None).unwrap();
        let forest = ForestParams::default().n_trees(10).seed(1);
        let (p, classes) = fit_generic(&forest, &x, &y);
        assert_eq!(classes, vec![0, 1, 2]);
        let own = RandomForest::fit(&forest, &x, &y, 3).unwrap();
        assert_eq!(p, own.predict_proba(&x).unwrap());
        let mlp = MlpParams {
            epochs: 3,
            ..Default::default()
        };
        let (p, _) = fit_generic(&mlp, &x, &y);
        assert_eq!(
            p,
            Mlp::fit(&mlp, &x, &y, 3)
                .unwrap()
                .predict_proba(&x)
                .unwrap()
        );
        let (p, _) = fit_generic(&LogisticParams::default(), &x, &y);
        for i in 0..p.rows {
            assert!((p.row(i).iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let pipe = PipelineParams {
            calibrate: None,
            steps: vec![Step::Standardize],
            learner: LearnerParams::Logistic(LogisticParams::default()),
        };
        let (pp, classes) = fit_generic(&pipe, &x, &y);
        assert_eq!(classes, vec![0, 1, 2]);
        assert_eq!(pp.rows, 30);
    }
}
