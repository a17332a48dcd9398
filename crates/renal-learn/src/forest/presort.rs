//! Each feature's rows presorted once per forest (u16 or u32 ranks, value groups for ties).

use crate::matrix::Matrix;

/// Compact index type of the presorted tables: `u16` when the training set has at most 65536
/// rows (a third of the cache footprint of `u32` + `f64`), else `u32`.
pub(crate) trait Idx: Copy + Ord + Send + Sync + 'static {
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
pub(crate) struct Presorted<T> {
    pub(crate) n: usize,
    /// Column-major copy of the training matrix: feature `f` of row `s` at `xt[f * n + s]`.
    pub(crate) xt: Vec<f64>,
    /// Per feature, each row's position in the feature's sorted order (`rank[f * n + s]`) and
    /// the row at each position (`row_at[f * n + pos]`): a node's rows come out sorted by
    /// marking their positions in a bitset, in O(rows + n / 64) instead of a sort.
    pub(crate) rank: Vec<T>,
    pub(crate) row_at: Vec<T>,
    /// Per position, the index of its distinct value (equal values, equal group), so the scan
    /// detects ties without reading the f64 values.
    pub(crate) group: Vec<T>,
    /// The values in sorted order (`sorted[f * n + pos]`), read only for a chosen threshold.
    pub(crate) sorted: Vec<f64>,
    /// Per feature, whether all its values differ (no ties: the scan skips the group check).
    pub(crate) distinct: Vec<bool>,
}

impl<T: Idx> Presorted<T> {
    pub(crate) fn new(x: &Matrix) -> Self {
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

/// A key whose unsigned order is `f64::total_cmp`'s order.
pub(crate) fn total_order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}
