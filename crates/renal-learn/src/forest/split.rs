//! The split search: for one node and one feature, the best cut by weighted Gini decrease.

use super::presort::Idx;

/// Nodes with at most this many rows, and at most an eighth as many as the bitset has words,
/// sort their rows' ranks instead of using the bitset (an insertion sort costs about one
/// mispredicted branch per row; the bitset, two passes over its words).
pub(crate) const SMALL_NODE: usize = 24;

/// The set bits of a bitset, lowest first.
pub(crate) struct BitPositions<'a> {
    pub(crate) words: &'a [u64],
    pub(crate) w: usize,
    pub(crate) cur: u64,
}

impl<'a> BitPositions<'a> {
    pub(crate) fn new(words: &'a [u64]) -> Self {
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

/// Copies of the bitset that [`mark`] fills in turn.
pub(crate) const COPIES: usize = 4;

/// Marks the sorted positions `rank[s]` of a node's rows `samples` in `bits` ([`COPIES`] copies
/// of a bitset of the training set, cleared here) and returns the first copy, holding them all.
/// Consecutive rows go to different copies: with a few hundred rows in a few words, most rows'
/// positions share a word with the row before, and a single copy makes each row wait for the
/// previous row's read-modify-write of that word (5-8% of `bench cv`'s time, measured).
pub(crate) fn mark<'b, T: Idx>(rank: &[T], samples: &[usize], bits: &'b mut [u64]) -> &'b [u64] {
    bits.fill(0);
    let words = bits.len() / COPIES;
    let (b01, b23) = bits.split_at_mut(2 * words);
    let (b0, b1) = b01.split_at_mut(words);
    let (b2, b3) = b23.split_at_mut(words);
    let set = |b: &mut [u64], s: usize| {
        let r = rank[s].ix();
        b[r >> 6] |= 1 << (r & 63);
    };
    let mut quads = samples.chunks_exact(COPIES);
    for q in &mut quads {
        set(b0, q[0]);
        set(b1, q[1]);
        set(b2, q[2]);
        set(b3, q[3]);
    }
    for &s in quads.remainder() {
        set(b0, s);
    }
    for w in 0..words {
        b0[w] |= b1[w] | b2[w] | b3[w];
    }
    &bits[..words]
}

/// One feature's sorted order (rows and value groups by position) and the rows' class weights.
pub(crate) struct Column<'a, T> {
    pub(crate) row_at: &'a [T],
    pub(crate) group: &'a [T],
    /// Per row, [`delta_stride`] increments (`delta[row * stride..]`): for each class `c`,
    /// `total * w * [class == c] - w * counts[c]` (the node's class weights `counts`, total
    /// weight `total`, the row's weight `w`), zeros, and `w` in the last slot.
    pub(crate) delta: &'a [f64],
}

/// The best cut of one feature that beats the best so far: between sorted positions `below`
/// and `above` (consecutive rows of the node), with its `d` and left weight `wl` (see [`scan`]).
pub(crate) struct Cut {
    pub(crate) below: usize,
    pub(crate) above: usize,
    pub(crate) d: f64,
    pub(crate) den: f64,
    pub(crate) wl: f64,
}

/// Slots per row in [`Column::delta`]: four for up to three classes (so the fast scan works on
/// aligned groups of four, a zero slot for two classes), else one per class and one for the
/// weight.
pub(crate) fn delta_stride(k: usize) -> usize {
    if k <= 3 {
        4
    } else {
        k + 1
    }
}

/// The best cut so far while scanning a feature, compared as the fraction `num / den`.
pub(crate) struct Best {
    pub(crate) num: f64,
    pub(crate) den: f64,
    pub(crate) cut: Option<Cut>,
}

impl Best {
    pub(crate) fn new((num, den): (f64, f64)) -> Self {
        Best {
            num,
            den,
            cut: None,
        }
    }

    /// Considers the cut between sorted positions `below` and `above`, with `d` and left weight
    /// `wl` (see [`scan`]).
    #[inline(always)]
    pub(crate) fn consider(&mut self, d: f64, wl: f64, total: f64, below: usize, above: usize) {
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

    /// The four cuts between the positions `ps` of `col` (with their `d` and left weights `wl`)
    /// considered one by one, in order, as [`scan`] considers them (a cut between equal values
    /// is not one).
    #[inline(always)]
    pub(crate) fn consider_four<const DISTINCT: bool, T: Idx>(
        &mut self,
        col: &Column<T>,
        d: [f64; 4],
        wl: [f64; 4],
        ps: [u32; 5],
        total: f64,
    ) {
        for l in 0..4 {
            let (below, above) = (ps[l] as usize, ps[l + 1] as usize);
            if DISTINCT || col.group[below].ix() != col.group[above].ix() {
                self.consider(d[l], wl[l], total, below, above);
            }
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
/// value, so the loop only runs over the cuts that leave `msl` rows on each side. Compiled also
/// for AVX2, chosen at run time (the four additions in one instruction; no fused multiply-add,
/// so the same bits): 5% of a forest's time.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub(crate) fn scan<const DISTINCT: bool, T: Idx, I: Iterator<Item = usize>>(
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
pub(crate) struct Cuts<'a, T, I> {
    pub(crate) group: &'a [T],
    pub(crate) positions: I,
    pub(crate) m: usize,
    pub(crate) msl: usize,
    pub(crate) j: usize,
    pub(crate) prev_group: usize,
    pub(crate) prev_pos: usize,
    pub(crate) varies: bool,
}

impl<'a, T: Idx, I: Iterator<Item = usize>> Cuts<'a, T, I> {
    pub(crate) fn new(group: &'a [T], positions: I, m: usize, msl: usize) -> Self {
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
pub(crate) fn scan_dispatch<T: Idx, I: Iterator<Item = usize>>(
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
pub(crate) fn scan_any<T: Idx>(
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

/// The threshold half-way between two consecutive distinct values (scikit-learn's rule, falling
/// back to the lower value when the midpoint rounds up to the upper one or overflows).
pub(crate) fn midpoint(v: f64, vn: f64) -> f64 {
    let t = v / 2.0 + vn / 2.0;
    if t >= vn || !t.is_finite() {
        v
    } else {
        t
    }
}
