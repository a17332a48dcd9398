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
//! # References
//! Breiman L (2001). Random forests. Machine Learning 45:5-32. Pedregosa F et al. (2011).
//! Scikit-learn: machine learning in Python. JMLR 12:2825-2830.

use rayon::prelude::*;
use renal_stats::Rng;

use crate::error::{LearnError, Result};
use crate::matrix::{check_labels, Matrix};

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
    fn resolve(self, p: usize) -> usize {
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

    fn validate(&self) -> Result<()> {
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

const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Node {
    feature: u32,
    threshold: f64,
    left: u32,
    right: u32,
    /// Offset of the leaf's class fractions in `Tree::values`.
    value: u32,
}

/// One fitted tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    nodes: Vec<Node>,
    values: Vec<f64>,
}

impl Tree {
    fn leaf_of(&self, row: &[f64]) -> usize {
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

    /// Number of nodes (for inspection and tests).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomForest {
    pub params: ForestParams,
    pub n_classes: usize,
    pub n_features: usize,
    pub trees: Vec<Tree>,
    importances: Vec<f64>,
}

fn gini(counts: &[f64], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    1.0 - counts
        .iter()
        .map(|c| (c / total) * (c / total))
        .sum::<f64>()
}

/// Compact index type of the presorted tables: `u16` when the training set has at most 65536
/// rows (a third of the cache footprint of `u32` + `f64`), else `u32`.
trait Idx: Copy + Ord + Send + Sync + 'static {
    fn ix(self) -> usize;
    fn of(i: usize) -> Self;
}

impl Idx for u16 {
    #[inline]
    fn ix(self) -> usize {
        self as usize
    }
    #[inline]
    fn of(i: usize) -> Self {
        i as u16
    }
}

impl Idx for u32 {
    #[inline]
    fn ix(self) -> usize {
        self as usize
    }
    #[inline]
    fn of(i: usize) -> Self {
        i as u32
    }
}

/// One sort per feature for the whole forest (ties broken by row, so positions are unique).
struct Presorted<T> {
    n: usize,
    /// Column-major copy of the training matrix: feature `f` of row `s` at `xt[f * n + s]`.
    xt: Vec<f64>,
    /// Per feature, each row's position in the feature's sorted order (`rank[f * n + s]`) and
    /// the row at each position (`row_at[f * n + pos]`): a node's rows come out sorted by
    /// marking their positions in a bitset, in O(rows + n / 64) instead of a sort.
    rank: Vec<T>,
    row_at: Vec<T>,
    /// Per position, the index of its distinct value (equal values, equal group), so the scan
    /// detects ties without reading the f64 values.
    group: Vec<T>,
    /// The values in sorted order (`sorted[f * n + pos]`), read only for a chosen threshold.
    sorted: Vec<f64>,
    /// Per feature, whether all its values differ (no ties: the scan skips the group check).
    distinct: Vec<bool>,
}

impl<T: Idx> Presorted<T> {
    fn new(x: &Matrix) -> Self {
        let (n, p) = (x.rows, x.cols);
        let mut xt = vec![0.0; n * p];
        for i in 0..n {
            for j in 0..p {
                xt[j * n + i] = x.get(i, j);
            }
        }
        let zero = T::of(0);
        let mut rank = vec![zero; n * p];
        let mut row_at = vec![zero; n * p];
        let mut group = vec![zero; n * p];
        let mut sorted = vec![0.0f64; n * p];
        let mut distinct = vec![false; p];
        let mut keys: Vec<(u64, u32)> = Vec::with_capacity(n);
        for j in 0..p {
            let col = &xt[j * n..(j + 1) * n];
            // Sort (value, row) by a u64 key with f64::total_cmp's order: no indirection in
            // the comparisons, and the row makes every key unique, so unstable is enough.
            keys.clear();
            keys.extend(
                col.iter()
                    .enumerate()
                    .map(|(r, v)| (total_order_key(*v), r as u32)),
            );
            keys.sort_unstable();
            let mut g = 0;
            for (pos, &(key, r)) in keys.iter().enumerate() {
                if pos > 0 && key != keys[pos - 1].0 {
                    g += 1;
                }
                rank[j * n + r as usize] = T::of(pos);
                row_at[j * n + pos] = T::of(r as usize);
                group[j * n + pos] = T::of(g);
                sorted[j * n + pos] = col[r as usize];
            }
            distinct[j] = g + 1 == n;
        }
        Presorted {
            n,
            xt,
            rank,
            row_at,
            group,
            sorted,
            distinct,
        }
    }
}

struct Builder<'a, T> {
    pre: &'a Presorted<T>,
    n: usize,
    p: usize,
    y: &'a [usize],
    w: Vec<f64>,
    k: usize,
    params: &'a ForestParams,
    max_features: usize,
    tree: Tree,
    importance: Vec<f64>,
    bits: Vec<u64>,
    /// Scratch: a small node's ranks, sorted.
    small: Vec<T>,
    /// Nodes of at most this many rows may sort their ranks (see [`SMALL_NODE`]).
    small_node: usize,
    /// Per row of the current node, its increments of the scan's state (see [`Column::delta`]).
    delta: Vec<f64>,
    /// Feature permutation state for the lazy Fisher-Yates draws (any start order is uniform).
    order: Vec<usize>,
}

struct Split {
    feature: usize,
    threshold: f64,
    improvement: f64,
}

impl<T: Idx> Builder<'_, T> {
    fn class_counts(&self, samples: &[usize]) -> (Vec<f64>, f64) {
        let mut c = vec![0.0; self.k];
        for &s in samples {
            c[self.y[s]] += self.w[s];
        }
        let t = c.iter().sum();
        (c, t)
    }

    fn best_split(
        &mut self,
        samples: &[usize],
        counts: &[f64],
        total: f64,
        rng: &mut Rng,
    ) -> Option<Split> {
        let p = self.p;
        let n = self.n;
        let m = samples.len();
        let msl = self.params.min_samples_leaf;
        let mut best: Option<Split> = None;
        // Each row's increments of the scan's state for this node (see `Column::delta`): the
        // same for every feature tried here, so written once per node.
        let (k, stride) = (self.k, delta_stride(self.k));
        for &s in samples {
            let (w, ys) = (self.w[s], self.y[s]);
            let d = &mut self.delta[s * stride..(s + 1) * stride];
            for (c, dc) in d[..k].iter_mut().enumerate() {
                *dc = if c == ys { total * w } else { 0.0 } - w * counts[c];
            }
            d[stride - 1] = w;
        }
        // The best cut's d and wl * wr so far (see `scan`), compared as a fraction: exactly, with
        // integer weights, so a later feature wins only if strictly better.
        let mut beat = (f64::NEG_INFINITY, 1.0);
        let mut visited = 0;
        let mut i = 0;
        // Draw features one by one without replacement (lazy Fisher-Yates), skipping features
        // that are constant in this node, until `max_features` non-constant ones were tried.
        while i < p && visited < self.max_features {
            let j = i + rng.below(p - i);
            self.order.swap(i, j);
            let f = self.order[i];
            i += 1;
            let rank = &self.pre.rank[f * n..(f + 1) * n];
            let distinct = self.pre.distinct[f];
            let col = Column {
                row_at: &self.pre.row_at[f * n..(f + 1) * n],
                group: &self.pre.group[f * n..(f + 1) * n],
                delta: &self.delta,
            };
            let found = if m <= self.small_node && m * 8 <= self.bits.len() {
                // Few rows and a large training set: sort the rows' ranks directly (insertion
                // sort) instead of clearing and walking a bitset sized for the whole set.
                self.small.clear();
                for &s in samples {
                    let r = rank[s];
                    let mut q = self.small.len();
                    self.small.push(r);
                    while q > 0 && self.small[q - 1] > r {
                        self.small[q] = self.small[q - 1];
                        q -= 1;
                    }
                    self.small[q] = r;
                }
                let pos = self.small.iter().map(|&r| r.ix());
                scan_dispatch(&col, pos, self.k, distinct, total, m, msl, beat)
            } else {
                self.bits.iter_mut().for_each(|b| *b = 0);
                for &s in samples {
                    let r = rank[s].ix();
                    self.bits[r >> 6] |= 1 << (r & 63);
                }
                let pos = BitPositions::new(&self.bits);
                scan_dispatch(&col, pos, self.k, distinct, total, m, msl, beat)
            };
            let Some(found) = found else {
                continue; // constant in this node
            };
            visited += 1;
            if let Some(c) = found {
                beat = (c.d, c.den);
                let sorted = &self.pre.sorted[f * n..(f + 1) * n];
                best = Some(Split {
                    feature: f,
                    threshold: midpoint(sorted[c.below], sorted[c.above]),
                    // total * impurity - wl * gini_left - wr * gini_right, which is
                    // d / (total wl wr) (see `scan`).
                    improvement: c.d / (total * c.wl * (total - c.wl)),
                });
            }
        }
        best
    }

    fn grow(&mut self, samples: &mut [usize], rng: &mut Rng) {
        // (node index, start, end, depth) work stack over `samples`.
        let mut stack = vec![(0usize, 0usize, samples.len(), 0usize)];
        self.tree.nodes.push(Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: 0,
        });
        while let Some((node, start, end, depth)) = stack.pop() {
            let (counts, total) = self.class_counts(&samples[start..end]);
            let impurity = gini(&counts, total);
            let n = end - start;
            let stop = n < 2
                || n < 2 * self.params.min_samples_leaf
                || self.params.max_depth.is_some_and(|d| depth >= d)
                || impurity <= f64::EPSILON;
            let split = if stop {
                None
            } else {
                self.best_split(&samples[start..end], &counts, total, rng)
            };
            match split {
                None => {
                    let off = self.tree.values.len();
                    self.tree.values.extend(counts.iter().map(|c| c / total));
                    self.tree.nodes[node].value = off as u32;
                }
                Some(s) => {
                    self.importance[s.feature] += s.improvement;
                    let seg = &mut samples[start..end];
                    let mut mid = 0;
                    let col = &self.pre.xt[s.feature * self.n..(s.feature + 1) * self.n];
                    for q in 0..seg.len() {
                        if col[seg[q]] <= s.threshold {
                            seg.swap(q, mid);
                            mid += 1;
                        }
                    }
                    let l = self.tree.nodes.len();
                    self.tree.nodes.push(Node {
                        feature: LEAF,
                        threshold: 0.0,
                        left: 0,
                        right: 0,
                        value: 0,
                    });
                    self.tree.nodes.push(Node {
                        feature: LEAF,
                        threshold: 0.0,
                        left: 0,
                        right: 0,
                        value: 0,
                    });
                    let nd = &mut self.tree.nodes[node];
                    nd.feature = s.feature as u32;
                    nd.threshold = s.threshold;
                    nd.left = l as u32;
                    nd.right = (l + 1) as u32;
                    stack.push((l + 1, start + mid, end, depth + 1));
                    stack.push((l, start, start + mid, depth + 1));
                }
            }
        }
    }
}

/// Nodes with at most this many rows, and at most an eighth as many as the bitset has words,
/// sort their rows' ranks instead of using the bitset (an insertion sort costs about one
/// mispredicted branch per row; the bitset, two passes over its words).
const SMALL_NODE: usize = 24;

/// The set bits of a bitset, lowest first.
struct BitPositions<'a> {
    words: &'a [u64],
    w: usize,
    cur: u64,
}

impl<'a> BitPositions<'a> {
    fn new(words: &'a [u64]) -> Self {
        BitPositions {
            words,
            w: 0,
            cur: words.first().copied().unwrap_or(0),
        }
    }
}

impl Iterator for BitPositions<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.cur == 0 {
            self.w += 1;
            self.cur = *self.words.get(self.w)?;
        }
        let pos = (self.w << 6) + self.cur.trailing_zeros() as usize;
        self.cur &= self.cur - 1;
        Some(pos)
    }
}

/// One feature's sorted order (rows and value groups by position) and the rows' class weights.
struct Column<'a, T> {
    row_at: &'a [T],
    group: &'a [T],
    /// Per row, [`delta_stride`] increments (`delta[row * stride..]`): for each class `c`,
    /// `total * w * [class == c] - w * counts[c]` (the node's class weights `counts`, total
    /// weight `total`, the row's weight `w`), zeros, and `w` in the last slot.
    delta: &'a [f64],
}

/// The best cut of one feature that beats the best so far: between sorted positions `below`
/// and `above` (consecutive rows of the node), with its `d` and left weight `wl` (see [`scan`]).
struct Cut {
    below: usize,
    above: usize,
    d: f64,
    den: f64,
    wl: f64,
}

/// Slots per row in [`Column::delta`]: four for up to three classes (so the fast scan works on
/// aligned groups of four, a zero slot for two classes), else one per class and one for the
/// weight.
fn delta_stride(k: usize) -> usize {
    if k <= 3 {
        4
    } else {
        k + 1
    }
}

/// The best cut so far while scanning a feature, compared as the fraction `num / den`.
struct Best {
    num: f64,
    den: f64,
    cut: Option<Cut>,
}

impl Best {
    fn new((num, den): (f64, f64)) -> Self {
        Best {
            num,
            den,
            cut: None,
        }
    }

    /// Considers the cut between sorted positions `below` and `above`, with `d` and left weight
    /// `wl` (see [`scan`]).
    #[inline(always)]
    fn consider(&mut self, d: f64, wl: f64, total: f64, below: usize, above: usize) {
        let den = wl * (total - wl);
        if d * self.den > self.num * den {
            self.num = d;
            self.den = den;
            self.cut = Some(Cut {
                below,
                above,
                d,
                den,
                wl,
            });
        }
    }
}

/// Scans one feature's rows in sorted order (`positions`) and returns `None` when the feature is
/// constant in the node, else the best cut better than the fraction `beat`, if any. For up to three
/// classes (`delta` in groups of four).
///
/// With the node's class weights `c`, total `t`, and a cut's left class weights `l` (total
/// `wl`, right total `wr = t - wl`), the weighted Gini decrease is
/// `sum_k l_k^2 / wl + sum_k (c_k - l_k)^2 / wr - sum_k c_k^2 / t`, which equals
/// `d / (t * wl * wr)` with `d = sum_k e_k^2` and `e_k = t * l_k - wl * c_k` (the between-group
/// sum of squares of the class indicators). So the best cut maximises `d / (wl * wr)`
/// (scikit-learn's proxy, up to a constant of the node). Each row adds its precomputed
/// increments ([`Column::delta`]) to `(e_0, e_1, e_2, wl)`, four independent additions in
/// registers, so the loop is not serialised through memory; candidates are compared as
/// fractions by cross-multiplication, with no division in the loop. With integer weights
/// (bootstrap counts) every quantity is an exact integer, so the order of the additions does not
/// change which split wins. Without ties in the feature (`DISTINCT`) every row starts a new
/// value, so the loop only runs over the cuts that leave `msl` rows on each side.
#[inline(never)]
fn scan<const DISTINCT: bool, T: Idx, I: Iterator<Item = usize>>(
    col: &Column<T>,
    mut positions: I,
    total: f64,
    m: usize,
    msl: usize,
    beat: (f64, f64),
) -> Option<Option<Cut>> {
    let (delta, _) = col.delta.as_chunks::<4>();
    let mut e = [0.0f64; 4];
    let add = |e: &mut [f64; 4], pos: usize| {
        let inc = &delta[col.row_at[pos].ix()];
        for k in 0..4 {
            e[k] += inc[k];
        }
    };
    let d_of = |e: &[f64; 4]| e[0] * e[0] + e[1] * e[1] + e[2] * e[2];
    let mut best = Best::new(beat);
    if DISTINCT {
        if m < 2 {
            return None;
        }
        if m < 2 * msl {
            return Some(None);
        }
        // Rows 0..msl go left of every allowed cut.
        let mut prev = 0;
        for _ in 0..msl {
            prev = positions.next()?;
            add(&mut e, prev);
        }
        // The cut before row j, for j in msl..=m - msl.
        for _ in msl..=m - msl {
            let pos = positions.next()?;
            best.consider(d_of(&e), e[3], total, prev, pos);
            add(&mut e, pos);
            prev = pos;
        }
        return Some(best.cut);
    }
    let mut walk = Cuts::new(col.group, positions, m, msl);
    for (cut, pos) in walk.by_ref() {
        if let Some(below) = cut {
            best.consider(d_of(&e), e[3], total, below, pos);
        }
        add(&mut e, pos);
    }
    walk.varies.then_some(best.cut)
}

/// A feature's rows in sorted order (`positions`), each as `(cut, position)`: `cut` is
/// `Some(previous position)` when a cut is allowed just before this row (the values differ, by
/// `group`, and at least `msl` of the `m` rows lie on each side). `varies` tells, once walked,
/// whether the feature varies in the node.
struct Cuts<'a, T, I> {
    group: &'a [T],
    positions: I,
    m: usize,
    msl: usize,
    j: usize,
    prev_group: usize,
    prev_pos: usize,
    varies: bool,
}

impl<'a, T: Idx, I: Iterator<Item = usize>> Cuts<'a, T, I> {
    fn new(group: &'a [T], positions: I, m: usize, msl: usize) -> Self {
        Cuts {
            group,
            positions,
            m,
            msl,
            j: 0,
            prev_group: usize::MAX,
            prev_pos: 0,
            varies: false,
        }
    }
}

impl<T: Idx, I: Iterator<Item = usize>> Iterator for Cuts<'_, T, I> {
    type Item = (Option<usize>, usize);
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let pos = self.positions.next()?;
        let (j, g) = (self.j, self.group[pos].ix());
        // Cut between the previous row (the left holds rows 0..j) and this one.
        let mut cut = None;
        if j > 0 && g != self.prev_group {
            self.varies = true;
            if j >= self.msl && self.m - j >= self.msl {
                cut = Some(self.prev_pos);
            }
        }
        self.j += 1;
        self.prev_group = g;
        self.prev_pos = pos;
        Some((cut, pos))
    }
}

/// [`scan`] for up to three classes (with or without the group check), else [`scan_any`].
#[allow(clippy::too_many_arguments)]
fn scan_dispatch<T: Idx, I: Iterator<Item = usize>>(
    col: &Column<T>,
    pos: I,
    k: usize,
    distinct: bool,
    total: f64,
    m: usize,
    msl: usize,
    beat: (f64, f64),
) -> Option<Option<Cut>> {
    match (k <= 3, distinct) {
        (true, true) => scan::<true, _, _>(col, pos, total, m, msl, beat),
        (true, false) => scan::<false, _, _>(col, pos, total, m, msl, beat),
        _ => scan_any(col, pos, k, total, m, msl, beat),
    }
}

/// [`scan`] for any number of classes (`k + 1` slots per row), always checking for ties.
fn scan_any<T: Idx>(
    col: &Column<T>,
    positions: impl Iterator<Item = usize>,
    k: usize,
    total: f64,
    m: usize,
    msl: usize,
    beat: (f64, f64),
) -> Option<Option<Cut>> {
    // e_0..e_{k-1}, then wl.
    let mut state = vec![0.0f64; k + 1];
    let mut best = Best::new(beat);
    let mut walk = Cuts::new(col.group, positions, m, msl);
    for (cut, pos) in walk.by_ref() {
        if let Some(below) = cut {
            let d: f64 = state[..k].iter().map(|e| e * e).sum();
            best.consider(d, state[k], total, below, pos);
        }
        let row = col.row_at[pos].ix();
        for (v, inc) in state
            .iter_mut()
            .zip(&col.delta[row * (k + 1)..(row + 1) * (k + 1)])
        {
            *v += inc;
        }
    }
    walk.varies.then_some(best.cut)
}

/// A key whose unsigned order is `f64::total_cmp`'s order.
fn total_order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The threshold half-way between two consecutive distinct values (scikit-learn's rule, falling
/// back to the lower value when the midpoint rounds up to the upper one or overflows).
fn midpoint(v: f64, vn: f64) -> f64 {
    let t = v / 2.0 + vn / 2.0;
    if t >= vn || !t.is_finite() {
        v
    } else {
        t
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_tree<T: Idx>(
    pre: &Presorted<T>,
    p: usize,
    y: &[usize],
    k: usize,
    class_w: &[f64],
    params: &ForestParams,
    max_features: usize,
    small_node: usize,
    t: usize,
) -> (Tree, Vec<f64>) {
    let n = pre.n;
    let mut rng = Rng::derive(params.seed, t as u64);
    let mut counts = vec![0.0f64; n];
    if params.bootstrap {
        for _ in 0..n {
            counts[rng.below(n)] += 1.0;
        }
    } else {
        counts.iter_mut().for_each(|c| *c = 1.0);
    }
    let w: Vec<f64> = (0..n).map(|i| counts[i] * class_w[y[i]]).collect();
    let mut samples: Vec<usize> = (0..n).filter(|&i| counts[i] > 0.0).collect();
    let mut b = Builder {
        pre,
        bits: vec![0; n.div_ceil(64)],
        small: Vec::with_capacity(small_node),
        small_node,
        order: (0..p).collect(),
        n,
        p,
        y,
        w,
        k,
        params,
        max_features,
        tree: Tree {
            nodes: Vec::new(),
            values: Vec::new(),
        },
        importance: vec![0.0; p],
        delta: vec![0.0; n * delta_stride(k)],
    };
    b.grow(&mut samples, &mut rng);
    let mut imp = b.importance;
    let total: f64 = imp.iter().sum();
    if total > 0.0 {
        imp.iter_mut().for_each(|v| *v /= total);
    }
    (b.tree, imp)
}

#[allow(clippy::too_many_arguments)]
fn fit_trees<T: Idx>(
    pre: &Presorted<T>,
    p: usize,
    y: &[usize],
    k: usize,
    class_w: &[f64],
    params: &ForestParams,
    mf: usize,
    small_node: usize,
) -> Vec<(Tree, Vec<f64>)> {
    (0..params.n_trees)
        .into_par_iter()
        .map(|t| fit_tree(pre, p, y, k, class_w, params, mf, small_node, t))
        .collect()
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
        let counts = check_labels(x, y, n_classes)?;
        Self::fit_checked(
            params,
            &ForestData::new(x)?,
            y,
            n_classes,
            &counts,
            SMALL_NODE,
        )
    }

    /// [`RandomForest::fit`] on a matrix already sorted by [`ForestData::new`].
    pub fn fit_data(
        params: &ForestParams,
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        Self::fit_with(params, data, y, n_classes, SMALL_NODE)
    }

    /// [`RandomForest::fit_data`] with nodes of at most `small_node` rows allowed the
    /// small-node path (tests compare it with the bitset path).
    fn fit_with(
        params: &ForestParams,
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
        small_node: usize,
    ) -> Result<Self> {
        params.validate()?;
        let counts = check_labels(data.x, y, n_classes)?;
        Self::fit_checked(params, data, y, n_classes, &counts, small_node)
    }

    /// The fit itself, once `params` are valid and `y` (with class `counts`) fits `data`.
    fn fit_checked(
        params: &ForestParams,
        data: &ForestData,
        y: &[usize],
        n_classes: usize,
        counts: &[usize],
        small_node: usize,
    ) -> Result<Self> {
        let x = data.x;
        let class_w: Vec<f64> = if params.balanced {
            counts
                .iter()
                .map(|&c| {
                    if c == 0 {
                        0.0
                    } else {
                        x.rows as f64 / (n_classes as f64 * c as f64)
                    }
                })
                .collect()
        } else {
            vec![1.0; n_classes]
        };
        let mf = params.max_features.resolve(x.cols);
        let p = x.cols;
        let fitted = match &data.pre {
            AnyPresorted::Small(pre) => {
                fit_trees(pre, p, y, n_classes, &class_w, params, mf, small_node)
            }
            AnyPresorted::Large(pre) => {
                fit_trees(pre, p, y, n_classes, &class_w, params, mf, small_node)
            }
        };
        let mut importances = vec![0.0; x.cols];
        let mut trees = Vec::with_capacity(fitted.len());
        for (tree, imp) in fitted {
            for (a, b) in importances.iter_mut().zip(&imp) {
                *a += b;
            }
            trees.push(tree);
        }
        let s: f64 = importances.iter().sum();
        if s > 0.0 {
            importances.iter_mut().for_each(|v| *v /= s);
        }
        Ok(RandomForest {
            params: params.clone(),
            n_classes,
            n_features: x.cols,
            trees,
            importances,
        })
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
        for i in 0..x.rows {
            let row = x.row(i);
            let o = &mut out[i * k..(i + 1) * k];
            for t in &self.trees {
                let v = t.leaf_of(row);
                for c in 0..k {
                    o[c] += t.values[v + c];
                }
            }
            // Each tree's leaf fractions sum to 1; the mean can exceed 1 by an ulp: clamp.
            o.iter_mut()
                .for_each(|v| *v = (*v / self.trees.len() as f64).min(1.0));
        }
        Ok(Matrix::new(
            x.rows,
            k,
            out,
            (0..k).map(|c| format!("p{c}")).collect(),
        ))
    }

    /// Mean decrease in impurity per feature, summing to 1.
    pub fn feature_importances(&self) -> &[f64] {
        &self.importances
    }

    pub fn classes(&self) -> Vec<usize> {
        (0..self.n_classes).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small nodes of a large training set sort their rows' ranks; the forest is the one the
    /// bitset path alone grows (same trees, so the same probabilities and importances).
    #[test]
    fn the_small_node_path_grows_the_same_trees() {
        let mut rng = Rng::new(7);
        let (n, p) = (3000, 3);
        let mut rows = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % 3;
            // Few distinct values in feature 2, so ties are exercised too.
            rows.push(vec![
                rng.f64() + 0.3 * c as f64,
                rng.f64(),
                (rng.f64() * 8.0).floor(),
            ]);
            y.push(c);
        }
        let x = Matrix::from_rows(&rows, Some((0..p).map(|j| format!("f{j}")).collect())).unwrap();
        for k in [2, 3] {
            let yk: Vec<usize> = y.iter().map(|&c| c % k).collect();
            let params = ForestParams::default().n_trees(4).seed(3);
            let data = ForestData::new(&x).unwrap();
            let with = RandomForest::fit_with(&params, &data, &yk, k, SMALL_NODE).unwrap();
            let without = RandomForest::fit_with(&params, &data, &yk, k, 0).unwrap();
            // The path is taken: nodes of up to n / 64 / 8 = 5 rows sort their ranks.
            assert!(with.trees.iter().map(Tree::node_count).sum::<usize>() > 1000);
            assert_eq!(with.feature_importances(), without.feature_importances());
            let (a, b) = (
                with.predict_proba(&x).unwrap(),
                without.predict_proba(&x).unwrap(),
            );
            assert_eq!(a.data, b.data);
        }
    }

    /// One tree on all rows and features, grown to depth 2 and 3, against scikit-learn 1.9.1
    /// (`RandomForestClassifier(n_estimators=1, bootstrap=False, max_features=None,
    /// max_depth=d)`, the same values for 30 `random_state`s, so no tie decides them) on 80 rows
    /// of a linear congruential generator that Python reproduces exactly: the splits, the leaf
    /// fractions and the impurity decreases (MDI importances).
    #[test]
    fn a_single_tree_matches_scikit_learn() {
        let mut st: u64 = 12345;
        let mut next = || {
            st = (st * 1103515245 + 12345) % (1 << 31);
            st as f64 / (1u64 << 31) as f64
        };
        let (mut rows, mut y) = (Vec::new(), Vec::new());
        for _ in 0..80 {
            let r: Vec<f64> = (0..4).map(|_| next()).collect();
            let u = next();
            y.push((usize::from(r[0] > 0.5) + usize::from(r[1] + 0.3 * u > 0.6)) % 3);
            rows.push(r);
        }
        let x = Matrix::from_rows(&rows, None).unwrap();
        let q = Matrix::from_rows(
            &[
                vec![0.1, 0.2, 0.3, 0.4],
                vec![0.7, 0.1, 0.5, 0.9],
                vec![0.6, 0.8, 0.2, 0.3],
                vec![0.3, 0.7, 0.9, 0.1],
            ],
            None,
        )
        .unwrap();
        let expected: [(usize, [f64; 4], [f64; 12]); 2] = [
            (
                2,
                [0.2720589093370365, 0.7279410906629635, 0.0, 0.0],
                [
                    1.0,
                    0.0,
                    0.0,
                    0.0,
                    0.9285714285714286,
                    0.07142857142857142,
                    0.0,
                    0.0,
                    1.0,
                    0.07407407407407407,
                    0.9259259259259259,
                    0.0,
                ],
            ),
            (
                3,
                [0.2942376674235692, 0.7057623325764308, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
            ),
        ];
        for (depth, importances, proba) in expected {
            let p = ForestParams::default()
                .n_trees(1)
                .bootstrap(false)
                .max_features(MaxFeatures::All)
                .max_depth(Some(depth));
            let f = RandomForest::fit(&p, &x, &y, 3).unwrap();
            for (a, b) in f.feature_importances().iter().zip(importances) {
                assert!(
                    (a - b).abs() < 1e-12,
                    "depth {depth}: importance {a} vs {b}"
                );
            }
            let got = f.predict_proba(&q).unwrap();
            for (a, b) in got.data.iter().zip(proba) {
                assert!(
                    (a - b).abs() < 1e-12,
                    "depth {depth}: probability {a} vs {b}"
                );
            }
        }
        // The root splits feature 0 half-way between two training values: 0.50009087 in
        // scikit-learn's tree.
        let p = ForestParams::default()
            .n_trees(1)
            .bootstrap(false)
            .max_features(MaxFeatures::All)
            .max_depth(Some(1));
        let f = RandomForest::fit(&p, &x, &y, 3).unwrap();
        let root = &f.trees[0].nodes[0];
        assert_eq!(root.feature, 0);
        assert!((root.threshold - 0.50009087).abs() < 1e-8);
    }

    #[test]
    fn a_single_full_tree_by_hand() {
        // Feature 0 separates the classes at 2.5 (midpoint of 2 and 3); feature 1 is noise.
        // One tree, no bootstrap, all features: the root splits on feature 0 and both children are
        // pure, so importance is [1, 0] and probabilities are exactly 0/1.
        let x = Matrix::from_rows(
            &[
                vec![1.0, 5.0],
                vec![2.0, 1.0],
                vec![3.0, 4.0],
                vec![4.0, 2.0],
            ],
            None,
        )
        .unwrap();
        let y = [0, 0, 1, 1];
        let p = ForestParams::default()
            .n_trees(1)
            .bootstrap(false)
            .max_features(MaxFeatures::All);
        let f = RandomForest::fit(&p, &x, &y, 2).unwrap();
        assert_eq!(f.trees[0].node_count(), 3);
        assert_eq!(f.trees[0].nodes[0].threshold, 2.5);
        assert_eq!(f.feature_importances(), &[1.0, 0.0]);
        let pr = f
            .predict_proba(&Matrix::from_rows(&[vec![2.4, 0.0], vec![2.6, 0.0]], None).unwrap())
            .unwrap();
        assert_eq!(pr.data, vec![1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn gini_of_counts() {
        assert!((gini(&[1.0, 1.0], 2.0) - 0.5).abs() < 1e-15);
        assert_eq!(gini(&[3.0, 0.0], 3.0), 0.0);
    }
}
