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
    /// Per row, its weight in its class's slot (`onehot[row * k + class]`).
    onehot: Vec<f64>,
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
        impurity: f64,
        rng: &mut Rng,
    ) -> Option<Split> {
        let p = self.p;
        let n = self.n;
        let m = samples.len();
        let msl = self.params.min_samples_leaf;
        let mut best: Option<Split> = None;
        let mut best_stats = (0.0, 0.0, 0.0);
        let mut best_proxy = f64::NEG_INFINITY;
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
                onehot: &self.onehot,
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
                scan_dispatch(
                    &col, pos, self.k, distinct, counts, total, m, msl, best_proxy,
                )
            } else {
                self.bits.iter_mut().for_each(|b| *b = 0);
                for &s in samples {
                    let r = rank[s].ix();
                    self.bits[r >> 6] |= 1 << (r & 63);
                }
                let pos = BitPositions::new(&self.bits);
                scan_dispatch(
                    &col, pos, self.k, distinct, counts, total, m, msl, best_proxy,
                )
            };
            let Some(found) = found else {
                continue; // constant in this node
            };
            visited += 1;
            if let Some(c) = found {
                best_proxy = c.proxy;
                best_stats = (c.sl, c.sr, c.wl);
                let sorted = &self.pre.sorted[f * n..(f + 1) * n];
                best = Some(Split {
                    feature: f,
                    threshold: midpoint(sorted[c.below], sorted[c.above]),
                    improvement: 0.0,
                });
            }
        }
        if let Some(b) = best.as_mut() {
            let (sl, sr, wl) = best_stats;
            let wr = total - wl;
            b.improvement = total * impurity - (wl - sl / wl) - (wr - sr / wr);
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
                self.best_split(&samples[start..end], &counts, total, impurity, rng)
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
    /// Per row, its weight in its class's slot and zero elsewhere (`onehot[row * k + class]`).
    onehot: &'a [f64],
}

/// The best cut of one feature that beats the best so far: between sorted positions `below`
/// and `above` (consecutive rows of the node).
struct Cut {
    below: usize,
    above: usize,
    proxy: f64,
    sl: f64,
    sr: f64,
    wl: f64,
}

/// Scans one feature's rows in sorted order (`positions`) and returns `None` when the feature is
/// constant in the node, else the best cut better than `best_proxy`, if any.
///
/// The split maximising `sl/wl + sr/wr` (sums of squared class weights over total weight, left
/// and right) maximises the Gini decrease (scikit-learn's proxy). The left class weights are
/// prefix sums kept in `K` registers, one independent addition each per row, so the loop is not
/// serialised through memory; candidates are compared as fractions by cross-multiplication, with
/// no division in the loop. With integer weights (bootstrap counts) every sum is exact, so the
/// order of the additions does not change which split wins.
#[allow(clippy::too_many_arguments)]
fn scan<const K: usize, const DISTINCT: bool, T: Idx, I: Iterator<Item = usize>>(
    col: &Column<T>,
    positions: I,
    counts: &[f64],
    total: f64,
    m: usize,
    msl: usize,
    best_proxy: f64,
) -> Option<Option<Cut>> {
    let mut c = [0.0f64; K];
    c.copy_from_slice(&counts[..K]);
    let c2: f64 = c.iter().map(|v| v * v).sum();
    let mut left = [0.0f64; K];
    let (mut best_num, mut best_den) = (best_proxy, 1.0);
    let mut best: Option<Cut> = None;
    let mut varies = false;
    let (mut prev_group, mut prev_pos) = (usize::MAX, 0usize);
    for (j, pos) in positions.enumerate() {
        // Without ties in the feature, every row starts a new value.
        let g = if DISTINCT { j } else { col.group[pos].ix() };
        // Cut between the previous row (left holds rows 0..j) and this one.
        if j > 0 && g != prev_group {
            varies = true;
            if j >= msl && m - j >= msl {
                // sr = sum (c - l)^2 = c2 - 2 c.l + sl, so
                // sl * wr + sr * wl = sl * total + (c2 - 2 c.l) * wl: fewer operations.
                let mut wl = 0.0;
                let mut sl = 0.0;
                let mut dot = 0.0;
                for k in 0..K {
                    wl += left[k];
                    sl += left[k] * left[k];
                    dot += c[k] * left[k];
                }
                let num = sl * total + (c2 - 2.0 * dot) * wl;
                let den = wl * (total - wl);
                if num * best_den > best_num * den {
                    best_num = num;
                    best_den = den;
                    best = Some(Cut {
                        below: prev_pos,
                        above: pos,
                        proxy: num / den,
                        sl,
                        sr: c2 - 2.0 * dot + sl,
                        wl,
                    });
                }
            }
        }
        let row = col.row_at[pos].ix();
        let oh = &col.onehot[row * K..row * K + K];
        for k in 0..K {
            left[k] += oh[k];
        }
        prev_group = g;
        prev_pos = pos;
    }
    varies.then_some(best)
}

/// [`scan`] for two or three classes (with or without the group check), else [`scan_any`].
#[allow(clippy::too_many_arguments)]
fn scan_dispatch<T: Idx, I: Iterator<Item = usize>>(
    col: &Column<T>,
    pos: I,
    k: usize,
    distinct: bool,
    counts: &[f64],
    total: f64,
    m: usize,
    msl: usize,
    best_proxy: f64,
) -> Option<Option<Cut>> {
    match (k, distinct) {
        (2, true) => scan::<2, true, _, _>(col, pos, counts, total, m, msl, best_proxy),
        (2, false) => scan::<2, false, _, _>(col, pos, counts, total, m, msl, best_proxy),
        (3, true) => scan::<3, true, _, _>(col, pos, counts, total, m, msl, best_proxy),
        (3, false) => scan::<3, false, _, _>(col, pos, counts, total, m, msl, best_proxy),
        _ => scan_any(col, pos, k, counts, total, m, msl, best_proxy),
    }
}

/// [`scan`] for any number of classes (left weights in memory).
#[allow(clippy::too_many_arguments)]
fn scan_any<T: Idx>(
    col: &Column<T>,
    positions: impl Iterator<Item = usize>,
    k: usize,
    counts: &[f64],
    total: f64,
    m: usize,
    msl: usize,
    best_proxy: f64,
) -> Option<Option<Cut>> {
    let mut left = vec![0.0f64; k];
    let (mut best_num, mut best_den) = (best_proxy, 1.0);
    let mut best: Option<Cut> = None;
    let mut varies = false;
    let (mut prev_group, mut prev_pos) = (usize::MAX, 0usize);
    for (j, pos) in positions.enumerate() {
        let g = col.group[pos].ix();
        if j > 0 && g != prev_group {
            varies = true;
            if j >= msl && m - j >= msl {
                let wl: f64 = left.iter().sum();
                let sl: f64 = left.iter().map(|l| l * l).sum();
                let sr: f64 = left
                    .iter()
                    .zip(counts)
                    .map(|(l, c)| (c - l) * (c - l))
                    .sum();
                let wr = total - wl;
                let num = sl * wr + sr * wl;
                let den = wl * wr;
                if num * best_den > best_num * den {
                    best_num = num;
                    best_den = den;
                    best = Some(Cut {
                        below: prev_pos,
                        above: pos,
                        proxy: num / den,
                        sl,
                        sr,
                        wl,
                    });
                }
            }
        }
        let row = col.row_at[pos].ix();
        for (l, o) in left.iter_mut().zip(&col.onehot[row * k..row * k + k]) {
            *l += o;
        }
        prev_group = g;
        prev_pos = pos;
    }
    varies.then_some(best)
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
    let mut onehot = vec![0.0; n * k];
    for i in 0..n {
        onehot[i * k + y[i]] = w[i];
    }
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
        onehot,
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

impl RandomForest {
    /// Fits a forest; `y` holds class indices below `n_classes`.
    pub fn fit(params: &ForestParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
        Self::fit_with(params, x, y, n_classes, SMALL_NODE)
    }

    /// [`RandomForest::fit`] with nodes of at most `small_node` rows allowed the small-node
    /// path (tests compare it with the bitset path).
    fn fit_with(
        params: &ForestParams,
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
        small_node: usize,
    ) -> Result<Self> {
        params.validate()?;
        let counts = check_labels(x, y, n_classes)?;
        x.check_finite()?;
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
        let (n, p) = (x.rows, x.cols);
        let fitted = if n <= 1 << 16 {
            fit_trees(
                &Presorted::<u16>::new(x),
                p,
                y,
                n_classes,
                &class_w,
                params,
                mf,
                small_node,
            )
        } else {
            fit_trees(
                &Presorted::<u32>::new(x),
                p,
                y,
                n_classes,
                &class_w,
                params,
                mf,
                small_node,
            )
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
            let with = RandomForest::fit_with(&params, &x, &yk, k, SMALL_NODE).unwrap();
            let without = RandomForest::fit_with(&params, &x, &yk, k, 0).unwrap();
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
