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
/// gradient while the row is in cache): the same operations in the same order, so the same
/// bits as the layered path. Two and three classes take the rows four at a time (one pass over the
/// weights and the gradient for four rows); any other count one row at a time.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn linear_head(l: &Linear, x: &Matrix, y: &[usize], rows: &[usize], k: usize) -> (f64, Grads) {
    match k {
        2 => head_blocks::<2>(l, x, y, rows),
        3 => head_blocks::<3>(l, x, y, rows),
        _ => head_rows(l, x, y, rows, k),
    }
}

/// [`linear_head`] for `N` classes, four rows per step.
#[inline(always)]
fn head_blocks<const N: usize>(
    l: &Linear,
    x: &Matrix,
    y: &[usize],
    rows: &[usize],
) -> (f64, Grads) {
    const R: usize = 4;
    let b = rows.len() as f64;
    let mut gw = vec![0.0; N * l.n_in];
    let mut gb = [0.0; N];
    let mut loss = 0.0;
    // A row's scores -> its loss term, and its softmax minus the one-hot label over the batch
    // size (the output gradient), added to the bias gradient.
    let mut grad = |z: &mut [f64; N], r: usize| -> [f64; N] {
        for (v, bias) in z.iter_mut().zip(&l.bias) {
            *v += bias;
        }
        let mut d = [0.0; N];
        kernel::softmax_into(z, &mut d);
        loss -= d[y[r]].ln();
        d[y[r]] -= 1.0;
        d.iter_mut().for_each(|v| *v /= b);
        for (g, di) in gb.iter_mut().zip(&d) {
            *g += di;
        }
        d
    };
    let mut blocks = rows.chunks_exact(R);
    for p in blocks.by_ref() {
        let hs: [&[f64]; R] = std::array::from_fn(|m| x.row(p[m]));
        let mut z = [[0.0; N]; R];
        kernel::dots_rows::<R, N>(&l.weight, hs, &mut z);
        let ds: [[f64; N]; R] = std::array::from_fn(|m| grad(&mut z[m], p[m]));
        kernel::axpys_rows::<R, N>(&ds, hs, &mut gw);
    }
    for &r in blocks.remainder() {
        let h = x.row(r);
        let mut z = [[0.0; N]];
        kernel::dots_rows::<1, N>(&l.weight, [h], &mut z);
        let d = grad(&mut z[0], r);
        kernel::axpys_rows::<1, N>(&[d], [h], &mut gw);
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

    /// `bias[o] + w_o · h` for each output (the same arithmetic in training and prediction).
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
    let bc2_sqrt = bc2.sqrt();
    for (((pi, gi), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gi = gi + wd * *pi;
        *mi = b1 * *mi + (1.0 - b1) * gi;
        *vi = b2 * *vi + (1.0 - b2) * gi * gi;
        let denom = vi.sqrt() / bc2_sqrt + eps;
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
