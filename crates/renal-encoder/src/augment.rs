//! Augmentations of a batch, every random draw from one seeded generator (so a batch's views
//! are a function of the seed, the epoch and the batch).
//!
//! Geometry (random resized crop and scale, rotation, flips) is one affine map per sample,
//! applied by bilinear grid sampling straight to the output size; pixels mapped from outside the
//! image are 0 (the bottom of the HU window). Then Gaussian blur, intensity jitter on CT channels
//! only (never on mask channels), and phase dropout (one present channel zeroed).

use renal_stats::Rng;
use tch::{Kind, Tensor};

use crate::config::AugmentConfig;

fn uniform(rng: &mut Rng, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.f64()
}

/// Resamples `x` (`[N, C, H, W]`) to `size` x `size` with per-sample affine maps `theta`
/// (`[N, 2, 3]`, output to input in normalised coordinates).
fn warp(x: &Tensor, theta: &[f64], size: i64) -> Tensor {
    let n = x.size()[0];
    let c = x.size()[1];
    let th = Tensor::from_slice(theta)
        .view([n, 2, 3])
        .to_kind(x.kind())
        .to_device(x.device());
    let grid = Tensor::affine_grid_generator(&th, [n, c, size, size], false);
    x.grid_sampler(&grid, 0, 0, false)
}

/// Resizes a batch to `size` x `size` (bilinear, the identity map): the embedding input.
pub fn resize(x: &Tensor, size: i64) -> Tensor {
    let n = x.size()[0] as usize;
    let theta: Vec<f64> = (0..n)
        .flat_map(|_| [1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        .collect();
    warp(x, &theta, size)
}

/// A 1D Gaussian kernel of standard deviation `sigma` (pixels), radius ceil(2 sigma).
fn gaussian(sigma: f64) -> Vec<f64> {
    let r = (2.0 * sigma).ceil().max(1.0) as i64;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.iter().map(|v| v / s).collect()
}

fn blur(x: &Tensor, sigma: f64) -> Tensor {
    let c = x.size()[0];
    let k = gaussian(sigma);
    let len = k.len() as i64;
    let kt = Tensor::from_slice(&k)
        .to_kind(x.kind())
        .to_device(x.device());
    let kh = kt.view([1, 1, 1, len]).repeat([c, 1, 1, 1]);
    let kv = kt.view([1, 1, len, 1]).repeat([c, 1, 1, 1]);
    let pad = len / 2;
    let xb = x.unsqueeze(0);
    let y = xb.conv2d(&kh, None::<Tensor>, [1, 1], [0, pad], [1, 1], c);
    y.conv2d(&kv, None::<Tensor>, [1, 1], [pad, 0], [1, 1], c)
        .squeeze_dim(0)
}

/// One augmented view of a batch. `missing[i][c]` marks channels absent for sample `i` (they
/// stay zero and are never chosen for dropout); `intensity[c]` marks CT channels.
pub fn view(
    x: &Tensor,
    missing: &[Vec<bool>],
    intensity: &[bool],
    cfg: &AugmentConfig,
    size: i64,
    rng: &mut Rng,
) -> Tensor {
    let n = x.size()[0] as usize;
    let c = x.size()[1] as usize;
    let mut theta = Vec::with_capacity(n * 6);
    for _ in 0..n {
        let area = uniform(rng, cfg.crop_scale);
        let log_r = uniform(rng, [cfg.crop_ratio[0].ln(), cfg.crop_ratio[1].ln()]);
        let r = log_r.exp();
        let w = (area * r).sqrt().min(1.0);
        let h = (area / r).sqrt().min(1.0);
        let cx = (1.0 - w) * (2.0 * rng.f64() - 1.0);
        let cy = (1.0 - h) * (2.0 * rng.f64() - 1.0);
        let a = cfg.rotation_deg.to_radians() * (2.0 * rng.f64() - 1.0);
        let fx = if cfg.flip_horizontal && rng.f64() < 0.5 {
            -1.0
        } else {
            1.0
        };
        let fy = if cfg.flip_vertical && rng.f64() < 0.5 {
            -1.0
        } else {
            1.0
        };
        let (s, co) = a.sin_cos();
        theta.extend_from_slice(&[co * w * fx, -s * h * fy, cx, s * w * fx, co * h * fy, cy]);
    }
    let mut out = warp(x, &theta, size);
    // Blur, per sample.
    let mut parts = Vec::with_capacity(n);
    for i in 0..n {
        let xi = out.get(i as i64);
        if rng.f64() < cfg.blur_p {
            parts.push(blur(&xi, uniform(rng, cfg.blur_sigma)));
        } else {
            parts.push(xi);
        }
    }
    out = Tensor::stack(&parts, 0);
    // Intensity jitter (CT channels) and phase dropout, as one per-sample, per-channel affine.
    let mut scale = vec![1.0f64; n * c];
    let mut shift = vec![0.0f64; n * c];
    for i in 0..n {
        if rng.f64() < cfg.jitter_p {
            let k = uniform(rng, cfg.contrast);
            let b = uniform(rng, cfg.brightness);
            for ch in 0..c {
                if intensity.get(ch).copied().unwrap_or(false) {
                    scale[i * c + ch] = k;
                    shift[i * c + ch] = b;
                }
            }
        }
        let present: Vec<usize> = (0..c)
            .filter(|&ch| {
                !missing
                    .get(i)
                    .and_then(|m| m.get(ch))
                    .copied()
                    .unwrap_or(false)
            })
            .collect();
        if present.len() > 1 && rng.f64() < cfg.phase_dropout {
            let ch = present[rng.below(present.len())];
            scale[i * c + ch] = 0.0;
            shift[i * c + ch] = 0.0;
        }
    }
    let dev = x.device();
    let st = Tensor::from_slice(&scale)
        .view([n as i64, c as i64, 1, 1])
        .to_kind(x.kind())
        .to_device(dev);
    let sh = Tensor::from_slice(&shift)
        .view([n as i64, c as i64, 1, 1])
        .to_kind(x.kind())
        .to_device(dev);
    // Shifted pixels are clipped to the window's [0, 1]; zeroed channels stay exactly zero.
    (out * st + sh).clamp(0.0, 1.0).to_kind(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_kernel_sums_to_one_and_is_symmetric() {
        let k = gaussian(1.2);
        assert_eq!(k.len(), 7);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for i in 0..k.len() {
            assert!((k[i] - k[k.len() - 1 - i]).abs() < 1e-15);
        }
    }

    #[test]
    fn identity_resize_keeps_an_image_of_the_same_size() {
        let x = Tensor::rand([2, 3, 16, 16], (Kind::Float, tch::Device::Cpu));
        let y = resize(&x, 16);
        let d = (&x - &y).abs().max().double_value(&[]);
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn views_are_seeded_and_stay_in_range() {
        let x = Tensor::rand([4, 2, 32, 32], (Kind::Float, tch::Device::Cpu));
        let cfg = AugmentConfig::default();
        let miss = vec![vec![false, false]; 4];
        let a = view(&x, &miss, &[true, false], &cfg, 24, &mut Rng::new(3));
        let b = view(&x, &miss, &[true, false], &cfg, 24, &mut Rng::new(3));
        let c = view(&x, &miss, &[true, false], &cfg, 24, &mut Rng::new(4));
        assert_eq!(a.size(), vec![4, 2, 24, 24]);
        assert!(a.equal(&b));
        assert!(!a.equal(&c));
        assert!(a.min().double_value(&[]) >= 0.0 && a.max().double_value(&[]) <= 1.0);
    }
}
