//! Growing trees node by node, depth first, on a bootstrap sample: one tree, or a family of trees
//! that differ only in `min_samples_leaf`, grown together while they agree.
//!
//! The trees of a grid's leaf sizes (same seed, so the same bootstrap and the same random
//! stream) are the same tree until the first node where they decide differently: where a
//! larger leaf size stops a node that a smaller one splits, or where the best cut leaves fewer
//! rows on a side than a larger leaf size allows. Up to there they draw the same features and
//! find the same cuts (the best cut over all allowed cuts, when a larger leaf size allows it, is
//! also the best of the fewer cuts that size allows, and the first of equals in the same order),
//! so the family grows one tree and scans each node once, with the smallest leaf size. At such a
//! node the members that decide differently part: they go on from the state before the node
//! (the tree so far, the random stream, the feature order and the rows' order), so each tree
//! is, node for node, the one grown alone. The first levels, where nodes are largest, are the
//! ones shared.

use rayon::prelude::*;
use renal_stats::Rng;

use super::exact::EXACT_TOTAL;
use super::params::ForestParams;
use super::presort::{Idx, Presorted};
use super::split::{delta_stride, COPIES};
use super::tree::{gini, Builder, Node, Paths, Tree};

/// A node on the work stack: its index in the tree, its rows `samples[start..end]`, its depth.
type Pending = (usize, usize, usize, usize);

/// One tree being grown for the family's members `members` (indices into its leaf sizes), which
/// agree on every node so far.
#[derive(Clone)]
pub(crate) struct Growth {
    pub(crate) members: Vec<usize>,
    pub(crate) tree: Tree,
    pub(crate) importance: Vec<f64>,
    pub(crate) rng: Rng,
    /// The bootstrap's distinct rows, each node's a contiguous range.
    pub(crate) samples: Vec<usize>,
    pub(crate) stack: Vec<Pending>,
    /// Feature permutation state for the lazy Fisher-Yates draws (any start order is uniform).
    pub(crate) order: Vec<usize>,
}

/// What a node's processing must restore for members that part there.
struct Before {
    rng: Rng,
    order: Vec<usize>,
    rows: Vec<usize>,
}

impl Growth {
    /// This growth as it was before `top` was taken from its stack (`before` holds what the node
    /// changed), for the members `members`.
    fn part(&self, members: Vec<usize>, top: Pending, before: &Before) -> Growth {
        let mut samples = self.samples.clone();
        samples[top.1..top.2].copy_from_slice(&before.rows);
        let mut stack = self.stack.clone();
        stack.push(top);
        Growth {
            members,
            tree: self.tree.clone(),
            importance: self.importance.clone(),
            rng: before.rng.clone(),
            samples,
            stack,
            order: before.order.clone(),
        }
    }
}

impl<T: Idx> Builder<'_, T> {
    /// Grows `g` until its stack is empty; members that part from it on the way are pushed on
    /// `parted`, each to be grown the same way. `leaf` holds the family's leaf sizes.
    pub(crate) fn grow(&mut self, g: &mut Growth, leaf: &[usize], parted: &mut Vec<Growth>) {
        let max_depth = self.params.max_depth;
        while let Some(top) = g.stack.pop() {
            let (node, start, end, depth) = top;
            let (counts, total) = self.class_counts(&g.samples[start..end]);
            let impurity = gini(&counts, total);
            let n = end - start;
            let stops = |msl: usize| {
                n < 2
                    || n < 2 * msl
                    || max_depth.is_some_and(|d| depth >= d)
                    || impurity <= f64::EPSILON
            };
            let before = (g.members.len() > 1).then(|| Before {
                rng: g.rng.clone(),
                order: g.order.clone(),
                rows: g.samples[start..end].to_vec(),
            });
            // Members that stop here part from those that split it.
            if let Some(b) = &before {
                let (stop, go): (Vec<usize>, Vec<usize>) =
                    g.members.iter().partition(|&&v| stops(leaf[v]));
                if !stop.is_empty() && !go.is_empty() {
                    parted.push(g.part(stop, top, b));
                    g.members = go;
                }
            }
            let msl = g.members.iter().map(|&v| leaf[v]).min().unwrap_or(1);
            let split = if stops(msl) {
                None
            } else {
                let rows = &g.samples[start..end];
                self.best_split(rows, (&counts, total), msl, &mut g.rng, &mut g.order)
            };
            let Some(s) = split else {
                let off = g.tree.values.len();
                g.tree.values.extend(counts.iter().map(|c| c / total));
                g.tree.nodes[node].value = off as u32;
                continue;
            };
            let seg = &mut g.samples[start..end];
            let mut mid = 0;
            let col = &self.pre.xt[s.feature * self.n..(s.feature + 1) * self.n];
            for q in 0..seg.len() {
                if col[seg[q]] <= s.threshold {
                    seg.swap(q, mid);
                    mid += 1;
                }
            }
            // Members whose leaf size this cut breaks part (they find their own cut here).
            if let Some(b) = &before {
                let fits = |v: &usize| mid >= leaf[*v] && n - mid >= leaf[*v];
                let (keep, part): (Vec<usize>, Vec<usize>) =
                    g.members.iter().copied().partition(fits);
                if !part.is_empty() {
                    parted.push(g.part(part, top, b));
                    g.members = keep;
                }
            }
            g.importance[s.feature] += s.improvement;
            let l = g.tree.nodes.len();
            g.tree.nodes.push(Node::LEAF_PLACEHOLDER);
            g.tree.nodes.push(Node::LEAF_PLACEHOLDER);
            let nd = &mut g.tree.nodes[node];
            nd.feature = s.feature as u32;
            nd.threshold = s.threshold;
            nd.left = l as u32;
            nd.right = (l + 1) as u32;
            g.stack.push((l + 1, start + mid, end, depth + 1));
            g.stack.push((l, start, start + mid, depth + 1));
        }
    }
}

/// What every tree of a fit shares besides the sorted training set: the labels, the class
/// weights and the parameters (all but the leaf size, `leaf`, one per member of the family).
pub(crate) struct Plan<'a> {
    pub(crate) p: usize,
    pub(crate) y: &'a [usize],
    pub(crate) k: usize,
    pub(crate) class_w: &'a [f64],
    pub(crate) params: &'a ForestParams,
    pub(crate) leaf: &'a [usize],
    pub(crate) max_features: usize,
    pub(crate) paths: Paths,
}

/// Tree `t` of every member of the family, on the training set sorted in `pre`: its nodes and its normalised impurity decreases,
/// one per leaf size, in `plan.leaf`'s order.
pub(crate) fn fit_tree<T: Idx>(pre: &Presorted<T>, plan: &Plan, t: usize) -> Vec<(Tree, Vec<f64>)> {
    let params = plan.params;
    let (n, k) = (pre.n, plan.k);
    let mut rng = Rng::derive(params.seed, t as u64);
    let mut counts = vec![0.0f64; n];
    if params.bootstrap {
        for _ in 0..n {
            counts[rng.below(n)] += 1.0;
        }
    } else {
        counts.iter_mut().for_each(|c| *c = 1.0);
    }
    let w: Vec<f64> = (0..n)
        .map(|i| counts[i] * plan.class_w[plan.y[i]])
        .collect();
    let exact = plan.paths.exact
        && k <= 3
        && w.iter().all(|v| *v >= 0.0 && v.fract() == 0.0)
        && w.iter().sum::<f64>() < EXACT_TOTAL;
    let samples: Vec<usize> = (0..n).filter(|&i| counts[i] > 0.0).collect();
    let mut b = Builder {
        pre,
        bits: vec![0; n.div_ceil(64) * COPIES],
        small: Vec::with_capacity(plan.paths.small_node),
        small_node: plan.paths.small_node,
        n,
        p: plan.p,
        y: plan.y,
        w,
        k,
        params,
        max_features: plan.max_features,
        delta: vec![0.0; n * delta_stride(k)],
        exact,
        pos: vec![0; n + 8],
    };
    let mut work = vec![Growth {
        members: (0..plan.leaf.len()).collect(),
        tree: Tree {
            nodes: vec![Node::LEAF_PLACEHOLDER],
            values: Vec::new(),
        },
        importance: vec![0.0; plan.p],
        rng,
        stack: vec![(0, 0, samples.len(), 0)],
        samples,
        order: (0..plan.p).collect(),
    }];
    let mut done: Vec<Option<(Tree, Vec<f64>)>> = vec![None; plan.leaf.len()];
    while let Some(mut g) = work.pop() {
        b.grow(&mut g, plan.leaf, &mut work);
        let total: f64 = g.importance.iter().sum();
        if total > 0.0 {
            g.importance.iter_mut().for_each(|v| *v /= total);
        }
        for &v in &g.members {
            done[v] = Some((g.tree.clone(), g.importance.clone()));
        }
    }
    done.into_iter().flatten().collect()
}

/// Every tree of every member of the family, tree by tree in parallel (tree `t` draws from its
/// own stream, so the forest is the same on any number of threads).
pub(crate) fn fit_trees<T: Idx>(pre: &Presorted<T>, plan: &Plan) -> Vec<Vec<(Tree, Vec<f64>)>> {
    (0..plan.params.n_trees)
        .into_par_iter()
        .map(|t| fit_tree(pre, plan, t))
        .collect()
}
