//! The symmetric eigendecomposition that logistic regression's basis needs
//! ([`crate::logistic::LogisticBasis`]): nalgebra's algorithm, nalgebra's Householder
//! tridiagonalisation, then its implicit symmetric QR steps with Wilkinson shifts (deflating
//! from the bottom) ported here so that each step's Givens rotations run over two contiguous
//! columns of the eigenvector matrix in the widest vector registers the CPU has. nalgebra's
//! generic code ran them element by element in two-lane registers (it is compiled for the
//! baseline CPU). The rotations are plain products and sums (no fused multiply-add): every
//! build gives the same bits. A tridiagonalisation of our own, written the same way, was no
//! faster than nalgebra's and is not kept.
//!
//! # References
//! Golub GH, Van Loan CF (2013). Matrix Computations, 4th ed., algorithm 8.3.2 (the implicit
//! symmetric QR step with Wilkinson shift).

use nalgebra::DMatrix;

/// The eigenvalues (unsorted) and eigenvectors (the columns) of the symmetric `m`, read from
/// its lower triangle; `None` if `m` is not square or the QR steps do not converge within
/// `30 n` sweeps. `eps` is
/// the relative size of an off-diagonal element below which it is taken as zero.
pub(crate) fn symmetric_eigen(m: DMatrix<f64>, eps: f64) -> Option<(Vec<f64>, DMatrix<f64>)> {
    let n = m.nrows();
    if n == 0 || n != m.ncols() {
        return (n == m.ncols()).then(|| (Vec::new(), m));
    }
    let amax = m.camax();
    let mut m = m;
    if amax != 0.0 {
        m.unscale_mut(amax);
    }
    let (mut q, diag, off) = nalgebra::linalg::SymmetricTridiagonal::new(m).unpack();
    let mut d: Vec<f64> = diag.iter().copied().collect();
    let mut e: Vec<f64> = off.iter().copied().collect();
    if n > 1 && !qr_steps(&mut d, &mut e, q.as_mut_slice(), n, eps) {
        return None;
    }
    d.iter_mut().for_each(|v| *v *= amax);
    Some((d, q))
}

/// `(a, b) ← (c a + s b, −s a + c b)` over two columns.
#[inline(always)]
fn rotate(q: &mut [f64], n: usize, i: usize, c: f64, s: f64) {
    let (left, right) = q[i * n..(i + 2) * n].split_at_mut(n);
    for (a, b) in left.iter_mut().zip(right.iter_mut()) {
        let (x, y) = (*a, *b);
        *a = c * x + s * y;
        *b = -s * x + c * y;
    }
}

/// `(|x|, sign)`, the sign of zero being 1.
fn to_exp(x: f64) -> (f64, f64) {
    if x >= 0.0 {
        (x, 1.0)
    } else {
        (-x, -1.0)
    }
}

fn wilkinson_shift(tmm: f64, tnn: f64, tmn: f64) -> f64 {
    let sq = tmn * tmn;
    if sq != 0.0 {
        let d = (tmm - tnn) * 0.5;
        tnn - sq / (d + d.signum() * (d * d + sq).sqrt())
    } else {
        tnn
    }
}

/// The implicit QR steps on the tridiagonal `(d, e)`, rotating the columns of `q`
/// (column-major, `n` x `n`); false if they did not converge. Compiled for the wider vector
/// registers too; with no fused multiply-add in the rotation, every build gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn qr_steps(d: &mut [f64], e: &mut [f64], q: &mut [f64], n: usize, eps: f64) -> bool {
    let (mut start, mut end) = delimit(d, e, n - 1, eps);
    let mut niter = 0;
    while end != start {
        if end - start + 1 > 2 {
            sweep(d, e, q, n, start, end);
            let m = end - 1;
            if e[m].abs() <= eps * (d[m].abs() + d[end].abs()) {
                end -= 1;
            }
        } else {
            // A 2 x 2 block: its eigenvalues directly, its rotation from the first.
            let b = nalgebra::Matrix2::new(d[start], e[start], e[start], d[start + 1]);
            let Some(vals) = b.eigenvalues() else {
                return false;
            };
            let (x, y) = (vals[0] - d[start + 1], e[start]);
            d[start] = vals[0];
            d[start + 1] = vals[1];
            let (mod0, sign0) = to_exp(x);
            let denom = (mod0 * mod0 + y * y).sqrt();
            if denom > eps {
                rotate(q, n, start, mod0 / denom, y / (sign0 * denom));
            }
            end -= 1;
        }
        (start, end) = delimit(d, e, end, eps);
        niter += 1;
        if niter == 30 * n {
            return false;
        }
    }
    true
}

/// One implicit QR sweep with a Wilkinson shift over `start..=end`.
#[inline(always)]
fn sweep(d: &mut [f64], e: &mut [f64], q: &mut [f64], n: usize, start: usize, end: usize) {
    let m = end - 1;
    let (mut vx, mut vy) = (d[start] - wilkinson_shift(d[m], d[end], e[m]), e[start]);
    for i in start..end {
        let j = i + 1;
        if vy == 0.0 {
            break;
        }
        // The rotation that cancels vy.
        let (mod0, sign0) = to_exp(vx);
        let denom = (mod0 * mod0 + vy * vy).sqrt();
        let (c, s) = (mod0 / denom, -vy / (sign0 * denom));
        if i > start {
            e[i - 1] = sign0 * denom;
        }
        let (mii, mjj, mij) = (d[i], d[j], e[i]);
        let (cc, ss, cs) = (c * c, s * s, c * s);
        let b = cs * 2.0 * mij;
        d[i] = (cc * mii + ss * mjj) - b;
        d[j] = (ss * mii + cc * mjj) + b;
        e[i] = cs * (mii - mjj) + mij * (cc - ss);
        if i != end - 1 {
            vx = e[i];
            vy = -s * e[i + 1];
            e[i + 1] *= c;
        }
        rotate(q, n, i, c, -s);
    }
}

/// The bottom unreduced block `(start, end)` at or above `end`, zeroing the off-diagonal
/// element that separates it; `(0, 0)` when everything above is diagonal.
fn delimit(d: &[f64], e: &mut [f64], end: usize, eps: f64) -> (usize, usize) {
    let mut n = end;
    while n > 0 {
        let m = n - 1;
        if e[m].abs() > eps * (d[n].abs() + d[m].abs()) {
            break;
        }
        n -= 1;
    }
    if n == 0 {
        return (0, 0);
    }
    let mut start = n - 1;
    while start > 0 {
        let m = start - 1;
        if e[m] == 0.0 || e[m].abs() <= eps * (d[start].abs() + d[m].abs()) {
            e[m] = 0.0;
            break;
        }
        start -= 1;
    }
    (start, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against nalgebra's own decomposition of the same matrices: the same eigenvalues, and
    /// eigenvectors that are orthonormal and decompose the matrix.
    #[test]
    fn decomposes_as_nalgebra_does() {
        let mut s = 7u64;
        let mut r = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for n in [1usize, 2, 3, 5, 40, 97] {
            let x = DMatrix::from_fn(n, n + 3, |_, _| r());
            let g = &x * x.transpose();
            let (vals, vecs) = symmetric_eigen(g.clone(), f64::EPSILON).unwrap();
            let theirs = nalgebra::SymmetricEigen::new(g.clone());
            let mut a = vals.clone();
            let mut b: Vec<f64> = theirs.eigenvalues.iter().copied().collect();
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let scale = b.last().copied().unwrap_or(1.0).abs().max(1.0);
            for (u, v) in a.iter().zip(&b) {
                assert!((u - v).abs() <= 1e-12 * scale, "n={n}: {u} vs {v}");
            }
            let recon = &vecs
                * DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vals))
                * vecs.transpose();
            assert!(
                (recon - &g).amax() <= 1e-12 * scale,
                "n={n}: reconstruction"
            );
            let orth = vecs.transpose() * &vecs - DMatrix::identity(n, n);
            assert!(orth.amax() <= 1e-12, "n={n}: orthonormality");
        }
    }
}
