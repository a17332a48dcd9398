//! [`super::exact::scan_exact`]'s blocks of four cuts in explicit AVX2 registers: the compiler's
//! own vectorisation of the portable blocks keeps the comparisons scalar, one branch each. The
//! four cuts' states are transposed into one register per class (and one for the left weight),
//! `d` and `wl (t - wl)` are computed with the scalar scan's operations in its order, and one
//! mask tells whether any of the four beats the best so far. Intrinsics without pointers are
//! safe inside a function with their target features: no unsafe code.

use std::arch::x86_64::*;

use super::presort::Idx;
use super::split::{Best, Column};

/// Four values into a register (the compiler turns this into one unaligned load).
#[inline]
#[target_feature(enable = "avx2")]
fn load(a: &[f64; 4]) -> __m256d {
    _mm256_set_pd(a[3], a[2], a[1], a[0])
}

/// The four lanes of a register.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes(v: __m256d) -> [f64; 4] {
    let (lo, hi) = (_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
    [
        _mm_cvtsd_f64(lo),
        _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo)),
        _mm_cvtsd_f64(hi),
        _mm_cvtsd_f64(_mm_unpackhi_pd(hi, hi)),
    ]
}

/// The increments of the row at sorted position `p`.
#[inline]
#[target_feature(enable = "avx2")]
fn inc<T: Idx>(delta: &[[f64; 4]], row_at: &[T], p: u32) -> __m256d {
    load(&delta[row_at[p as usize].ix()])
}

/// [`super::exact::blocks_portable`] in AVX2 registers: the same comparisons on the same values.
#[target_feature(enable = "avx2")]
pub(super) fn blocks_avx2<const DISTINCT: bool, T: Idx>(
    col: &Column<T>,
    pos: &[u32],
    e: [f64; 4],
    mut j: usize,
    last: usize,
    total: f64,
    best: &mut Best,
) -> ([f64; 4], usize) {
    let (delta, _) = col.delta.as_chunks::<4>();
    let row_at = col.row_at;
    let t = _mm256_set1_pd(total);
    let mut ev = load(&e);
    let (mut bnum, mut bden) = (_mm256_set1_pd(best.num), _mm256_set1_pd(best.den));
    while j + 3 <= last {
        let Some(&[p, p0, p1, p2, p3]) = pos.get(j - 1..j + 4).and_then(|w| w.first_chunk()) else {
            break;
        };
        let (i0, i1) = (inc(delta, row_at, p0), inc(delta, row_at, p1));
        let (i2, i3) = (inc(delta, row_at, p2), inc(delta, row_at, p3));
        // The states before rows j .. j + 3 (exact integers, so the grouping is free).
        let c1 = _mm256_add_pd(ev, i0);
        let c2 = _mm256_add_pd(ev, _mm256_add_pd(i0, i1));
        let c3 = _mm256_add_pd(c2, i2);
        // Transposed: one register per slot (e_0, e_1, e_2, wl), one lane per cut.
        let lo01 = _mm256_unpacklo_pd(ev, c1);
        let hi01 = _mm256_unpackhi_pd(ev, c1);
        let lo23 = _mm256_unpacklo_pd(c2, c3);
        let hi23 = _mm256_unpackhi_pd(c2, c3);
        let x0 = _mm256_permute2f128_pd::<0x20>(lo01, lo23);
        let x1 = _mm256_permute2f128_pd::<0x20>(hi01, hi23);
        let x2 = _mm256_permute2f128_pd::<0x31>(lo01, lo23);
        let wl = _mm256_permute2f128_pd::<0x31>(hi01, hi23);
        let d = _mm256_add_pd(
            _mm256_add_pd(_mm256_mul_pd(x0, x0), _mm256_mul_pd(x1, x1)),
            _mm256_mul_pd(x2, x2),
        );
        let den = _mm256_mul_pd(wl, _mm256_sub_pd(t, wl));
        let beats = _mm256_cmp_pd::<_CMP_GT_OQ>(_mm256_mul_pd(d, bden), _mm256_mul_pd(bnum, den));
        if _mm256_movemask_pd(beats) != 0 {
            let ps = [p, p0, p1, p2, p3];
            best.consider_four::<DISTINCT, T>(col, lanes(d), lanes(wl), ps, total);
            (bnum, bden) = (_mm256_set1_pd(best.num), _mm256_set1_pd(best.den));
        }
        ev = _mm256_add_pd(c2, _mm256_add_pd(i2, i3));
        j += 4;
    }
    (lanes(ev), j)
}
