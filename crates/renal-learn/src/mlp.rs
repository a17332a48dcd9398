//! Multilayer perceptron classifier in f64, trained like the study's PyTorch code: ReLU hidden
//! layers (none = the linear head the study used), softmax cross-entropy (mean over the batch),
//! Adam with PyTorch's coupled L2 `weight_decay` (biases decayed too), PyTorch's default
//! `nn.Linear` initialisation U(-1/sqrt(fan_in), 1/sqrt(fan_in)), mini-batches in a seeded
//! per-epoch order (the last batch may be smaller, as with `drop_last=False`).
//!
//! # References
//! Kingma DP, Ba J (2015). Adam: a method for stochastic optimization. ICLR.

use renal_stats::Rng;

use crate::error::{LearnError, Result};
use crate::kernel;
use crate::matrix::{check_labels, Matrix};

/// A layer's pre-activations for a batch of inputs. # Shapes: [batch, n_in] -> [batch, n_out]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn forward_layer(l: &Linear, x: &[f64], batch: usize) -> Vec<f64> {
    let mut out = vec![0.0; batch * l.n_out];
    for b in 0..batch {
        l.outputs(
            &x[b * l.n_in..(b + 1) * l.n_in],
            &mut out[b * l.n_out..(b + 1) * l.n_out],
        );
    }
    out
}

/// Per-layer (weight, bias) gradients.
type Grads = Vec<(Vec<f64>, Vec<f64>)>;

/// The one-layer case of [`loss_and_grads`] in one pass over each row (forward, softmax and
/// gradient while the row is in cache). Two and three classes take the rows four at a time
/// (one pass over the weights and the gradient for four rows) and do one class fewer of the
/// work (see [`head_blocks`]); any other count one row at a time.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn linear_head(l: &Linear, x: &Matrix, y: &[usize], rows: &[usize], k: usize) -> (f64, Grads) {
    match k {
        2 => head_blocks::<2, 1>(l, x, y, rows),
        3 => head_blocks::<3, 2>(l, x, y, rows),
        _ => head_rows(l, x, y, rows, k),
    }
}

/// [`linear_head`] for `N` classes (`D = N - 1`), four rows per step, with two exact
/// identities that save a class's multiply-adds: the softmax does not change when one score is
/// subtracted from all, so the scores are `(w_o - w_0)·h + (b_o - b_0)` for the `D` classes
/// `o >= 1` and 0 for class 0; a row's output gradient (softmax minus one-hot) sums to zero
/// over the classes, so class 0's weight gradient is minus the sum of the others'. Both
/// hold in exact arithmetic; the rounding differs from the direct form by a few ulps (the
/// golden PyTorch trajectories still match to 1e-10).
#[inline(always)]
fn head_blocks<const N: usize, const D: usize>(
    l: &Linear,
    x: &Matrix,
    y: &[usize],
    rows: &[usize],
) -> (f64, Grads) {
    const R: usize = 4;
    debug_assert_eq!(D + 1, N);
    let n = l.n_in;
    let b = rows.len() as f64;
    let inv_b = 1.0 / b;
    // The weights of classes 1.. less class 0's, and their biases likewise.
    let (w0, wk) = l.weight[..N * n].split_at(n);
    let mut wd = vec![0.0; D * n];
    for (dr, r) in wd.chunks_exact_mut(n).zip(wk.chunks_exact(n)) {
        for ((v, a), c) in dr.iter_mut().zip(r).zip(w0) {
            *v = a - c;
        }
    }
    let bd: [f64; D] = std::array::from_fn(|o| l.bias[o + 1] - l.bias[0]);
    // The gradients of classes 1.. (class 0's is filled in at the end).
    let mut gd = vec![0.0; D * n];
    let mut gb = [0.0; N];
    // The loss (the recorded step losses; it does not steer the fit) takes one logarithm per
    // run of rows: their label probabilities multiplied while the product stays far from
    // underflow, a tiny probability on its own (a relative error of about the run's length in
    // ulps, against one logarithm per row).
    let mut loss = 0.0;
    let mut likelihood = 1.0f64;
    // A row's score differences -> its loss term, and its softmax minus the one-hot label over
    // the batch size (the output gradient), added to the bias gradient.
    let mut grad = |s: &[f64; D], r: usize| -> [f64; N] {
        let mut z = [0.0; N];
        for ((v, si), bias) in z[1..].iter_mut().zip(s).zip(&bd) {
            *v = si + bias;
        }
        // The softmax with one division per row (a reciprocal, then products: within an ulp
        // of dividing each term, as `kernel::softmax_into` does).
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut d = z.map(|v| (v - m).exp());
        let inv = 1.0 / d.iter().sum::<f64>();
        d.iter_mut().for_each(|v| *v *= inv);
        let py = d[y[r]];
        if py < 1e-100 {
            loss -= py.ln();
        } else {
            likelihood *= py;
            if likelihood < 1e-200 {
                loss -= likelihood.ln();
                likelihood = 1.0;
            }
        }
        d[y[r]] -= 1.0;
        d.iter_mut().for_each(|v| *v *= inv_b);
        for (g, di) in gb.iter_mut().zip(&d) {
            *g += di;
        }
        d
    };
    let rest = |d: &[f64; N]| -> [f64; D] { std::array::from_fn(|o| d[o + 1]) };
    let mut blocks = rows.chunks_exact(R);
    for p in blocks.by_ref() {
        let hs: [&[f64]; R] = std::array::from_fn(|m| x.row(p[m]));
        let mut s = [[0.0; D]; R];
        kernel::dots_rows::<R, D>(&wd, hs, &mut s);
        let ds: [[f64; D]; R] = std::array::from_fn(|m| rest(&grad(&s[m], p[m])));
        kernel::axpys_rows::<R, D>(&ds, hs, &mut gd);
    }
    for &r in blocks.remainder() {
        let h = x.row(r);
        let mut s = [[0.0; D]];
        kernel::dots_rows::<1, D>(&wd, [h], &mut s);
        let d = rest(&grad(&s[0], r));
        kernel::axpys_rows::<1, D>(&[d], [h], &mut gd);
    }
    let loss = loss - likelihood.ln();
    let mut gw = vec![0.0; N * n];
    let (g0, gk) = gw.split_at_mut(n);
    gk.copy_from_slice(&gd);
    for gr in gd.chunks_exact(n) {
        for (g, v) in g0.iter_mut().zip(gr) {
            *g -= v;
        }
    }
    (loss / b, vec![(gw, gb.to_vec())])
}

/// [`linear_head`] for any number of classes, one row at a time.
#[inline(always)]
fn head_rows(l: &Linear, x: &Matrix, y: &[usize], rows: &[usize], k: usize) -> (f64, Grads) {
    let b = rows.len() as f64;
    let mut gw = vec![0.0; l.n_out * l.n_in];
    let mut gb = vec![0.0; l.n_out];
    let mut z = vec![0.0; k];
    let mut d = vec![0.0; k];
    let mut loss = 0.0;
    for &r in rows {
        let h = x.row(r);
        l.outputs(h, &mut z);
        kernel::softmax_into(&z, &mut d);
        loss -= d[y[r]].ln();
        d[y[r]] -= 1.0;
        d.iter_mut().for_each(|v| *v /= b);
        for (g, di) in gb.iter_mut().zip(&d) {
            *g += di;
        }
        kernel::rank1(&d, h, &mut gw);
    }
    (loss / b, vec![(gw, gb)])
}

/// Mean cross-entropy of the batch `rows` and its gradients (backpropagation), reading the
/// batch's rows of `x` in place.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn loss_and_grads(
    layers: &[Linear],
    x: &Matrix,
    y: &[usize],
    rows: &[usize],
    k: usize,
) -> (f64, Grads) {
    let b = rows.len();
    let n_layers = layers.len();
    if let [l] = layers {
        return linear_head(l, x, y, rows, k);
    }
    // pre[li]: layer li's pre-activations; post[li]: their ReLU, the input of layer li + 1.
    let mut pre: Vec<Vec<f64>> = Vec::with_capacity(n_layers);
    let mut post: Vec<Vec<f64>> = Vec::with_capacity(n_layers.saturating_sub(1));
    for (li, l) in layers.iter().enumerate() {
        let mut z = vec![0.0; b * l.n_out];
        for (bi, &r) in rows.iter().enumerate() {
            let h = if li == 0 {
                x.row(r)
            } else {
                &post[li - 1][bi * l.n_in..(bi + 1) * l.n_in]
            };
            l.outputs(h, &mut z[bi * l.n_out..(bi + 1) * l.n_out]);
        }
        if li + 1 < n_layers {
            post.push(z.iter().map(|v| v.max(0.0)).collect());
        }
        pre.push(z);
    }
    let p = Mlp::softmax_rows(&pre[n_layers - 1], k);
    let mut loss = 0.0;
    let mut delta = p.clone();
    for (i, &r) in rows.iter().enumerate() {
        loss -= p[i * k + y[r]].ln();
        delta[i * k + y[r]] -= 1.0;
    }
    loss /= b as f64;
    delta.iter_mut().for_each(|d| *d /= b as f64);
    let mut grads = vec![(Vec::new(), Vec::new()); n_layers];
    for li in (0..n_layers).rev() {
        let l = &layers[li];
        let mut gw = vec![0.0; l.n_out * l.n_in];
        let mut gb = vec![0.0; l.n_out];
        for (bi, &r) in rows.iter().enumerate() {
            let h = if li == 0 {
                x.row(r)
            } else {
                &post[li - 1][bi * l.n_in..(bi + 1) * l.n_in]
            };
            let d = &delta[bi * l.n_out..(bi + 1) * l.n_out];
            for (g, di) in gb.iter_mut().zip(d) {
                *g += di;
            }
            kernel::rank1(d, h, &mut gw);
        }
        if li > 0 {
            let mut nd = vec![0.0; b * l.n_in];
            for bi in 0..b {
                for o in 0..l.n_out {
                    kernel::axpy(
                        delta[bi * l.n_out + o],
                        &l.weight[o * l.n_in..(o + 1) * l.n_in],
                        &mut nd[bi * l.n_in..(bi + 1) * l.n_in],
                    );
                }
            }
            for (v, z) in nd.iter_mut().zip(&pre[li - 1]) {
                if *z <= 0.0 {
                    *v = 0.0;
                }
            }
            delta = nd;
        }
        grads[li] = (gw, gb);
    }
    (loss, grads)
}

/// MLP hyperparameters (defaults: the study's linear head, Adam lr 3e-4, L2 8e-4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpParams {
    pub hidden: Vec<usize>,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden: Vec::new(),
            lr: 3e-4,
            weight_decay: 8e-4,
            batch_size: 32,
            epochs: 200,
            seed: 0,
        }
    }
}

/// One linear layer: `y = x W^T + b`, `W` stored out x in (row-major), as PyTorch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Linear {
    pub n_in: usize,
    pub n_out: usize,
    pub weight: Vec<f64>,
    pub bias: Vec<f64>,
}

impl Linear {
    fn init(n_in: usize, n_out: usize, rng: &mut Rng) -> Self {
        let bound = 1.0 / (n_in as f64).sqrt();
        let mut u = || (2.0 * rng.f64() - 1.0) * bound;
        let weight = (0..n_in * n_out).map(|_| u()).collect();
        let bias = (0..n_out).map(|_| u()).collect();
        Linear {
            n_in,
            n_out,
            weight,
            bias,
        }
    }

    /// # Shapes
    /// `x`: [batch, n_in] -> [batch, n_out]
    fn forward(&self, x: &[f64], batch: usize) -> Vec<f64> {
        forward_layer(self, x, batch)
    }

    /// `bias[o] + w_o · h` for each output (prediction, and training of hidden layers; the
    /// two- and three-class head trains on score differences, see [`head_blocks`]).
    #[inline(always)]
    fn outputs(&self, h: &[f64], out: &mut [f64]) {
        kernel::matvec(&self.weight, h, out);
        for (z, b) in out.iter_mut().zip(&self.bias) {
            *z += b;
        }
    }
}

/// A fitted MLP and its training record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mlp {
    pub params: MlpParams,
    pub n_classes: usize,
    pub layers: Vec<Linear>,
    /// Batch losses before each step.
    pub step_losses: Vec<f64>,
}

/// Adam state for one parameter vector.
#[derive(Default)]
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Adam {
    fn step(&mut self, p: &mut [f64], g: &[f64], t: i32, lr: f64, wd: f64) {
        if self.m.is_empty() {
            self.m = vec![0.0; p.len()];
            self.v = vec![0.0; p.len()];
        }
        adam_update(&mut self.m, &mut self.v, p, g, t, lr, wd);
    }
}

/// One Adam update of `p` with moments `m`, `v` (vectorised where the CPU has the registers;
/// every operation correctly rounded and none fused, so the same bits on any build).
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn adam_update(m: &mut [f64], v: &mut [f64], p: &mut [f64], g: &[f64], t: i32, lr: f64, wd: f64) {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    let step_size = lr / bc1;
    // One division per step instead of one per parameter (PyTorch divides by
    // sqrt(bc2) itself: an ulp's difference, well inside the golden 1e-10).
    let inv_bc2_sqrt = 1.0 / bc2.sqrt();
    for (((pi, gi), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gi = gi + wd * *pi;
        *mi = b1 * *mi + (1.0 - b1) * gi;
        *vi = b2 * *vi + (1.0 - b2) * gi * gi;
        let denom = vi.sqrt() * inv_bc2_sqrt + eps;
        *pi -= step_size * *mi / denom;
    }
}

impl Mlp {
    /// Layers with PyTorch's default initialisation, drawn from `seed`.
    pub fn init(params: &MlpParams, n_in: usize, n_classes: usize) -> Vec<Linear> {
        let mut rng = Rng::new(params.seed);
        let mut sizes = vec![n_in];
        sizes.extend(&params.hidden);
        sizes.push(n_classes);
        sizes
            .windows(2)
            .map(|w| Linear::init(w[0], w[1], &mut rng))
            .collect()
    }

    /// Fits with seeded initialisation and per-epoch shuffles.
    pub fn fit(params: &MlpParams, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Self> {
        let layers = Self::init(params, x.cols, n_classes);
        let mut rng = Rng::derive(params.seed, 1);
        let orders: Vec<Vec<usize>> = (0..params.epochs)
            .map(|_| {
                let mut o: Vec<usize> = (0..x.rows).collect();
                rng.shuffle(&mut o);
                o
            })
            .collect();
        Self::fit_with(params, x, y, n_classes, layers, &orders)
    }

    /// Fits from given initial layers and per-epoch row orders (for exact comparison with a
    /// reference implementation).
    pub fn fit_with(
        params: &MlpParams,
        x: &Matrix,
        y: &[usize],
        n_classes: usize,
        mut layers: Vec<Linear>,
        orders: &[Vec<usize>],
    ) -> Result<Self> {
        check_labels(x, y, n_classes)?;
        x.check_finite()?;
        if params.batch_size == 0 {
            return Err(LearnError::Param {
                name: "batch_size",
                detail: "must be at least 1".into(),
            });
        }
        if layers.first().map(|l| l.n_in) != Some(x.cols) {
            return Err(LearnError::Columns {
                what: "mlp input",
                expected: layers.first().map(|l| l.n_in).unwrap_or(0),
                got: x.cols,
            });
        }
        let mut adam: Vec<(Adam, Adam)> = layers
            .iter()
            .map(|_| (Adam::default(), Adam::default()))
            .collect();
        let mut t = 0;
        let mut step_losses = Vec::new();
        for order in orders {
            for batch_idx in order.chunks(params.batch_size) {
                t += 1;
                let (loss, grads) = loss_and_grads(&layers, x, y, batch_idx, n_classes);
                step_losses.push(loss);
                for ((layer, (gw, gb)), (aw, ab)) in
                    layers.iter_mut().zip(grads).zip(adam.iter_mut())
                {
                    aw.step(&mut layer.weight, &gw, t, params.lr, params.weight_decay);
                    ab.step(&mut layer.bias, &gb, t, params.lr, params.weight_decay);
                }
            }
        }
        Ok(Mlp {
            params: params.clone(),
            n_classes,
            layers,
            step_losses,
        })
    }

    /// Forward pass keeping pre-activations. # Shapes: returns per layer [batch, n_out].
    fn forward_all(layers: &[Linear], input: &[f64], batch: usize) -> Vec<Vec<f64>> {
        let mut acts: Vec<Vec<f64>> = Vec::with_capacity(layers.len());
        let mut h = input.to_vec();
        for (li, l) in layers.iter().enumerate() {
            let z = l.forward(&h, batch);
            h = if li + 1 < layers.len() {
                z.iter().map(|v| v.max(0.0)).collect()
            } else {
                z.clone()
            };
            acts.push(z);
        }
        acts
    }

    fn softmax_rows(z: &[f64], k: usize) -> Vec<f64> {
        let mut p = vec![0.0; z.len()];
        for (zr, pr) in z.chunks(k).zip(p.chunks_mut(k)) {
            kernel::softmax_into(zr, pr);
        }
        p
    }

    /// Logits. # Shapes: [rows, n_classes]
    pub fn logits(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.layers[0].n_in {
            return Err(LearnError::Columns {
                what: "mlp predict",
                expected: self.layers[0].n_in,
                got: x.cols,
            });
        }
        x.check_finite()?;
        let acts = Self::forward_all(&self.layers, &x.data, x.rows);
        let z = acts.into_iter().last().unwrap_or_default();
        Ok(Matrix::new(
            x.rows,
            self.n_classes,
            z,
            (0..self.n_classes).map(|c| format!("z{c}")).collect(),
        ))
    }

    /// Softmax probabilities. # Shapes: [rows, n_classes]
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let z = self.logits(x)?;
        let p = Self::softmax_rows(&z.data, self.n_classes);
        Ok(Matrix::probabilities(x.rows, self.n_classes, p))
    }

    /// Mean cross-entropy over all rows.
    pub fn loss(&self, x: &Matrix, y: &[usize]) -> Result<f64> {
        let p = self.predict_proba(x)?;
        Ok(-y
            .iter()
            .enumerate()
            .map(|(i, &c)| p.get(i, c).ln())
            .sum::<f64>()
            / y.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two- and three-class head (score differences, class 0's gradient as minus the
    /// others') against the direct one-row form (every class's dot product and gradient
    /// summed on its own): equal up to rounding, on rows of either sign and a batch that is
    /// not a multiple of the four-row block.
    #[test]
    fn the_class_saving_head_equals_the_direct_form() {
        let mut rng = Rng::new(11);
        let (rows, cols) = (23, 37);
        let data: Vec<f64> = (0..rows * cols).map(|_| 4.0 * rng.f64() - 2.0).collect();
        let x = Matrix::new(
            rows,
            cols,
            data,
            (0..cols).map(|c| format!("x{c}")).collect(),
        );
        let batch: Vec<usize> = (0..rows).rev().collect();
        for k in [2usize, 3] {
            let y: Vec<usize> = (0..rows).map(|r| (r * 7 + 3) % k).collect();
            let l = Linear::init(cols, k, &mut rng);
            let (loss_direct, g_direct) = head_rows(&l, &x, &y, &batch, k);
            let (loss, g) = linear_head(&l, &x, &y, &batch, k);
            assert!(
                (loss - loss_direct).abs() < 1e-13,
                "{k} classes: loss {loss} vs {loss_direct}"
            );
            let pairs = g[0]
                .0
                .iter()
                .zip(&g_direct[0].0)
                .chain(g[0].1.iter().zip(&g_direct[0].1));
            let mut n = 0;
            for (a, b) in pairs {
                assert!((a - b).abs() < 1e-14, "{k} classes: gradient {a} vs {b}");
                n += 1;
            }
            assert_eq!(n, k * cols + k);
            // The gradient is not trivially zero: the check can fail.
            assert!(g[0].0.iter().any(|v| v.abs() > 1e-3));
        }
    }
}
