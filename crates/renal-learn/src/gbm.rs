//! Gradient-boosted trees for K classes (Friedman 2001, the multinomial deviance), as
//! scikit-learn's `GradientBoostingClassifier(loss="log_loss")`: raw scores start at the log
//! class priors; each round fits, per class, a depth-limited regression tree to the negative
//! gradient `1[y = k] − p_k` (squared-error splits), sets each leaf by one Newton step
//! `(K − 1)/K · Σ r / Σ |r|(1 − |r|)`, and adds it shrunk by the learning rate. With
//! `subsample < 1` each round draws its rows without replacement (stochastic boosting), from a
//! stream derived from the seed and the round, so results do not depend on the thread count.
//!
//! # References
//! Friedman JH (2001). Greedy function approximation: a gradient boosting machine. Annals of
//! Statistics 29(5):1189-1232.

use renal_stats::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};
use crate::kernel;
use crate::matrix::{check_labels, Matrix};

/// Boosting hyperparameters (scikit-learn's defaults but `min_samples_leaf`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbmParams {
    pub n_estimators: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    /// Fraction of the rows drawn per round (1 = all).
    pub subsample: f64,
    pub seed: u64,
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            n_estimators: 100,
            learning_rate: 0.1,
            max_depth: 3,
            min_samples_leaf: 5,
            subsample: 1.0,
            seed: 0,
        }
    }
}

impl GbmParams {
    fn check(&self) -> Result<()> {
        let bad = |name: &'static str, detail: String| Err(LearnError::Param { name, detail });
        if self.n_estimators == 0 {
            return bad("n_estimators", "must be positive".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad(
                "learning_rate",
                format!("{} not in (0, 1]", self.learning_rate),
            );
        }
        if self.max_depth == 0 || self.min_samples_leaf == 0 {
            return bad("max_depth / min_samples_leaf", "must be positive".into());
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", format!("{} not in (0, 1]", self.subsample));
        }
        Ok(())
    }
}

/// A regression tree node: a split or a leaf value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        value: f64,
    },
}

/// A fitted regression tree (nodes, root first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Checks a tree read back from a file as the forest's trees are checked: every split's
    /// children are nodes of the tree reached once from the root, every feature below
    /// `n_features`.
    pub(crate) fn validate(
        &self,
        n_features: usize,
    ) -> std::result::Result<(), crate::forest::TreeFault> {
        crate::forest::check_walk(self.nodes.len(), |i| match &self.nodes[i] {
            Node::Leaf { .. } => Ok(None),
            Node::Split { feature, .. } if *feature >= n_features => {
                Err(crate::forest::TreeFault::Feature {
                    node: i,
                    feature: *feature,
                    n_features,
                })
            }
            Node::Split { left, right, .. } => Ok(Some((*left, *right))),
        })
    }

    fn predict(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if row[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }
}

/// A fitted model: initial raw scores and, per round, one tree per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbm {
    pub params: GbmParams,
    pub n_classes: usize,
    pub n_features: usize,
    pub init: Vec<f64>,
    pub rounds: Vec<Vec<Tree>>,
}

/// What one tree fit needs: the rows sorted by each feature once, and the residuals.
struct Grower<'a> {
    x: &'a Matrix,
    order: &'a [Vec<usize>],
    residual: &'a [f64],
    min_leaf: usize,
    k: f64,
}

/// Best split of the rows marked `in_node`: (feature, threshold, gain).
fn best_split(g: &Grower, in_node: &[bool], n: usize, sum: f64) -> Option<(usize, f64, f64)> {
    let parent = sum * sum / n as f64;
    let mut best: Option<(usize, f64, f64)> = None;
    for (f, order) in g.order.iter().enumerate() {
        let (mut nl, mut sl) = (0usize, 0.0);
        let mut prev: Option<f64> = None;
        for &i in order.iter().filter(|&&i| in_node[i]) {
            let v = g.x.get(i, f);
            if let Some(p) = prev {
                let nr = n - nl;
                if v > p && nl >= g.min_leaf && nr >= g.min_leaf {
                    let sr = sum - sl;
                    let gain = sl * sl / nl as f64 + sr * sr / nr as f64 - parent;
                    if best.is_none_or(|b| gain > b.2 + 1e-12) {
                        best = Some((f, p + (v - p) / 2.0, gain));
                    }
                }
            }
            nl += 1;
            sl += g.residual[i];
            prev = Some(v);
        }
    }
    best.filter(|b| b.2 > 1e-12)
}

/// The Newton leaf value of the multinomial deviance.
fn leaf_value(g: &Grower, rows: &[usize]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for &i in rows {
        let r = g.residual[i];
        num += r;
        den += r.abs() * (1.0 - r.abs());
    }
    if den.abs() < 1e-150 {
        0.0
    } else {
        (g.k - 1.0) / g.k * num / den
    }
}

fn grow(g: &Grower, rows: Vec<usize>, depth: usize, nodes: &mut Vec<Node>, n_rows: usize) -> usize {
    let id = nodes.len();
    nodes.push(Node::Leaf { value: 0.0 });
    let sum: f64 = rows.iter().map(|&i| g.residual[i]).sum();
    let split = if depth > 0 && rows.len() >= 2 * g.min_leaf {
        let mut in_node = vec![false; n_rows];
        rows.iter().for_each(|&i| in_node[i] = true);
        best_split(g, &in_node, rows.len(), sum)
    } else {
        None
    };
    match split {
        None => {
            nodes[id] = Node::Leaf {
                value: leaf_value(g, &rows),
            }
        }
        Some((feature, threshold, _)) => {
            let (l, r): (Vec<usize>, Vec<usize>) = rows
                .iter()
                .partition(|&&i| g.x.get(i, feature) <= threshold);
            let left = grow(g, l, depth - 1, nodes, n_rows);
            let right = grow(g, r, depth - 1, nodes, n_rows);
            nodes[id] = Node::Split {
                feature,
                threshold,
                left,
                right,
            };
        }
    }
    id
}

impl Gbm {
    pub fn fit(params: &GbmParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
        params.check()?;
        let counts = check_labels(x, y, n_classes)?;
        x.check_finite()?;
        let n = x.rows;
        // Log priors (a class absent from the training rows gets a very low score).
        let init: Vec<f64> = counts
            .iter()
            .map(|&c| ((c as f64).max(1e-3) / n as f64).ln())
            .collect();
        let order: Vec<Vec<usize>> = (0..x.cols)
            .map(|f| {
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by(|&a, &b| x.get(a, f).total_cmp(&x.get(b, f)).then(a.cmp(&b)));
                o
            })
            .collect();
        let mut raw: Vec<f64> = (0..n).flat_map(|_| init.iter().copied()).collect();
        let mut proba = vec![0.0; n * n_classes];
        let mut residual = vec![0.0; n];
        let mut rounds = Vec::with_capacity(params.n_estimators);
        let n_sub = ((params.subsample * n as f64).round() as usize).clamp(1, n);
        for round in 0..params.n_estimators {
            for i in 0..n {
                let k = n_classes;
                kernel::softmax_into(&raw[i * k..(i + 1) * k], &mut proba[i * k..(i + 1) * k]);
            }
            let mut rows: Vec<usize> = (0..n).collect();
            if n_sub < n {
                Rng::derive(params.seed, round as u64).shuffle(&mut rows);
                rows.truncate(n_sub);
                rows.sort_unstable();
            }
            let mut trees = Vec::with_capacity(n_classes);
            for c in 0..n_classes {
                for i in 0..n {
                    residual[i] = (y[i] == c) as u8 as f64 - proba[i * n_classes + c];
                }
                let g = Grower {
                    x,
                    order: &order,
                    residual: &residual,
                    min_leaf: params.min_samples_leaf,
                    k: n_classes as f64,
                };
                let mut nodes = Vec::new();
                grow(&g, rows.clone(), params.max_depth, &mut nodes, n);
                let tree = Tree { nodes };
                for i in 0..n {
                    raw[i * n_classes + c] += params.learning_rate * tree.predict(x.row(i));
                }
                trees.push(tree);
            }
            rounds.push(trees);
        }
        Ok(Gbm {
            params: params.clone(),
            n_classes,
            n_features: x.cols,
            init,
            rounds,
        })
    }

    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.n_features {
            return Err(LearnError::Columns {
                what: "gbm predict",
                expected: self.n_features,
                got: x.cols,
            });
        }
        x.check_finite()?;
        let k = self.n_classes;
        let mut out = vec![0.0; x.rows * k];
        let mut z = vec![0.0; k];
        for i in 0..x.rows {
            z.copy_from_slice(&self.init);
            let row = x.row(i);
            for trees in &self.rounds {
                for (c, t) in trees.iter().enumerate() {
                    z[c] += self.params.learning_rate * t.predict(row);
                }
            }
            kernel::softmax_into(&z, &mut out[i * k..(i + 1) * k]);
        }
        Ok(Matrix::probabilities(x.rows, k, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One round of depth 1 on four rows, by hand: K = 2, y = 0 0 1 1, x = 1 2 3 4.
    /// Priors 1/2: init 0 for both, p = 1/2. Class 1 residuals -1/2 -1/2 1/2 1/2: the split at
    /// 2.5 gives leaves with Σr = ∓1, Σ|r|(1−|r|) = 1/2, value (1/2)·(∓1)/(1/2) = ∓1.
    #[test]
    fn one_stump_by_hand() {
        let x = Matrix::from_rows(&[vec![1.0], vec![2.0], vec![3.0], vec![4.0]], None).unwrap();
        let y = [0, 0, 1, 1];
        let p = GbmParams {
            n_estimators: 1,
            learning_rate: 1.0,
            max_depth: 1,
            min_samples_leaf: 1,
            ..Default::default()
        };
        let m = Gbm::fit(&p, &x, &y, 2).unwrap();
        let t = &m.rounds[0][1];
        assert_eq!(
            t.nodes[0],
            Node::Split {
                feature: 0,
                threshold: 2.5,
                left: 1,
                right: 2
            }
        );
        assert_eq!(t.nodes[1], Node::Leaf { value: -1.0 });
        assert_eq!(t.nodes[2], Node::Leaf { value: 1.0 });
        // Row 0's raw scores: ln(1/2) + 1 for class 0, ln(1/2) − 1 for class 1 (both trees
        // use the round's starting probabilities), so p0 = e / (e + 1/e) = 1 / (1 + e^−2).
        let pr = m.predict_proba(&x).unwrap();
        let want0 = 1.0 / (1.0 + (-2.0f64).exp());
        assert!((pr.get(0, 0) - want0).abs() < 1e-12, "{}", pr.get(0, 0));
        assert!((pr.get(3, 1) - want0).abs() < 1e-12);
    }

    #[test]
    fn learns_a_three_class_problem_and_is_seed_deterministic() {
        let rows: Vec<Vec<f64>> = (0..90)
            .map(|i| {
                vec![
                    (i % 3) as f64 + 0.3 * ((i * 7) % 5) as f64,
                    ((i * 3) % 11) as f64,
                ]
            })
            .collect();
        let y: Vec<usize> = (0..90).map(|i| i % 3).collect();
        let x = Matrix::from_rows(&rows, None).unwrap();
        let p = GbmParams {
            subsample: 0.7,
            seed: 3,
            ..Default::default()
        };
        let a = Gbm::fit(&p, &x, &y, 3).unwrap();
        let b = Gbm::fit(&p, &x, &y, 3).unwrap();
        assert_eq!(a, b);
        let pr = a.predict_proba(&x).unwrap();
        let correct = (0..90)
            .filter(|&i| {
                let r = pr.row(i);
                (0..3).max_by(|&u, &v| r[u].total_cmp(&r[v])) == Some(y[i])
            })
            .count();
        assert!(correct >= 80, "{correct}");
        for i in 0..90 {
            assert!((pr.row(i).iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let bad = GbmParams {
            learning_rate: 0.0,
            ..Default::default()
        };
        assert!(Gbm::fit(&bad, &x, &y, 3).is_err());
    }
}
