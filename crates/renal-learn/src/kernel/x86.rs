//! The two-row forward kernel (`kernel::dots_rows`) in explicit AVX2 and AVX-512 registers: the
//! compilers' own vectorisation of the eight-lane sums shuffles lanes between registers and
//! runs at a third of the speed. Lane `l` of a row's sum takes the elements `i ≡ l (mod 8)`
//! (AVX2: lanes 0-3 in one register, 4-7 in another; AVX-512: all eight in one), fused
//! multiply-adds as in the portable `kernel::dot`, and the lanes are combined in its order,
//! so the results are bit-identical to it. Intrinsics without pointers are safe inside a
//! function with their target features: no unsafe code.

use std::arch::x86_64::*;

/// The portable kernel's eight lanes (`kernel::tests` checks both builds against it bit for
/// bit; not imported, so that this module does not depend on its parent).
const LANES: usize = 8;

/// Four values of `s` into a register (the compiler turns this into one unaligned load).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn load4(s: &[f64]) -> __m256d {
    _mm256_set_pd(s[3], s[2], s[1], s[0])
}

/// Eight values of `s` into a register.
#[inline]
#[target_feature(enable = "avx512f")]
fn load8(s: &[f64]) -> __m512d {
    _mm512_set_pd(s[7], s[6], s[5], s[4], s[3], s[2], s[1], s[0])
}

/// The eight lanes `lo = (a0..a3)`, `hi = (a4..a7)` summed as the portable kernel sums them:
/// `((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce(lo: __m256d, hi: __m256d) -> f64 {
    let s = _mm256_add_pd(lo, hi);
    let a = _mm256_castpd256_pd128(s);
    let b = _mm256_extractf128_pd::<1>(s);
    let s01 = _mm_add_sd(a, _mm_unpackhi_pd(a, a));
    let s23 = _mm_add_sd(b, _mm_unpackhi_pd(b, b));
    _mm_cvtsd_f64(_mm_add_sd(s01, s23))
}

/// The elements past the last full group of eight, in order (as the portable kernel).
#[inline]
fn tail(w: &[f64], h: &[f64], from: usize) -> f64 {
    w[from..]
        .iter()
        .zip(&h[from..])
        .fold(0.0, |t, (a, b)| a.mul_add(*b, t))
}

/// `kernel::dots_rows` in AVX2 registers (`w`: `N` rows of the rows' common length).
#[target_feature(enable = "avx2,fma")]
pub(super) fn dots_rows_avx2<const M: usize, const N: usize>(
    w: &[f64],
    hs: [&[f64]; M],
    outs: &mut [[f64; N]; M],
) {
    let n = hs.first().map_or(0, |h| h.len());
    let full = n / LANES * LANES;
    // Per row and output: lanes 0-3 and lanes 4-7.
    let mut acc = [[[_mm256_setzero_pd(); 2]; N]; M];
    let mut i = 0;
    while i < full {
        let x: [[__m256d; 2]; M] = std::array::from_fn(|m| {
            let h = &hs[m][i..i + LANES];
            [load4(h), load4(&h[4..])]
        });
        for o in 0..N {
            let r = &w[o * n + i..o * n + i + LANES];
            let (lo, hi) = (load4(r), load4(&r[4..]));
            for m in 0..M {
                let c = &mut acc[m][o];
                c[0] = _mm256_fmadd_pd(lo, x[m][0], c[0]);
                c[1] = _mm256_fmadd_pd(hi, x[m][1], c[1]);
            }
        }
        i += LANES;
    }
    for m in 0..M {
        for o in 0..N {
            let c = &acc[m][o];
            outs[m][o] = reduce(c[0], c[1]) + tail(&w[o * n..(o + 1) * n], hs[m], full);
        }
    }
}

/// `kernel::dots_rows` in AVX-512 registers (`w`: `N` rows of the rows' common length).
#[target_feature(enable = "avx512f")]
pub(super) fn dots_rows_avx512<const M: usize, const N: usize>(
    w: &[f64],
    hs: [&[f64]; M],
    outs: &mut [[f64; N]; M],
) {
    let n = hs.first().map_or(0, |h| h.len());
    let full = n / LANES * LANES;
    let mut acc = [[_mm512_setzero_pd(); N]; M];
    let mut i = 0;
    while i < full {
        let x: [__m512d; M] = std::array::from_fn(|m| load8(&hs[m][i..i + LANES]));
        for o in 0..N {
            let r = load8(&w[o * n + i..o * n + i + LANES]);
            for m in 0..M {
                acc[m][o] = _mm512_fmadd_pd(r, x[m], acc[m][o]);
            }
        }
        i += LANES;
    }
    for m in 0..M {
        for o in 0..N {
            let v = acc[m][o];
            let sum = reduce(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
            outs[m][o] = sum + tail(&w[o * n..(o + 1) * n], hs[m], full);
        }
    }
}
