//! Multinomial logistic regression with an L2 penalty, scikit-learn's objective:
//! `C * sum_i CE_i + 0.5 * ||W||^2` (intercepts not penalised), minimised by preconditioned
//! L-BFGS with a backtracking (Armijo) line search until the estimated distance to the optimum
//! is below `tol` relative to the objective.
//!
//! The problem is solved exactly in the basis of the training table's principal directions
//! ([`LogisticBasis`]: fewer unknowns when a fold has fewer rows than columns, as with 512
//! image embeddings), and preconditioned there by the Hessian's leading block, which the
//! correlated columns of real embeddings need: on the KiTS23 ResNet-18 embeddings (condition
//! number near a thousand) plain L-BFGS took 950 iterations at C = 10 and this takes about 80.
//! A C grid shares one decomposition and walks the C path with warm starts
//! ([`Logistic::fit_path`]).
//!
//! # References
//! Nocedal J, Wright SJ (2006). Numerical Optimization, 2nd ed., algorithm 7.4 (L-BFGS) and
//! section 7.2 (preconditioned initial matrices). Boyd S, Vandenberghe L (2004). Convex
//! Optimization, section 9.5.1 (the Newton decrement as a stopping rule).

use crate::error::{LearnError, Result};
use crate::kernel;
use crate::matrix::{check_labels, Matrix};

/// Logistic regression hyperparameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticParams {
    /// Inverse regularisation strength.
    pub c: f64,
    /// Iterations at most (each one L-BFGS step).
    pub max_iter: usize,
    /// The stopping rule: the fit stops when `½ gᵀ H g` (the quasi-Newton estimate of
    /// `f − f*`, from the gradient `g` and the L-BFGS inverse Hessian `H`) is at most
    /// `tol · f`, or when a step no longer changes `f`. At the default 1e-10 the objective is
    /// within about 1e-10 of its optimum, relative (measured against fits run to the end of
    /// their progress: 1.5e-10 at worst on the KiTS23 embeddings); scikit-learn's lbfgs at its
    /// defaults (`tol=1e-4` on the gradient, `max_iter=100`) stops far short of that on such
    /// tables, and needs `tol=1e-10, max_iter=10000` to come within 1e-8.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            c: 1.0,
            max_iter: 1000,
            tol: 1e-10,
        }
    }
}

/// A fitted model: `coef` is n_classes x n_features (row-major), plus intercepts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Logistic {
    pub params: LogisticParams,
    pub n_classes: usize,
    pub n_features: usize,
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    pub iterations: usize,
}

/// Objective and gradient at `w` (coefficients then intercepts), and the class probabilities of
/// every row (n x k, for the preconditioner).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn objective(w: &[f64], x: &Matrix, y: &[usize], k: usize, c: f64) -> (f64, Vec<f64>, Vec<f64>) {
    let (mut f, mut g, probs) = match k {
        _ if x.cols == 0 => loss_rows(w, x, y, k, c),
        2 => loss_blocks::<1, 2>(w, x, y, c),
        3 => loss_blocks::<2, 3>(w, x, y, c),
        _ => loss_rows(w, x, y, k, c),
    };
    for j in 0..k * x.cols {
        f += 0.5 * w[j] * w[j];
        g[j] += w[j];
    }
    (f, g, probs)
}

/// The data term `C Σ CE` of [`objective`] and its gradient, one row at a time.
#[inline(always)]
fn loss_rows(w: &[f64], x: &Matrix, y: &[usize], k: usize, c: f64) -> (f64, Vec<f64>, Vec<f64>) {
    let p = x.cols;
    let (coef, icpt) = w.split_at(k * p);
    let mut g = vec![0.0; w.len()];
    let mut f = 0.0;
    let mut z = vec![0.0; k];
    let mut d = vec![0.0; k];
    let mut probs = vec![0.0; x.rows * k];
    for i in 0..x.rows {
        let r = x.row(i);
        kernel::matvec(coef, r, &mut z);
        for (zc, b) in z.iter_mut().zip(icpt) {
            *zc += b;
        }
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
        let lse = m + s.ln();
        f += c * (lse - z[y[i]]);
        for c_ in 0..k {
            let pr = (z[c_] - lse).exp();
            probs[i * k + c_] = pr;
            d[c_] = c * (pr - (c_ == y[i]) as u8 as f64);
            g[k * p + c_] += d[c_];
        }
        kernel::rank1(&d, r, &mut g[..k * p]);
    }
    (f, g, probs)
}

/// [`loss_rows`] for `N = D + 1` classes by the linear head's two identities (see
/// `mlp::head_blocks`): the softmax does not change when class 0's score is taken from every
/// score, so `D` dot products per row (`(w_c − w_0)·x`) instead of `N`; a row's output
/// gradient sums to zero over the classes, so class 0's weight gradient is minus the others'
/// sum. Four rows per pass over the weights.
#[inline(always)]
fn loss_blocks<const D: usize, const N: usize>(
    w: &[f64],
    x: &Matrix,
    y: &[usize],
    c: f64,
) -> (f64, Vec<f64>, Vec<f64>) {
    const R: usize = 4;
    let p = x.cols;
    let (coef, icpt) = w.split_at(N * p);
    let (w0, wk) = coef.split_at(p);
    let mut wd = vec![0.0; D * p];
    for (dr, r) in wd.chunks_exact_mut(p).zip(wk.chunks_exact(p)) {
        for ((v, a), b) in dr.iter_mut().zip(r).zip(w0) {
            *v = a - b;
        }
    }
    let bd: [f64; D] = std::array::from_fn(|o| icpt[o + 1] - icpt[0]);
    let mut gd = vec![0.0; D * p];
    let mut gb = [0.0; N];
    let mut probs = vec![0.0; x.rows * N];
    let mut f = 0.0;
    // A row's score differences -> its loss, probabilities and output gradient (classes 1..).
    let mut row = |s: &[f64; D], i: usize| -> [f64; D] {
        let mut z = [0.0; N];
        for ((v, si), b) in z[1..].iter_mut().zip(s).zip(&bd) {
            *v = si + b;
        }
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e = z.map(|v| (v - m).exp());
        let sum: f64 = e.iter().sum();
        f += c * (m + sum.ln() - z[y[i]]);
        let inv = 1.0 / sum;
        let mut d = [0.0; N];
        for (cl, (dv, ev)) in d.iter_mut().zip(&e).enumerate() {
            let pr = ev * inv;
            probs[i * N + cl] = pr;
            *dv = c * (pr - (cl == y[i]) as u8 as f64);
            gb[cl] += *dv;
        }
        std::array::from_fn(|o| d[o + 1])
    };
    let idx: Vec<usize> = (0..x.rows).collect();
    let mut blocks = idx.chunks_exact(R);
    for b in blocks.by_ref() {
        let hs: [&[f64]; R] = std::array::from_fn(|m| x.row(b[m]));
        let mut s = [[0.0; D]; R];
        kernel::dots_rows::<R, D>(&wd, hs, &mut s);
        let ds: [[f64; D]; R] = std::array::from_fn(|m| row(&s[m], b[m]));
        kernel::axpys_rows::<R, D>(&ds, hs, &mut gd);
    }
    for &i in blocks.remainder() {
        let h = x.row(i);
        let mut s = [[0.0; D]];
        kernel::dots_rows::<1, D>(&wd, [h], &mut s);
        let d = row(&s[0], i);
        kernel::axpys_rows::<1, D>(&[d], [h], &mut gd);
    }
    let mut g = vec![0.0; N * p + N];
    let (g0, gk) = g[..N * p].split_at_mut(p);
    gk.copy_from_slice(&gd);
    for gr in gd.chunks_exact(p) {
        for (a, v) in g0.iter_mut().zip(gr) {
            *a -= v;
        }
    }
    g[N * p..].copy_from_slice(&gb);
    (f, g, probs)
}

/// A training table in the basis of its principal directions, which every C of a grid shares
/// (see [`Logistic::fit_basis`]).
///
/// With centred columns `X_c = X − 1 μᵀ` written as `Z Vᵀ` (`V` orthonormal, p x r; `Z = X_c V`
/// with orthogonal columns of squared norms `λ`, the non-zero eigenvalues of `X_cᵀ X_c`), the
/// logits `W x_c` are `B z` for `W = B Vᵀ`, and `‖W‖ = ‖B‖`. The optimum `W` lies in the row
/// space of `X_c` (where the gradient condition `W = −C Σ_i d_i x_iᵀ` puts it), so minimising
/// over `B` (k x r, r ≤ min(n − 1, p)) is the same problem, exactly, with fewer unknowns when a
/// fold has fewer rows than columns, and with a Hessian whose data part `C Zᵀ D Z` has its
/// large curvature in the leading coordinates: [`Preconditioner`] takes that block exactly
/// (the rows' unequal weights `D` couple it: a diagonal `1 + C σ λ_j` alone saved almost no
/// iterations, measured) and the diagonal elsewhere. `W = B Λ⁻¹ Zᵀ X_c` maps the result back.
#[derive(Debug, Clone)]
pub struct LogisticBasis {
    mean: Vec<f64>,
    centred: Matrix,
    /// n x r, columns `X_c v_j`.
    z: Matrix,
    lambda: Vec<f64>,
    /// Per row, the lower triangle of `a aᵀ` for `a` = the row's first `top` coordinates and a
    /// 1 (the preconditioner's block is a weighted sum of these).
    outer: Vec<f64>,
    top: usize,
}

impl LogisticBasis {
    /// Decomposes the (training) table `x`: the eigenvectors of the smaller of `X_c X_cᵀ` and
    /// `X_cᵀ X_c`, keeping the directions whose eigenvalue exceeds `max(n, p) ε λ_max` (the
    /// rest are rounding, and centring alone takes one). Squaring the table this way loses
    /// directions whose singular value is below about 1e-8 of the largest; standardised
    /// columns (the pipelines' default for this learner) are far from that: real embeddings'
    /// smallest is about 1e-3 of their largest.
    pub fn new(x: &Matrix) -> Result<Self> {
        x.check_finite()?;
        let (centred, mean) = centre(x);
        let (n, p) = (x.rows, x.cols);
        let by_rows = n < p;
        let g = if by_rows {
            gram(&centred.data, n, p)
        } else {
            let t: Vec<f64> = (0..p).flat_map(|j| centred.column(j)).collect();
            gram(&t, p, n)
        };
        let (values, vectors) =
            crate::eigen::symmetric_eigen(g, EIGEN_EPS).ok_or_else(|| LearnError::Param {
                name: "logistic basis",
                detail: "the eigendecomposition of the Gram matrix did not converge".into(),
            })?;
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let top = order.first().map(|&i| values[i]).unwrap_or(0.0);
        let cut = top.max(0.0) * n.max(p) as f64 * f64::EPSILON;
        let kept: Vec<usize> = order.into_iter().filter(|&i| values[i] > cut).collect();
        let r = kept.len();
        let mut z = vec![0.0; n * r];
        for (col, &e) in kept.iter().enumerate() {
            let v = vectors.column(e);
            if by_rows {
                // z_j = u_j √λ_j.
                let root = values[e].sqrt();
                for i in 0..n {
                    z[i * r + col] = v[i] * root;
                }
            } else {
                // z_j = X_c v_j.
                let v: Vec<f64> = v.iter().copied().collect();
                let mut out = vec![0.0; n];
                matvec(&centred.data, &v, &mut out);
                for (i, o) in out.iter().enumerate() {
                    z[i * r + col] = *o;
                }
            }
        }
        let lambda = kept.iter().map(|&e| values[e]).collect();
        let names = (0..r).map(|j| format!("pc{j}")).collect();
        let z = Matrix::new(n, r, z, names);
        let top = TOP.min(r);
        let mut outer = Vec::with_capacity(n * (top + 1) * (top + 2) / 2);
        let mut a = vec![1.0; top + 1];
        for i in 0..n {
            a[..top].copy_from_slice(&z.row(i)[..top]);
            for u in 0..=top {
                outer.extend(a[..=u].iter().map(|v| a[u] * v));
            }
        }
        Ok(LogisticBasis {
            mean,
            centred,
            z,
            lambda,
            outer,
            top,
        })
    }

    /// The coefficients `W = B Λ⁻¹ Zᵀ X_c` (k x p) of `B` (k x r).
    fn coefficients(&self, b: &[f64], k: usize) -> Vec<f64> {
        let r = self.z.cols;
        let scaled: Vec<f64> = (0..k)
            .flat_map(|c| (0..r).map(move |j| (c, j)))
            .map(|(c, j)| b[c * r + j] / self.lambda[j])
            .collect();
        back_project(&scaled, &self.z, &self.centred, k)
    }
}

/// The Gram matrix of the `m` rows of length `len` in `rows` (row-major), lower triangle
/// mirrored; blocks of 4 x 4 products per pass over the rows, each product bit-identical to
/// the crate's fixed-lane `kernel::dot` (so the same bits on every CPU).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn gram(rows: &[f64], m: usize, len: usize) -> nalgebra::DMatrix<f64> {
    const B: usize = 4;
    let mut g = nalgebra::DMatrix::<f64>::zeros(m, m);
    let row = |i: usize| &rows[i * len..(i + 1) * len];
    let full = m / B * B;
    for i in (0..full).step_by(B) {
        let hs: [&[f64]; B] = std::array::from_fn(|a| row(i + a));
        for j in (0..=i).step_by(B) {
            let mut o = [[0.0; B]; B];
            kernel::dots_rows::<B, B>(&rows[j * len..(j + B) * len], hs, &mut o);
            for (a, oa) in o.iter().enumerate() {
                for (b, v) in oa.iter().enumerate() {
                    g[(i + a, j + b)] = *v;
                    g[(j + b, i + a)] = *v;
                }
            }
        }
    }
    let mut out = vec![0.0; m];
    for i in full..m {
        kernel::matvec(&rows[..(i + 1) * len], row(i), &mut out[..=i]);
        for (j, v) in out[..=i].iter().enumerate() {
            g[(i, j)] = *v;
            g[(j, i)] = *v;
        }
    }
    g
}

/// Per class pair `(c1, c2)`, `Σ_i C (p_i,c1 [c1 = c2] − p_i,c1 p_i,c2) o_i` over the rows'
/// outer-product triangles `o_i` (the preconditioner's block, packed).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn weighted_outer(
    outer: &[f64],
    probs: &[f64],
    pairs: &[(usize, usize)],
    k: usize,
    c: f64,
) -> Vec<f64> {
    let n = probs.len() / k.max(1);
    let t = outer.len() / n.max(1);
    let mut acc = vec![0.0; pairs.len() * t];
    let mut d = vec![0.0; pairs.len()];
    for (o, p) in outer.chunks_exact(t).zip(probs.chunks_exact(k)) {
        for (dv, &(c1, c2)) in d.iter_mut().zip(pairs) {
            *dv = c * (if c1 == c2 { p[c1] } else { 0.0 } - p[c1] * p[c2]);
        }
        kernel::rank1(&d, o, &mut acc);
    }
    acc
}

/// `out = A v` for the row-major `A` with `out.len()` rows.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn matvec(a: &[f64], v: &[f64], out: &mut [f64]) {
    kernel::matvec(a, v, out);
}

/// `W = S Zᵀ X_c`: row c of `W` is `Σ_i (s_c · z_i) x_i`.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn back_project(s: &[f64], z: &Matrix, xc: &Matrix, k: usize) -> Vec<f64> {
    let mut w = vec![0.0; k * xc.cols];
    let mut a = vec![0.0; k];
    for i in 0..z.rows {
        kernel::matvec(s, z.row(i), &mut a);
        kernel::rank1(&a, xc.row(i), &mut w);
    }
    w
}

/// The columns of `x` centred, and their means. Logits `W x + b = W (x − μ) + (b + W μ)` and
/// only `W` is penalised, so fitting on centred columns and taking `b = b' − W μ` is the same
/// optimum; it takes the intercepts' coupling to the coefficients out of the conditioning.
fn centre(x: &Matrix) -> (Matrix, Vec<f64>) {
    let p = x.cols;
    let mean: Vec<f64> = (0..p)
        .map(|j| x.column(j).iter().sum::<f64>() / x.rows as f64)
        .collect();
    let mut centred = x.clone();
    for i in 0..x.rows {
        for (v, m) in centred.data[i * p..(i + 1) * p].iter_mut().zip(&mean) {
            *v -= m;
        }
    }
    (centred, mean)
}

/// The L-BFGS search direction `−H g` by the two-loop recursion over the stored pairs, from
/// the preconditioner's inverse as `H₀` rather than a multiple of the identity.
fn direction(g: &[f64], h0: &Preconditioner, s_hist: &[Vec<f64>], y_hist: &[Vec<f64>]) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alpha = vec![0.0; s_hist.len()];
    for i in (0..s_hist.len()).rev() {
        let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
        alpha[i] = rho * dot(&s_hist[i], &q);
        for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
            *qj -= alpha[i] * yj;
        }
    }
    h0.apply(&mut q);
    for i in 0..s_hist.len() {
        let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
        let beta = rho * dot(&y_hist[i], &q);
        for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
            *qj += (alpha[i] - beta) * sj;
        }
    }
    q.iter().map(|v| -v).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The preconditioner at the current point: an approximate Hessian of the objective in the
/// basis of [`LogisticBasis`]. On the `TOP` leading directions and the intercepts, where the
/// curvature is large and the rows' unequal weights couple the coordinates, it is the exact
/// Hessian block `I + C Σ_i a_i a_iᵀ ⊗ (diag p_i − p_i p_iᵀ)` (`a_i` the row's leading
/// coordinates and a 1), factorised; on the other directions its diagonal estimate
/// `1 + C σ_c λ_j`, `σ_c` the mean of `p_c (1 − p_c)`.
struct Preconditioner {
    k: usize,
    r: usize,
    q: usize,
    block: Option<nalgebra::Cholesky<f64, nalgebra::Dyn>>,
    /// The inverse diagonal for the coordinates outside the block.
    diag: Vec<f64>,
}

/// The eigensolver's convergence threshold (relative off-diagonal size): the basis then
/// reproduces the Gram matrix to about 2e-11 of its norm (measured 1.6e-11 on a 287-row fold),
/// a perturbation of the problem below the stopping rule's 1e-10, for about a tenth less time
/// than machine precision.
const EIGEN_EPS: f64 = 1e-9;

/// Iterations between rebuilds of the preconditioner (its block costs about an evaluation of
/// the objective; rebuilt every third step it steers as well, measured, for less time).
const REFRESH: usize = 3;

/// Leading directions in the preconditioner's exact block.
const TOP: usize = 16;

impl Preconditioner {
    fn new(basis: &LogisticBasis, probs: &[f64], k: usize, c: f64) -> Preconditioner {
        let (n, r, q) = (basis.z.rows, basis.z.cols, basis.top);
        let mut sigma = vec![0.0; k];
        for row in probs.chunks_exact(k) {
            for (s, p) in sigma.iter_mut().zip(row) {
                *s += p * (1.0 - p);
            }
        }
        sigma.iter_mut().for_each(|s| *s /= n.max(1) as f64);
        let mut diag: Vec<f64> = sigma
            .iter()
            .flat_map(|s| basis.lambda.iter().map(move |l| 1.0 / (1.0 + c * s * l)))
            .collect();
        diag.extend(sigma.iter().map(|s| 1.0 / (c * s * n as f64).max(1e-12)));
        let (m, w) = (k * (q + 1), q + 1);
        let pairs: Vec<(usize, usize)> =
            (0..k).flat_map(|a| (0..=a).map(move |b| (a, b))).collect();
        let acc = weighted_outer(&basis.outer, probs, &pairs, k, c);
        let t = w * (w + 1) / 2;
        let mut h = nalgebra::DMatrix::<f64>::zeros(m, m);
        for (block, &(c1, c2)) in acc.chunks_exact(t).zip(&pairs) {
            for u in 0..w {
                for v in 0..=u {
                    let val = block[u * (u + 1) / 2 + v];
                    for (a, b) in [(u, v), (v, u)] {
                        h[(c1 * w + a, c2 * w + b)] = val;
                        h[(c2 * w + b, c1 * w + a)] = val;
                    }
                }
            }
        }
        // The penalty (coefficients only), and a ridge for the intercepts' common shift, which
        // changes nothing (softmax).
        for c1 in 0..k {
            for u in 0..q {
                h[(c1 * w + u, c1 * w + u)] += 1.0;
            }
            let i = c1 * w + q;
            h[(i, i)] += 1e-10 * (1.0 + h[(i, i)]);
        }
        Preconditioner {
            k,
            r,
            q,
            block: nalgebra::Cholesky::new(h),
            diag,
        }
    }

    /// `v ← H₀ v`.
    fn apply(&self, v: &mut [f64]) {
        let (k, r, q) = (self.k, self.r, self.q);
        let Some(chol) = &self.block else {
            v.iter_mut().zip(&self.diag).for_each(|(x, h)| *x *= h);
            return;
        };
        let index = |c: usize, u: usize| if u < q { c * r + u } else { k * r + c };
        let mut b = nalgebra::DVector::<f64>::zeros(k * (q + 1));
        for c in 0..k {
            for u in 0..=q {
                b[c * (q + 1) + u] = v[index(c, u)];
            }
        }
        let b = chol.solve(&b);
        v.iter_mut().zip(&self.diag).for_each(|(x, h)| *x *= h);
        for c in 0..k {
            for u in 0..=q {
                v[index(c, u)] = b[c * (q + 1) + u];
            }
        }
    }
}

impl Logistic {
    /// Fits on `x` (see [`LogisticParams`] for the stopping rule).
    pub fn fit(params: &LogisticParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
        check_labels(x, y, n_classes)?;
        Self::fit_basis(params, &LogisticBasis::new(x)?, y, n_classes)
    }

    /// Fits on the table that `basis` decomposes (one decomposition for a whole C grid).
    pub fn fit_basis(
        params: &LogisticParams,
        basis: &LogisticBasis,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        Ok(Self::fit_path(&[params], basis, y, n_classes)?.remove(0))
    }

    /// Fits every C of a grid on the table that `basis` decomposes, in increasing C, each fit
    /// starting from the solution of the one before (the optimum moves little from one C to the
    /// next, and the larger C, which are the slower to converge, start closest). Each result is
    /// the optimum to the stopping rule of its own parameters; its last digits may differ from
    /// a fit of that C alone, which starts from zero. Returns the models in the order given.
    pub fn fit_path(
        params: &[&LogisticParams],
        basis: &LogisticBasis,
        y: &[usize],
        n_classes: usize,
    ) -> Result<Vec<Self>> {
        check_labels(&basis.centred, y, n_classes)?;
        for p in params {
            if p.c <= 0.0 || !p.c.is_finite() {
                return Err(LearnError::Param {
                    name: "c",
                    detail: format!("{} is not positive", p.c),
                });
            }
        }
        let (k, r, p) = (n_classes, basis.z.cols, basis.centred.cols);
        let mut order: Vec<usize> = (0..params.len()).collect();
        order.sort_by(|&a, &b| params[a].c.total_cmp(&params[b].c).then(a.cmp(&b)));
        let mut out: Vec<Option<Logistic>> = vec![None; params.len()];
        let mut w = vec![0.0; k * r + k];
        for i in order {
            let it;
            (w, it) = minimise(params[i], basis, y, k, w);
            let coef = basis.coefficients(&w[..k * r], k);
            let mut intercept = w[k * r..].to_vec();
            for (c, b) in intercept.iter_mut().enumerate() {
                *b -= kernel::dot(&coef[c * p..(c + 1) * p], &basis.mean);
            }
            out[i] = Some(Logistic {
                params: params[i].clone(),
                n_classes: k,
                n_features: p,
                coef,
                intercept,
                iterations: it,
            });
        }
        Ok(out.into_iter().flatten().collect())
    }

    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.n_features {
            return Err(LearnError::Columns {
                what: "logistic predict",
                expected: self.n_features,
                got: x.cols,
            });
        }
        x.check_finite()?;
        let (k, p) = (self.n_classes, self.n_features);
        let mut out = vec![0.0; x.rows * k];
        for i in 0..x.rows {
            let r = x.row(i);
            let z: Vec<f64> = (0..k)
                .map(|c| {
                    self.intercept[c]
                        + self.coef[c * p..(c + 1) * p]
                            .iter()
                            .zip(r)
                            .map(|(a, b)| a * b)
                            .sum::<f64>()
                })
                .collect();
            kernel::softmax_into(&z, &mut out[i * k..(i + 1) * k]);
        }
        Ok(Matrix::probabilities(x.rows, k, out))
    }
}

/// Preconditioned L-BFGS (memory 10, Armijo backtracking from the unit step) on the problem in
/// the basis `z`; returns the solution (coefficients then intercepts) and the iterations.
fn minimise(
    params: &LogisticParams,
    basis: &LogisticBasis,
    y: &[usize],
    k: usize,
    start: Vec<f64>,
) -> (Vec<f64>, usize) {
    let z = &basis.z;
    let mut w = start;
    let (mut f, mut g, mut probs) = objective(&w, z, y, k, params.c);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let m = 10;
    let mut it = 0;
    let mut h0 = Preconditioner::new(basis, &probs, k, params.c);
    while it < params.max_iter {
        if it % REFRESH == 0 && it > 0 {
            h0 = Preconditioner::new(basis, &probs, k, params.c);
        }
        let mut d = direction(&g, &h0, &s_hist, &y_hist);
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            d = g.clone();
            h0.apply(&mut d);
            d.iter_mut().for_each(|v| *v = -*v);
            slope = dot(&g, &d);
            s_hist.clear();
            y_hist.clear();
        }
        if -0.5 * slope <= params.tol * f.abs() {
            break;
        }
        let mut step = 1.0;
        let (mut wn, mut fnew, mut gnew, mut pnew);
        loop {
            wn = w
                .iter()
                .zip(&d)
                .map(|(a, b)| a + step * b)
                .collect::<Vec<f64>>();
            (fnew, gnew, pnew) = objective(&wn, z, y, k, params.c);
            if fnew <= f + 1e-4 * step * slope || step < 1e-20 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f64> = wn.iter().zip(&w).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let improved = (f - fnew).abs() > f64::EPSILON * f.abs().max(1.0);
        if dot(&s, &yv) > 1e-12 {
            s_hist.push(s);
            y_hist.push(yv);
            if s_hist.len() > m {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        w = wn;
        f = fnew;
        g = gnew;
        probs = pnew;
        it += 1;
        if !improved {
            break;
        }
    }
    (w, it)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimum_has_zero_gradient_and_balanced_intercepts() {
        // Symmetric 2-class data around 0: by symmetry the intercepts are equal and opposite
        // up to a common shift (softmax), the coefficient separates the classes, and the
        // gradient of the penalised objective vanishes at the solution.
        let x = Matrix::from_rows(
            &[
                vec![-2.0],
                vec![-1.0],
                vec![1.0],
                vec![2.0],
                vec![-0.5],
                vec![0.5],
            ],
            None,
        )
        .unwrap();
        let y = [0, 0, 1, 1, 1, 0];
        let m = Logistic::fit(&LogisticParams::default(), &x, &y, 2).unwrap();
        let mut w = m.coef.clone();
        w.extend(&m.intercept);
        let (_, g, _) = objective(&w, &x, &y, 2, 1.0);
        assert!(g.iter().all(|v| v.abs() < 1e-6), "{g:?}");
        assert!((m.intercept[0] - m.intercept[1]).abs() < 1e-6);
        assert!(m.coef[1] > m.coef[0]);
        let p = m
            .predict_proba(&Matrix::from_rows(&[vec![0.0]], None).unwrap())
            .unwrap();
        assert!((p.data[0] - 0.5).abs() < 1e-6);
    }
}
