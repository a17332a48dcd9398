//! One tree: its nodes, the Gini impurity, and a node's best split (grown in `grow`).

use renal_stats::Rng;

use super::exact::scan_exact;
use super::params::ForestParams;
use super::presort::{Idx, Presorted};
use super::split::{
    delta_stride, mark, midpoint, scan_dispatch, BitPositions, Column, Cut, COPIES, SMALL_NODE,
};

pub(crate) const LEAF: u32 = u32::MAX;

/// Rows that walk a tree together in [`Tree::leaves_of`].
pub(crate) const LANES: usize = 16;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Node {
    pub(crate) feature: u32,
    pub(crate) threshold: f64,
    pub(crate) left: u32,
    pub(crate) right: u32,
    /// Offset of the leaf's class fractions in `Tree::values`.
    pub(crate) value: u32,
}

impl Node {
    /// A node not split (yet): a leaf until the builder gives it a split or a value.
    pub(crate) const LEAF_PLACEHOLDER: Node = Node {
        feature: LEAF,
        threshold: 0.0,
        left: 0,
        right: 0,
        value: 0,
    };
}

/// One fitted tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<f64>,
}

impl Tree {
    /// The leaf of one row, walked branch by branch (the reference [`Tree::leaves_of`] is
    /// tested against).
    #[cfg(test)]
    pub(crate) fn leaf_of(&self, row: &[f64]) -> usize {
        let mut n = 0usize;
        loop {
            let node = &self.nodes[n];
            if node.feature == LEAF {
                return node.value as usize;
            }
            n = if row[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }

    /// The leaves (value offsets) of `out.len()` rows, `row(i)` being the `i`-th: [`LANES`]
    /// rows at a time walk the tree in lockstep, one level per pass, each step a select
    /// rather than a branch, so their loads overlap. Each row ends where a one-row walk ends.
    pub(crate) fn leaves_of<'a>(&self, row: impl Fn(usize) -> &'a [f64], out: &mut [usize]) {
        for (c, chunk) in out.chunks_mut(LANES).enumerate() {
            let first = c * LANES;
            let mut at = [0usize; LANES];
            let at = &mut at[..chunk.len()];
            loop {
                let mut moved = false;
                for (l, a) in at.iter_mut().enumerate() {
                    let node = &self.nodes[*a];
                    if node.feature != LEAF {
                        moved = true;
                        let left = row(first + l)[node.feature as usize] <= node.threshold;
                        *a = if left { node.left } else { node.right } as usize;
                    }
                }
                if !moved {
                    break;
                }
            }
            for (o, a) in chunk.iter_mut().zip(at.iter()) {
                *o = self.nodes[*a].value as usize;
            }
        }
    }

    /// Checks a tree read back from a file before it is walked: from the root every split's
    /// children are nodes of the tree, each reached once ([`check_walk`]), every split's
    /// feature is below `n_features`, and every leaf's `n_classes` fractions lie within
    /// `values`.
    pub(crate) fn validate(&self, n_features: usize, n_classes: usize) -> Result<(), TreeFault> {
        check_walk(self.nodes.len(), |i| {
            let node = &self.nodes[i];
            if node.feature == LEAF {
                let end = (node.value as usize).checked_add(n_classes);
                if end.is_none_or(|e| e > self.values.len()) {
                    return Err(TreeFault::LeafBeyondValues {
                        leaf: i,
                        at: node.value as usize,
                        stored: self.values.len(),
                    });
                }
                Ok(None)
            } else if node.feature as usize >= n_features {
                Err(TreeFault::Feature {
                    node: i,
                    feature: node.feature as usize,
                    n_features,
                })
            } else {
                Ok(Some((node.left as usize, node.right as usize)))
            }
        })
    }

    /// Number of nodes (for inspection and tests).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Why a tree read back from a file cannot be walked (the first fault found).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum TreeFault {
    #[error("a tree without nodes")]
    NoNodes,
    #[error("a split points to node {node} of {n}")]
    ChildOutside { node: usize, n: usize },
    #[error("node {node} is reached twice (a cycle or a shared node)")]
    ReachedTwice { node: usize },
    #[error("node {node} splits on feature {feature} of {n_features}")]
    Feature {
        node: usize,
        feature: usize,
        n_features: usize,
    },
    #[error("leaf {leaf}'s class fractions at {at} are beyond the {stored} stored values")]
    LeafBeyondValues {
        leaf: usize,
        at: usize,
        stored: usize,
    },
}

/// Walks a stored tree of `n` nodes from its root (node 0): `node(i)` checks node `i` and
/// gives its children (`None` for a leaf). Every child must be a node of the tree reached
/// once (no cycle, no node shared by two parents), so that every walk from the root ends at a
/// leaf; the first fault is the error.
pub(crate) fn check_walk(
    n: usize,
    mut node: impl FnMut(usize) -> Result<Option<(usize, usize)>, TreeFault>,
) -> Result<(), TreeFault> {
    if n == 0 {
        return Err(TreeFault::NoNodes);
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        let Some(was) = seen.get_mut(i) else {
            return Err(TreeFault::ChildOutside { node: i, n });
        };
        if std::mem::replace(was, true) {
            return Err(TreeFault::ReachedTwice { node: i });
        }
        if let Some((left, right)) = node(i)? {
            stack.push(left);
            stack.push(right);
        }
    }
    Ok(())
}

/// The ranks `rank` of a small node's rows `samples`, sorted into `small` (insertion).
fn sort_small<T: Idx>(small: &mut Vec<T>, rank: &[T], samples: &[usize]) {
    small.clear();
    for &s in samples {
        let r = rank[s];
        let mut q = small.len();
        small.push(r);
        while q > 0 && small[q - 1] > r {
            small[q] = small[q - 1];
            q -= 1;
        }
        small[q] = r;
    }
}

/// Whether a feature (each row's position `rank`, each position's value `group`) takes more
/// than one value on the rows `samples`: its lowest and highest positions hold different values.
fn varies<T: Idx>(rank: &[T], group: &[T], samples: &[usize]) -> bool {
    let (mut lo, mut hi) = (usize::MAX, 0);
    for &s in samples {
        let r = rank[s].ix();
        lo = lo.min(r);
        hi = hi.max(r);
    }
    lo < hi && group[lo].ix() != group[hi].ix()
}

pub(crate) fn gini(counts: &[f64], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    1.0 - counts
        .iter()
        .map(|c| (c / total) * (c / total))
        .sum::<f64>()
}

pub(crate) struct Builder<'a, T> {
    pub(crate) pre: &'a Presorted<T>,
    pub(crate) n: usize,
    pub(crate) p: usize,
    pub(crate) y: &'a [usize],
    pub(crate) w: Vec<f64>,
    pub(crate) k: usize,
    pub(crate) params: &'a ForestParams,
    pub(crate) max_features: usize,
    /// Scratch: [`COPIES`] bitsets of the training set (see [`mark`]).
    pub(crate) bits: Vec<u64>,
    /// Scratch: a small node's ranks, sorted.
    pub(crate) small: Vec<T>,
    /// Nodes of at most this many rows may sort their ranks (see [`SMALL_NODE`]).
    pub(crate) small_node: usize,
    /// Per row of the current node, its increments of the scan's state (see [`Column::delta`]).
    pub(crate) delta: Vec<f64>,
    /// Whether nodes are scanned by [`scan_exact`] (integer weights, a small enough total, at
    /// most three classes).
    pub(crate) exact: bool,
    /// Scratch of [`scan_exact`]: a node's sorted positions.
    pub(crate) pos: Vec<u32>,
}

/// Which node scans a fit may take: nodes of at most `small_node` rows may sort their ranks
/// ([`SMALL_NODE`]), and `exact` allows [`scan_exact`] where it applies. Every choice grows the
/// same trees; tests compare them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paths {
    pub(crate) small_node: usize,
    pub(crate) exact: bool,
}

impl Paths {
    pub(crate) const DEFAULT: Paths = Paths {
        small_node: SMALL_NODE,
        exact: true,
    };
}

pub(crate) struct Split {
    pub(crate) feature: usize,
    pub(crate) threshold: f64,
    pub(crate) improvement: f64,
}

impl<T: Idx> Builder<'_, T> {
    pub(crate) fn class_counts(&self, samples: &[usize]) -> (Vec<f64>, f64) {
        let mut c = vec![0.0; self.k];
        for &s in samples {
            c[self.y[s]] += self.w[s];
        }
        let t = c.iter().sum();
        (c, t)
    }

    /// Each row's increments of the scan's state for this node (see `Column::delta`): the same
    /// for every feature tried at the node, so written once per node.
    fn fill_delta(&mut self, samples: &[usize], counts: &[f64], total: f64) {
        let (k, stride) = (self.k, delta_stride(self.k));
        for &s in samples {
            let (w, ys) = (self.w[s], self.y[s]);
            let d = &mut self.delta[s * stride..(s + 1) * stride];
            for (c, dc) in d[..k].iter_mut().enumerate() {
                *dc = if c == ys { total * w } else { 0.0 } - w * counts[c];
            }
            d[stride - 1] = w;
        }
    }

    /// The best split of a node's rows `samples` (class weights `counts`, total `total`) over
    /// `max_features` features drawn with `rng` (`order`: the lazy Fisher-Yates state), leaving
    /// at least `msl` rows on each side.
    pub(crate) fn best_split(
        &mut self,
        samples: &[usize],
        (counts, total): (&[f64], f64),
        msl: usize,
        rng: &mut Rng,
        order: &mut [usize],
    ) -> Option<Split> {
        let p = self.p;
        let n = self.n;
        let m = samples.len();
        let mut best: Option<(usize, Cut)> = None;
        self.fill_delta(samples, counts, total);
        // The best cut's d and wl * wr so far (see `scan`), compared as a fraction: exactly, with
        // integer weights, so a later feature wins only if strictly better.
        let mut beat = (f64::NEG_INFINITY, 1.0);
        // With exact states (`self.exact`) a cut that leaves both sides pure reaches the most any
        // cut can, the node's whole impurity: `d = (t^2 - sum_k c_k^2) wl wr` (see `scan`).
        // Once the best cut is such a one, no later feature can beat it (compared on exact
        // values, or rounded from them, which keeps their order), so the later features are only
        // drawn, and checked for being constant, as the scan would: the same draws, the same
        // count of features tried, the same split.
        let perfect = self
            .exact
            .then(|| total * total - counts.iter().map(|c| c * c).sum::<f64>());
        let mut settled = false;
        let mut visited = 0;
        let mut i = 0;
        // Draw features one by one without replacement (lazy Fisher-Yates), skipping features
        // that are constant in this node, until `max_features` non-constant ones were tried.
        while i < p && visited < self.max_features {
            let j = i + rng.below(p - i);
            order.swap(i, j);
            let f = order[i];
            i += 1;
            let rank = &self.pre.rank[f * n..(f + 1) * n];
            let distinct = self.pre.distinct[f];
            let col = Column {
                row_at: &self.pre.row_at[f * n..(f + 1) * n],
                group: &self.pre.group[f * n..(f + 1) * n],
                delta: &self.delta,
            };
            if settled {
                if distinct || varies(rank, col.group, samples) {
                    visited += 1;
                }
                continue;
            }
            let found = if m <= self.small_node && m * 8 * COPIES <= self.bits.len() {
                // Few rows and a large training set: sort the rows' ranks directly (insertion
                // sort) instead of clearing and walking a bitset sized for the whole set.
                sort_small(&mut self.small, rank, samples);
                let pos = self.small.iter().map(|&r| r.ix());
                scan_dispatch(&col, pos, self.k, distinct, total, m, msl, beat)
            } else if self.exact {
                let bits = mark(rank, samples, &mut self.bits);
                let pos = &mut self.pos;
                if distinct {
                    scan_exact::<true, _>(&col, bits, pos, total, m, msl, beat)
                } else {
                    scan_exact::<false, _>(&col, bits, pos, total, m, msl, beat)
                }
            } else {
                let pos = BitPositions::new(mark(rank, samples, &mut self.bits));
                scan_dispatch(&col, pos, self.k, distinct, total, m, msl, beat)
            };
            let Some(found) = found else {
                continue; // constant in this node
            };
            visited += 1;
            if let Some(c) = found {
                settled = perfect.is_some_and(|b| c.d == b * c.den);
                beat = (c.d, c.den);
                best = Some((f, c));
            }
        }
        // The threshold of the best cut only (its two values are read once, not at every
        // improvement on the way).
        best.map(|(f, c)| {
            let sorted = &self.pre.sorted[f * n..(f + 1) * n];
            Split {
                feature: f,
                threshold: midpoint(sorted[c.below], sorted[c.above]),
                // total * impurity - wl * gini_left - wr * gini_right, which is
                // d / (total wl wr) (see `scan`).
                improvement: c.d / (total * c.wl * (total - c.wl)),
            }
        })
    }
}
