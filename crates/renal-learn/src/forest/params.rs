//! The forest's hyperparameters and their checks.

use crate::error::{LearnError, Result};

/// How many features each split considers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// floor(sqrt(p)), at least 1.
    Sqrt,
    /// floor(fraction * p), at least 1.
    Fraction(f64),
    /// min(k, p).
    Count(usize),
    All,
}

impl MaxFeatures {
    pub(crate) fn resolve(self, p: usize) -> usize {
        let k = match self {
            MaxFeatures::Sqrt => (p as f64).sqrt() as usize,
            MaxFeatures::Fraction(f) => (f * p as f64) as usize,
            MaxFeatures::Count(k) => k,
            MaxFeatures::All => p,
        };
        k.clamp(1, p.max(1))
    }
}

/// Forest hyperparameters (scikit-learn's defaults, 100 trees).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ForestParams {
    pub n_trees: usize,
    pub max_features: MaxFeatures,
    pub min_samples_leaf: usize,
    pub max_depth: Option<usize>,
    pub bootstrap: bool,
    /// Weights classes by n / (k * count) on the training rows (scikit-learn's "balanced").
    pub balanced: bool,
    /// An explicit weight per class (scikit-learn's `class_weight` dict, one value per class
    /// code); not with `balanced`. Absent from stored models that do not set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<Vec<f64>>,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 100,
            max_features: MaxFeatures::Sqrt,
            min_samples_leaf: 1,
            max_depth: None,
            bootstrap: true,
            balanced: false,
            class_weight: None,
            seed: 0,
        }
    }
}

impl ForestParams {
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.max_features = m;
        self
    }
    pub fn min_samples_leaf(mut self, m: usize) -> Self {
        self.min_samples_leaf = m;
        self
    }
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.max_depth = d;
        self
    }
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.bootstrap = b;
        self
    }
    pub fn balanced(mut self, b: bool) -> Self {
        self.balanced = b;
        self
    }
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.n_trees == 0 {
            return Err(LearnError::Param {
                name: "n_trees",
                detail: "must be at least 1".into(),
            });
        }
        if self.min_samples_leaf == 0 {
            return Err(LearnError::Param {
                name: "min_samples_leaf",
                detail: "must be at least 1".into(),
            });
        }
        if let Some(w) = &self.class_weight {
            if self.balanced {
                return Err(LearnError::Param {
                    name: "class_weight",
                    detail: "explicit class weights and balanced weights exclude each other".into(),
                });
            }
            if let Some((c, v)) = w
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(LearnError::Param {
                    name: "class_weight",
                    detail: format!(
                        "the weight {v} of class {c} is not a finite non-negative number"
                    ),
                });
            }
        }
        if let MaxFeatures::Fraction(f) = self.max_features {
            if !(f > 0.0 && f <= 1.0) {
                return Err(LearnError::Param {
                    name: "max_features",
                    detail: format!("fraction {f} not in (0, 1]"),
                });
            }
        }
        Ok(())
    }
}
