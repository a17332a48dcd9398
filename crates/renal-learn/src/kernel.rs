//! Dense kernels of the linear learners (the MLP, logistic regression): a dot product with a
//! fixed eight-lane summation order and an axpy, inlined into their callers. The callers are
//! compiled twice by `multiversion` (portable, and with AVX2 but not FMA), the AVX2 build
//! chosen at run time when the CPU has it. Rust never contracts a multiply and an add into an
//! FMA, and the lanes are summed in the order written here, so both builds give bit-identical
//! results on any x86-64 CPU (and other architectures get the portable build).

const LANES: usize = 8;

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
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `out[o] = w_o · h` for `N` rows `w_o` of `w` (row length `h.len()`), reading `h` once;
/// each result is bit-identical to [`dot`]`(w_o, h)`.
#[inline(always)]
pub fn dots<const N: usize>(w: &[f64], h: &[f64], out: &mut [f64]) {
    let n = h.len();
    let rows: [&[f64]; N] = std::array::from_fn(|o| &w[o * n..(o + 1) * n]);
    let mut acc = [[0.0f64; LANES]; N];
    let full = n / LANES * LANES;
    let mut i = 0;
    while i < full {
        let x = &h[i..i + LANES];
        for o in 0..N {
            let r = &rows[o][i..i + LANES];
            for l in 0..LANES {
                acc[o][l] += r[l] * x[l];
            }
        }
        i += LANES;
    }
    for o in 0..N {
        let a = &acc[o];
        let mut tail = 0.0;
        for j in full..n {
            tail += rows[o][j] * h[j];
        }
        out[o] = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail;
    }
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
                r[l] += a[o] * xs[l];
            }
        }
        i += LANES;
    }
    for (o, r) in rows.iter_mut().enumerate() {
        for j in full..n {
            r[j] += a[o] * x[j];
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
        *yi += alpha * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[multiversion::multiversion(targets("x86_64+avx2"))]
    fn dot_dispatched(a: &[f64], b: &[f64]) -> f64 {
        dot(a, b)
    }

    #[test]
    fn dot_sums_in_its_lane_order_on_either_build() {
        let a: Vec<f64> = (0..37).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..37).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut lanes = [0.0; 8];
        for i in 0..32 {
            lanes[i % 8] += a[i] * b[i];
        }
        let mut tail = 0.0;
        for i in 32..37 {
            tail += a[i] * b[i];
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
}
