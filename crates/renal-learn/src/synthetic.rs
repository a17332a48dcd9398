//! A seeded table with the spectrum of real image embeddings, for benchmarks and tests of the
//! learners on the problem they meet (see [`embeddings_like`]). Exact arithmetic on a 64-bit
//! LCG: additions, multiplications and a maximum only, in a fixed order, so that another
//! language that follows the recipe (`scripts/golden_sklearn_logistic_real.py`) makes the same
//! table to the last bit.

use crate::matrix::Matrix;

/// Latent factors behind the columns.
pub const FACTORS: usize = 12;

/// The recipe's generator: Knuth's MMIX LCG, uniforms from its top 53 bits.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / 9007199254740992.0
    }

    /// Roughly normal: the sum of three uniforms, centred (variance 1/4).
    fn bell(&mut self) -> f64 {
        let a = self.uniform();
        let b = self.uniform();
        let c = self.uniform();
        (a + b + c) - 1.5
    }
}

/// Rows of class `[0, 1, 1, 2, 2, 2][i % 6]` (benign, indolent, aggressive: the study's mix),
/// with the spectrum of the ResNet-18 SimCLR embeddings of the KiTS23 cases (standardised:
/// condition number near a thousand, about 90% of the variance in five directions, columns
/// correlated, one value in seven or so exactly zero after the ReLU). `FACTORS` latent factors
/// with geometrically falling scales (0.72 per factor), random loadings, a little noise, then a
/// ReLU; the class moves the second and third factors.
///
/// The recipe, in order: the loadings (`cols` x `FACTORS`, row by row, `bell()`), the column
/// offsets (`1.2 + 0.6 bell()`); then per row the factors `s_k (bell() + shift_k)` with
/// `s_0 = 1`, `s_{k+1} = 0.72 s_k`, `shift_1 = 0.9 class`, `shift_2 = 0.7 [class = 1]`, and
/// per column `max(0, offset_j + 0.5 Σ_k L_jk f_k + 0.04 bell())`, the sum taken in k order.
pub fn embeddings_like(rows: usize, cols: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = Lcg(seed);
    let loadings: Vec<f64> = (0..cols * FACTORS).map(|_| rng.bell()).collect();
    let offsets: Vec<f64> = (0..cols).map(|_| 1.2 + 0.6 * rng.bell()).collect();
    let mut scales = [1.0; FACTORS];
    for k in 1..FACTORS {
        scales[k] = scales[k - 1] * 0.72;
    }
    let mut data = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for i in 0..rows {
        let class = [0usize, 1, 1, 2, 2, 2][i % 6];
        let mut f = [0.0; FACTORS];
        for (k, fk) in f.iter_mut().enumerate() {
            let shift = match k {
                1 => 0.5 * class as f64,
                2 if class == 1 => 0.4,
                _ => 0.0,
            };
            *fk = scales[k] * (rng.bell() + shift);
        }
        for j in 0..cols {
            let mut acc = 0.0;
            for k in 0..FACTORS {
                acc += loadings[j * FACTORS + k] * f[k];
            }
            let v = offsets[j] + 0.5 * acc + 0.04 * rng.bell();
            data.push(v.max(0.0));
        }
        y.push(class);
    }
    let names = (0..cols).map(|j| format!("f{j}")).collect();
    (Matrix::new(rows, cols, data, names), y)
}
