//! Dense kernels of the linear learners (the MLP, logistic regression): dot products with a
//! fixed eight-lane summation order and axpys, every multiply-add fused (`f64::mul_add`, one
//! rounding). The callers are compiled more than once by `multiversion` (portable; AVX2 with
//! FMA; AVX-512) and the widest build the CPU has runs; the two-row forward kernel has explicit
//! AVX2 and AVX-512 versions in [`x86`]. A fused multiply-add is correctly rounded on every
//! CPU (in hardware, or in software where the CPU has no FMA unit: the portable build stays
//! exact there, only slower), and the lanes are summed in the order written here, so every
//! build gives bit-identical results on any CPU.

// The explicit kernels, for multiversion's clones (not in a build whose whole program has AVX2
// or AVX-512 enabled: see `dots_rows`).
#[cfg(all(
    target_arch = "x86_64",
    not(any(target_feature = "avx2", target_feature = "avx512f"))
))]
mod x86;

pub(crate) const LANES: usize = 8;

/// `Σ a[i]·b[i]` over the common length, in eight interleaved partial sums (lane `l` takes
/// `i ≡ l (mod 8)`), combined pairwise, then the tail in order.
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        for l in 0..LANES {
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = x.mul_add(*y, tail);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `out[o] = w_o · h` for `N` rows `w_o` of `w` (row length `h.len()`), reading `h` once;
/// each result is bit-identical to [`dot`]`(w_o, h)`.
#[inline(always)]
pub fn dots<const N: usize>(w: &[f64], h: &[f64], out: &mut [f64]) {
    let n = h.len();
    let full = n / LANES * LANES;
    let rows: [&[f64]; N] = std::array::from_fn(|o| &w[o * n..(o + 1) * n]);
    let mut acc = [[0.0f64; LANES]; N];
    for (c, x) in h[..full].chunks_exact(LANES).enumerate() {
        let x = lanes(x);
        for o in 0..N {
            let r = lanes(&rows[o][c * LANES..]);
            let a = &mut acc[o];
            for l in 0..LANES {
                a[l] = r[l].mul_add(x[l], a[l]);
            }
        }
    }
    for o in 0..N {
        let a = &acc[o];
        let mut tail = 0.0;
        for j in full..n {
            tail = rows[o][j].mul_add(h[j], tail);
        }
        out[o] = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail;
    }
}

/// The first eight values of `s` as an array (copied: the vector registers take them).
#[inline(always)]
fn lanes(s: &[f64]) -> [f64; LANES] {
    std::array::from_fn(|l| s[l])
}

/// `y_o[i] += alpha[o]·x[i]` for `N` rows `y_o` of `y` (row length `x.len()`), reading `x`
/// once; bit-identical to `N` calls of [`axpy`].
#[inline(always)]
pub fn axpys<const N: usize>(alpha: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    let a: [f64; N] = std::array::from_fn(|o| alpha[o]);
    let mut rest = &mut y[..N * n];
    let mut rows: [&mut [f64]; N] = std::array::from_fn(|_| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        head
    });
    let full = n / LANES * LANES;
    let mut i = 0;
    while i < full {
        let xs = &x[i..i + LANES];
        for o in 0..N {
            let r = &mut rows[o][i..i + LANES];
            for l in 0..LANES {
                r[l] = a[o].mul_add(xs[l], r[l]);
            }
        }
        i += LANES;
    }
    for (o, r) in rows.iter_mut().enumerate() {
        for j in full..n {
            r[j] = a[o].mul_add(x[j], r[j]);
        }
    }
}

/// `out[o] = w_o · h` for every row `w_o` of `w` (`out.len()` rows of length `h.len()`),
/// four rows per pass over `h`.
#[inline(always)]
pub fn matvec(w: &[f64], h: &[f64], out: &mut [f64]) {
    let n = h.len();
    let mut o = 0;
    while o < out.len() {
        let (ws, os) = (&w[o * n..], &mut out[o..]);
        let step = match os.len() {
            1 => {
                dots::<1>(ws, h, os);
                1
            }
            2 => {
                dots::<2>(ws, h, os);
                2
            }
            3 => {
                dots::<3>(ws, h, os);
                3
            }
            _ => {
                dots::<4>(ws, h, os);
                4
            }
        };
        o += step;
    }
}

/// `y_o += alpha[o]·x` for every row `y_o` of `y` (`alpha.len()` rows of length `x.len()`),
/// four rows per pass over `x`.
#[inline(always)]
pub fn rank1(alpha: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    let mut o = 0;
    while o < alpha.len() {
        let (al, ys) = (&alpha[o..], &mut y[o * n..]);
        let step = match al.len() {
            1 => {
                axpys::<1>(al, x, ys);
                1
            }
            2 => {
                axpys::<2>(al, x, ys);
                2
            }
            3 => {
                axpys::<3>(al, x, ys);
                3
            }
            _ => {
                axpys::<4>(al, x, ys);
                4
            }
        };
        o += step;
    }
}

/// [`dots_rows`] one row at a time through [`dots`].
#[inline]
fn portable_rows<const M: usize, const N: usize>(
    w: &[f64],
    hs: [&[f64]; M],
    o: &mut [[f64; N]; M],
) {
    for (h, out) in hs.iter().zip(o.iter_mut()) {
        dots::<N>(w, h, out);
    }
}

/// `outs[m][o] = w_o · hs[m]` for the `M` rows `hs[m]` (one length, `n`) and the `N` rows
/// `w_o` of `w` (row length `n`): each result bit-identical to [`dot`]. `M` rows per pass over
/// `w`, in the widest vector registers the CPU has.
///
/// The explicit kernels are called from multiversion's clones, which carry their target
/// features. A build with AVX2 or AVX-512 enabled for the whole program (`-C target-cpu=native`)
/// has no such clone to call them from without `unsafe` (rustc requires the callers' own
/// `#[target_feature]`), so it takes the portable kernel, compiled with those features: the
/// same bits, the compiler's vectorisation.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
pub fn dots_rows<const M: usize, const N: usize>(
    w: &[f64],
    hs: [&[f64]; M],
    outs: &mut [[f64; N]; M],
) {
    #[cfg(not(any(target_feature = "avx2", target_feature = "avx512f")))]
    #[multiversion::target::target_cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    #[multiversion::inherit_target]
    fn imp<const M: usize, const N: usize>(w: &[f64], hs: [&[f64]; M], o: &mut [[f64; N]; M]) {
        x86::dots_rows_avx512::<M, N>(w, hs, o)
    }
    #[cfg(not(any(target_feature = "avx2", target_feature = "avx512f")))]
    #[multiversion::target::target_cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        not(target_feature = "avx512f")
    ))]
    #[multiversion::inherit_target]
    fn imp<const M: usize, const N: usize>(w: &[f64], hs: [&[f64]; M], o: &mut [[f64; N]; M]) {
        x86::dots_rows_avx2::<M, N>(w, hs, o)
    }
    #[cfg(not(any(target_feature = "avx2", target_feature = "avx512f")))]
    #[multiversion::target::target_cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )))]
    fn imp<const M: usize, const N: usize>(w: &[f64], hs: [&[f64]; M], o: &mut [[f64; N]; M]) {
        portable_rows::<M, N>(w, hs, o)
    }
    #[cfg(any(target_feature = "avx2", target_feature = "avx512f"))]
    fn imp<const M: usize, const N: usize>(w: &[f64], hs: [&[f64]; M], o: &mut [[f64; N]; M]) {
        portable_rows::<M, N>(w, hs, o)
    }
    let n = hs.iter().map(|h| h.len()).min().unwrap_or(0);
    imp::<M, N>(&w[..N * n], hs.map(|h| &h[..n]), outs)
}

/// `y_o[i] += ds[m][o]·xs[m][i]` for `m = 0, 1, ..` in turn, for the `N` rows `y_o` of `y`
/// (row length `n`, shared by every `xs[m]`): bit-identical to [`axpys`] with each
/// `(ds[m], xs[m])` in turn, each row of `y` read and written once.
#[inline(always)]
pub fn axpys_rows<const M: usize, const N: usize>(
    ds: &[[f64; N]; M],
    xs: [&[f64]; M],
    y: &mut [f64],
) {
    let n = xs.iter().map(|x| x.len()).min().unwrap_or(0);
    let xs = xs.map(|x| &x[..n]);
    let mut ys: [&mut [f64]; N] = {
        let mut rest = &mut y[..N * n];
        std::array::from_fn(|_| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            head
        })
    };
    for i in 0..n {
        // Each row's element read once for the N outputs; each output in a register across
        // the rows: one store per element.
        let x: [f64; M] = std::array::from_fn(|m| xs[m][i]);
        for (o, yo) in ys.iter_mut().enumerate() {
            let mut v = yo[i];
            for m in 0..M {
                v = ds[m][o].mul_add(x[m], v);
            }
            yo[i] = v;
        }
    }
}

/// The softmax of one row of scores into `p` (each exponential once, summed in order).
#[inline(always)]
pub fn softmax_into(z: &[f64], p: &mut [f64]) {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (a, v) in p.iter_mut().zip(z) {
        *a = (v - m).exp();
        s += *a;
    }
    p.iter_mut().for_each(|a| *a /= s);
}

/// `y[i] += alpha·x[i]` over the common length.
#[inline(always)]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = alpha.mul_add(*xi, *yi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[multiversion::multiversion(targets("x86_64+avx2+fma"))]
    fn dot_dispatched(a: &[f64], b: &[f64]) -> f64 {
        dot(a, b)
    }

    #[test]
    fn dot_sums_in_its_lane_order_on_either_build() {
        let a: Vec<f64> = (0..37).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..37).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut lanes = [0.0; 8];
        for i in 0..32 {
            lanes[i % 8] = a[i].mul_add(b[i], lanes[i % 8]);
        }
        let mut tail = 0.0;
        for i in 32..37 {
            tail = a[i].mul_add(b[i], tail);
        }
        let want = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
            + tail;
        assert_eq!(dot(&a, &b).to_bits(), want.to_bits());
        assert_eq!(dot_dispatched(&a, &b).to_bits(), want.to_bits());
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-13);
        let mut y = vec![1.0; 5];
        axpy(2.0, &[1.0, 2.0, 3.0], &mut y);
        assert_eq!(y, [3.0, 5.0, 7.0, 1.0, 1.0]);
        // The multi-row kernels give each row's bits of the one-row kernels.
        let w: Vec<f64> = (0..5 * 37).map(|i| (i as f64 * 0.013).tan()).collect();
        let mut out = vec![0.0; 5];
        matvec(&w, &a, &mut out);
        for o in 0..5 {
            assert_eq!(
                out[o].to_bits(),
                dot(&w[o * 37..(o + 1) * 37], &a).to_bits()
            );
        }
        let alpha = [0.3, -1.1, 2.5, 0.7, -0.2];
        let mut g1 = w.clone();
        let mut g2 = w.clone();
        rank1(&alpha, &b, &mut g1);
        for o in 0..5 {
            axpy(alpha[o], &b, &mut g2[o * 37..(o + 1) * 37]);
        }
        assert_eq!(g1, g2);
    }

    /// The AVX2 build of [`dots_rows`] even on a CPU with AVX-512 (the portable one on a CPU
    /// without AVX2).
    #[multiversion::multiversion(targets("x86_64+avx2+fma"))]
    fn dots_rows_avx2_build(w: &[f64], hs: [&[f64]; 4], outs: &mut [[f64; 3]; 4]) {
        #[cfg(not(any(target_feature = "avx2", target_feature = "avx512f")))]
        #[multiversion::target::target_cfg(all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "fma"
        ))]
        #[multiversion::inherit_target]
        fn imp(w: &[f64], hs: [&[f64]; 4], o: &mut [[f64; 3]; 4]) {
            x86::dots_rows_avx2::<4, 3>(w, hs, o)
        }
        #[multiversion::target::target_cfg(not(all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "fma"
        )))]
        fn imp(w: &[f64], hs: [&[f64]; 4], o: &mut [[f64; 3]; 4]) {
            dots_rows::<4, 3>(w, hs, o)
        }
        #[cfg(any(target_feature = "avx2", target_feature = "avx512f"))]
        fn imp(w: &[f64], hs: [&[f64]; 4], o: &mut [[f64; 3]; 4]) {
            dots_rows::<4, 3>(w, hs, o)
        }
        imp(w, hs, outs)
    }

    #[test]
    fn the_row_block_kernels_give_the_one_row_bits_on_every_build() {
        let n = 45; // five groups of eight and a tail of five
        let w: Vec<f64> = (0..3 * n).map(|i| (i as f64 * 0.29).sin() * 3.0).collect();
        let rows: Vec<Vec<f64>> = (0..4)
            .map(|m| {
                (0..n)
                    .map(|i| ((i * 7 + m * 13) as f64 * 0.17).cos())
                    .collect()
            })
            .collect();
        let hs: [&[f64]; 4] = std::array::from_fn(|m| rows[m].as_slice());
        let mut want = [[0.0; 3]; 4];
        for m in 0..4 {
            for o in 0..3 {
                want[m][o] = dot(&w[o * n..(o + 1) * n], hs[m]);
            }
        }
        let bits = |v: &[[f64; 3]; 4]| v.map(|r| r.map(f64::to_bits));
        let mut widest = [[0.0; 3]; 4];
        dots_rows::<4, 3>(&w, hs, &mut widest);
        assert_eq!(bits(&widest), bits(&want));
        let mut avx2 = [[0.0; 3]; 4];
        dots_rows_avx2_build(&w, hs, &mut avx2);
        assert_eq!(bits(&avx2), bits(&want));
        // Accumulating four rows at once equals four one-row axpys in turn.
        let ds: [[f64; 3]; 4] =
            std::array::from_fn(|m| [0.5 - m as f64, 1.0 / (m + 3) as f64, -0.25]);
        let mut g1 = w.clone();
        let mut g2 = w.clone();
        axpys_rows::<4, 3>(&ds, hs, &mut g1);
        for m in 0..4 {
            axpys::<3>(&ds[m], hs[m], &mut g2);
        }
        assert_eq!(g1, g2);
        // Fused: one rounding per multiply-add (not the product's, then the sum's).
        let (a, b, c) = (1.0 + f64::EPSILON, 1.0 - f64::EPSILON, -1.0);
        let mut y = [c];
        axpy(a, &[b], &mut y);
        assert_eq!(y[0], -f64::EPSILON * f64::EPSILON);
    }
}
