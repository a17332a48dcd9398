//! Random forest of Gini decision trees with scikit-learn's semantics.
//!
//! Each tree is grown on a bootstrap sample (draw counts become sample weights, as in
//! scikit-learn), choosing at every node the best split over `max_features` randomly drawn
//! non-constant features, thresholds half-way between consecutive distinct values, by weighted
//! Gini impurity decrease. `predict_proba` is the mean over trees of the leaves' weighted class
//! fractions; `feature_importances` is the mean decrease in impurity (MDI), normalised per tree
//! and overall. Tree `t` draws from its own stream derived from the seed and `t`, so the forest
//! is the same on any number of threads.
//!
//! Speed without changing a tree: each feature is sorted once per training set; a node's rows
//! come out in a feature's order from a bitset; with integer weights (bootstrap counts without
//! class weights) the cut search runs four cuts at a time on exact integer states (`exact`) and
//! stops once a cut leaves both sides pure (no cut can beat it); the forests of several leaf
//! sizes grow together while their trees agree ([`RandomForest::fit_leaf_sizes`]). Tests
//! compare each of these with the one-by-one search, tree for tree.
//!
//! # References
//! Breiman L (2001). Random forests. Machine Learning 45:5-32. Pedregosa F et al. (2011).
//! Scikit-learn: machine learning in Python. JMLR 12:2825-2830.

mod exact;
mod grow;
mod params;
mod presort;
mod split;
#[cfg(test)]
mod tests;
mod tree;
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
mod x86;

pub use params::{ForestParams, MaxFeatures};
pub use tree::Tree;
pub(crate) use tree::{check_walk, TreeFault};

use rayon::prelude::*;

use crate::error::{LearnError, Result};
use crate::matrix::{check_labels, Matrix};

use grow::{fit_trees, Plan};
use presort::Presorted;
use tree::Paths;

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomForest {
    pub params: ForestParams,
    pub n_classes: usize,
    pub n_features: usize,
    pub trees: Vec<Tree>,
    importances: Vec<f64>,
}

/// A training matrix checked and sorted once per feature, so that several forests fit on the
/// same rows (the candidates of a grid search) share the work.
pub struct ForestData<'a> {
    x: &'a Matrix,
    pre: AnyPresorted,
}

enum AnyPresorted {
    Small(Presorted<u16>),
    Large(Presorted<u32>),
}

impl<'a> ForestData<'a> {
    /// Checks that `x` is finite and sorts each feature.
    pub fn new(x: &'a Matrix) -> Result<Self> {
        x.check_finite()?;
        let pre = if x.rows <= 1 << 16 {
            AnyPresorted::Small(Presorted::new(x))
        } else {
            AnyPresorted::Large(Presorted::new(x))
        };
        Ok(ForestData { x, pre })
    }
}

impl RandomForest {
    /// Fits a forest; `y` holds class indices below `n_classes`.
    pub fn fit(params: &ForestParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
        params.validate()?;
        Self::fit_data(params, &ForestData::new(x)?, y, n_classes)
    }

    /// [`RandomForest::fit`] on a matrix already sorted by [`ForestData::new`].
    pub fn fit_data(
        params: &ForestParams,
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        Self::fit_with(params, data, y, n_classes, Paths::DEFAULT)
    }

    /// The forests of `params` with each leaf size of `leaf` (`min_samples_leaf`), in that order:
    /// each the forest [`RandomForest::fit_data`] grows with that leaf size, tree for tree, but
    /// the trees of one seed grown together while they agree, so their first levels are
    /// searched once (a grid over leaf sizes).
    pub fn fit_leaf_sizes(
        params: &ForestParams,
        leaf: &[usize],
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Vec<Self>> {
        Self::fit_family(params, leaf, data, y, n_classes, Paths::DEFAULT)
    }

    /// [`RandomForest::fit_data`] with the node scans `paths` allows (tests compare the paths).
    fn fit_with(
        params: &ForestParams,
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
        paths: Paths,
    ) -> Result<Self> {
        let leaf = [params.min_samples_leaf];
        let mut one = Self::fit_family(params, &leaf, data, y, n_classes, paths)?;
        one.pop().ok_or(LearnError::Param {
            name: "min_samples_leaf",
            detail: "no forest was grown".into(),
        })
    }

    /// [`RandomForest::fit_leaf_sizes`] with the node scans `paths` allows.
    fn fit_family(
        params: &ForestParams,
        leaf: &[usize],
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
        paths: Paths,
    ) -> Result<Vec<Self>> {
        // Each member's parameters are checked (`params`' own leaf size is not used).
        for &l in leaf {
            params.clone().min_samples_leaf(l).validate()?;
        }
        if leaf.is_empty() {
            return Ok(Vec::new());
        }
        let counts = check_labels(data.x, y, n_classes)?;
        let x = data.x;
        let class_w = class_weights(params, &counts, x.rows, n_classes)?;
        let max_features = params.max_features.resolve(x.cols);
        let plan = Plan {
            p: x.cols,
            y,
            k: n_classes,
            class_w: &class_w,
            params,
            leaf,
            max_features,
            paths,
        };
        let fitted = match &data.pre {
            AnyPresorted::Small(pre) => fit_trees(pre, &plan),
            AnyPresorted::Large(pre) => fit_trees(pre, &plan),
        };
        let mut forests: Vec<RandomForest> = leaf
            .iter()
            .map(|&l| RandomForest {
                params: params.clone().min_samples_leaf(l),
                n_classes,
                n_features: x.cols,
                trees: Vec::with_capacity(fitted.len()),
                importances: vec![0.0; x.cols],
            })
            .collect();
        for family in fitted {
            for (f, (tree, imp)) in forests.iter_mut().zip(family) {
                for (a, b) in f.importances.iter_mut().zip(&imp) {
                    *a += b;
                }
                f.trees.push(tree);
            }
        }
        for f in &mut forests {
            let s: f64 = f.importances.iter().sum();
            if s > 0.0 {
                f.importances.iter_mut().for_each(|v| *v /= s);
            }
        }
        Ok(forests)
    }

    /// Class probabilities, one row per input row, columns in `classes()` order.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.n_features {
            return Err(LearnError::Columns {
                what: "random forest predict",
                expected: self.n_features,
                got: x.cols,
            });
        }
        x.check_finite()?;
        let k = self.n_classes;
        let mut out = vec![0.0; x.rows * k];
        // Tree by tree over a block of rows, so that a tree's nodes stay in cache while its
        // rows walk it (in lockstep, `Tree::leaves_of`); blocks run in parallel. Each row still
        // adds its trees' leaf values in tree order, so the sums, and the probabilities, are
        // the same bits on any number of threads and in either loop order.
        const BLOCK: usize = 64;
        let n_trees = self.trees.len() as f64;
        out.par_chunks_mut(BLOCK * k)
            .enumerate()
            .for_each(|(b, block)| {
                let first = b * BLOCK;
                let mut leaves = [0usize; BLOCK];
                let leaves = &mut leaves[..block.len() / k];
                for t in &self.trees {
                    t.leaves_of(|r| x.row(first + r), leaves);
                    for (o, &v) in block.chunks_mut(k).zip(leaves.iter()) {
                        for c in 0..k {
                            o[c] += t.values[v + c];
                        }
                    }
                }
                // Each tree's leaf fractions sum to 1; the mean can exceed 1 by an ulp: clamp.
                block.iter_mut().for_each(|v| *v = (*v / n_trees).min(1.0));
            });
        Ok(Matrix::probabilities(x.rows, k, out))
    }

    /// Mean decrease in impurity per feature, summing to 1.
    pub fn feature_importances(&self) -> &[f64] {
        &self.importances
    }

    pub fn classes(&self) -> Vec<usize> {
        (0..self.n_classes).collect()
    }
}

/// The weight of each class: `params.class_weight`, scikit-learn's "balanced" (`rows / (k *
/// count)`) on the training rows' class `counts`, or 1.
fn class_weights(
    params: &ForestParams,
    counts: &[usize],
    rows: usize,
    n_classes: usize,
) -> Result<Vec<f64>> {
    Ok(if let Some(w) = &params.class_weight {
        if w.len() != n_classes {
            return Err(LearnError::Param {
                name: "class_weight",
                detail: format!("{} weights for {n_classes} classes", w.len()),
            });
        }
        w.clone()
    } else if params.balanced {
        counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    0.0
                } else {
                    rows as f64 / (n_classes as f64 * c as f64)
                }
            })
            .collect()
    } else {
        vec![1.0; n_classes]
    })
}
