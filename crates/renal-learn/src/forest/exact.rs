//! The exact scan: [`super::split::scan`]'s cut found four cuts at a time, for trees whose rows
//! have integer weights (bootstrap counts without class weights, the usual forest), where every
//! state of the scan is an exact integer in `f64`, so the order of the additions is free.

use super::presort::Idx;
use super::split::{Best, Column, Cut};

/// The set bits of `words`, lowest first, as positions in `out`, which must have 8 slots more
/// than the bits set; returns how many. Each word's bits come out eight at a time whatever
/// their number (the slots past the last are overwritten by the next word's), so the loop
/// branches on each word's count, which is about the same for every word of a node, not on
/// every bit.
#[inline(always)]
pub(crate) fn flatten(words: &[u64], out: &mut [u32]) -> usize {
    let mut k = 0;
    for (w, &word) in words.iter().enumerate() {
        let base = (w as u32) << 6;
        let count = word.count_ones() as usize;
        let mut c = word;
        let mut done = 0;
        loop {
            let Some(slots) = out.get_mut(k + done..k + done + 8) else {
                return k;
            };
            for slot in slots {
                *slot = base + c.trailing_zeros();
                c &= c.wrapping_sub(1);
            }
            done += 8;
            if done >= count {
                break;
            }
        }
        k += count;
    }
    k
}

/// Bound on a tree's total weight for [`scan_exact`]: with integer weights of total `t` below
/// it, every `e_k` (at most `t^2` in size) and every `d` (at most `3 t^4`) is an integer below
/// 2^53, so exact in `f64` whatever the order of the additions.
pub(crate) const EXACT_TOTAL: f64 = 4096.0;

/// [`scan`] for up to three classes when every row's weight is an integer and the tree's total
/// weight is below [`EXACT_TOTAL`], on the node's `m` rows marked in `bits`: the same cut, found
/// four cuts at a time. The states before four consecutive rows are summed in a shorter chain
/// (`e + i0`, `e + (i0 + i1)`, then `+ i2`, and `+ (i2 + i3)` for the next four), which gives the
/// same values because each is an exact integer; `d` and `wl (t - wl)` of the four cuts are
/// computed in vector lanes with the scalar operations of [`Best::consider`], and only when one of
/// them beats the best so far are the four considered one by one, in order. So every comparison
/// is the scalar scan's, on the same values. `pos` is scratch of at least `m + 8` slots.
#[multiversion::multiversion(targets("x86_64+avx2+bmi1+popcnt"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_exact<const DISTINCT: bool, T: Idx>(
    col: &Column<T>,
    bits: &[u64],
    pos: &mut [u32],
    total: f64,
    m: usize,
    msl: usize,
    beat: (f64, f64),
) -> Option<Option<Cut>> {
    // The explicit AVX2 blocks in multiversion's AVX2 clone, which carries the target feature
    // (a build with AVX2 for the whole program has no such clone to call them from without
    // `unsafe`, and takes the portable blocks, compiled with AVX2).
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    #[multiversion::target::target_cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    #[multiversion::inherit_target]
    fn blocks<const D: bool, T: Idx>(
        col: &Column<T>,
        pos: &[u32],
        e: [f64; 4],
        j: usize,
        last: usize,
        total: f64,
        best: &mut Best,
    ) -> ([f64; 4], usize) {
        super::x86::blocks_avx2::<D, T>(col, pos, e, j, last, total, best)
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    #[multiversion::target::target_cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    #[multiversion::inherit_target]
    fn blocks<const D: bool, T: Idx>(
        col: &Column<T>,
        pos: &[u32],
        e: [f64; 4],
        j: usize,
        last: usize,
        total: f64,
        best: &mut Best,
    ) -> ([f64; 4], usize) {
        blocks_portable::<D, T>(col, pos, e, j, last, total, best)
    }
    #[cfg(any(not(target_arch = "x86_64"), target_feature = "avx2"))]
    fn blocks<const D: bool, T: Idx>(
        col: &Column<T>,
        pos: &[u32],
        e: [f64; 4],
        j: usize,
        last: usize,
        total: f64,
        best: &mut Best,
    ) -> ([f64; 4], usize) {
        blocks_portable::<D, T>(col, pos, e, j, last, total, best)
    }
    scan_exact_with::<DISTINCT, T>(col, bits, pos, total, m, msl, beat, blocks::<DISTINCT, T>)
}

/// The signature of [`blocks_portable`] and its AVX2 twin.
pub(crate) type Blocks<T> =
    fn(&Column<T>, &[u32], [f64; 4], usize, usize, f64, &mut Best) -> ([f64; 4], usize);

/// [`scan_exact`] with the blocks of four cuts done by `blocks` (tests give it
/// [`blocks_portable`], which machines without AVX2 run).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_exact_with<const DISTINCT: bool, T: Idx>(
    col: &Column<T>,
    bits: &[u64],
    pos: &mut [u32],
    total: f64,
    m: usize,
    msl: usize,
    beat: (f64, f64),
    blocks: Blocks<T>,
) -> Option<Option<Cut>> {
    let got = flatten(bits, pos);
    let pos = &pos[..got.min(m)];
    let m = pos.len();
    let at = |j: usize| pos[j] as usize;
    if m < 2 {
        return None;
    }
    let group = |j: usize| col.group[at(j)].ix();
    if !DISTINCT && group(0) == group(m - 1) {
        return None; // sorted, so the first and last rows' values differ when any do
    }
    if m < 2 * msl.max(1) {
        return Some(None);
    }
    let (delta, _) = col.delta.as_chunks::<4>();
    let inc = |p: u32| delta[col.row_at[p as usize].ix()];
    let add = |a: [f64; 4], b: [f64; 4]| [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
    let mut e = [0.0f64; 4];
    for &p in &pos[..msl] {
        e = add(e, inc(p));
    }
    let mut best = Best::new(beat);
    // The cut before row j, for j in msl..=last: four at a time, then one by one.
    let last = m - msl;
    let (mut e, mut j) = blocks(col, pos, e, msl, last, total, &mut best);
    while j <= last {
        if DISTINCT || group(j) != group(j - 1) {
            best.consider(
                e[0] * e[0] + e[1] * e[1] + e[2] * e[2],
                e[3],
                total,
                at(j - 1),
                at(j),
            );
        }
        e = add(e, inc(pos[j]));
        j += 1;
    }
    Some(best.cut)
}

/// The cuts before rows `j, j + 1, ..` of the node's sorted positions `pos` (the state `e`
/// before row `j`), four at a time while the four are at most `last`, into `best`; returns the
/// state and the row where it stopped (see [`scan_exact`]).
#[inline(always)]
pub(crate) fn blocks_portable<const DISTINCT: bool, T: Idx>(
    col: &Column<T>,
    pos: &[u32],
    mut e: [f64; 4],
    mut j: usize,
    last: usize,
    total: f64,
    best: &mut Best,
) -> ([f64; 4], usize) {
    let (delta, _) = col.delta.as_chunks::<4>();
    let inc = |p: u32| delta[col.row_at[p as usize].ix()];
    let add = |a: [f64; 4], b: [f64; 4]| [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
    while j + 3 <= last {
        let Some(&[p, p0, p1, p2, p3]) = pos.get(j - 1..j + 4).and_then(|w| w.first_chunk()) else {
            break;
        };
        let (i0, i1, i2, i3) = (inc(p0), inc(p1), inc(p2), inc(p3));
        let c1 = add(e, i0);
        let c2 = add(e, add(i0, i1));
        let c3 = add(c2, i2);
        let lane = |k: usize| [e[k], c1[k], c2[k], c3[k]];
        let (x0, x1, x2, wl) = (lane(0), lane(1), lane(2), lane(3));
        let d: [f64; 4] = std::array::from_fn(|l| x0[l] * x0[l] + x1[l] * x1[l] + x2[l] * x2[l]);
        let den: [f64; 4] = std::array::from_fn(|l| wl[l] * (total - wl[l]));
        let (bn, bd) = (best.num, best.den);
        if (0..4).any(|l| d[l] * bd > bn * den[l]) {
            best.consider_four::<DISTINCT, T>(col, d, wl, [p, p0, p1, p2, p3], total);
        }
        e = add(c2, add(i2, i3));
        j += 4;
    }
    (e, j)
}
