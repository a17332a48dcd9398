//! Synthetic multi-phase contrast CT around a real label map, for tests and benchmarks of the CT
//! path (no patient CT is on the development machines).
//!
//! Every voxel gets the mean attenuation of its tissue in the phase, plus smooth texture and
//! Gaussian noise. Tissues come from the label map (kidney, tumor, cyst) and from a synthetic
//! body: an elliptic soft-tissue cross-section with a subcutaneous fat ring, air outside.
//! Intensities depend only on the tissue, the phase and the seed, never on the case's class.
//!
//! Mean HU per phase (non-contrast, corticomedullary/arterial, nephrographic/venous,
//! excretory/delayed) are typical values of the renal-mass CT literature: renal parenchyma about
//! 30 / 150-180 / 160 / 120 HU (Israel & Bosniak, Radiology 2005; Sheir et al., J Urol 2005);
//! solid enhancing tumors 35 / 110 / 100 / 70 HU (enhancement above 20 HU marks a solid mass);
//! simple cysts 0-20 HU without enhancement; fat -100 HU; muscle/soft tissue 40-60 HU.

use crate::volume::{LabelVolume, Volume};

/// Contrast phases of a renal-mass CT protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    NonContrast,
    Arterial,
    Venous,
    Delayed,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::NonContrast,
        Phase::Arterial,
        Phase::Venous,
        Phase::Delayed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::NonContrast => "non_contrast",
            Phase::Arterial => "arterial",
            Phase::Venous => "venous",
            Phase::Delayed => "delayed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Tissue classes of the phantom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tissue {
    Air,
    Fat,
    SoftTissue,
    Kidney,
    Tumor,
    Cyst,
}

/// Mean HU of a tissue in a phase (see the module docs for sources).
pub fn mean_hu(t: Tissue, p: Phase) -> f32 {
    let by_phase: [f32; 4] = match t {
        Tissue::Air => [-1000.0; 4],
        Tissue::Fat => [-100.0; 4],
        Tissue::SoftTissue => [40.0, 55.0, 60.0, 55.0],
        Tissue::Kidney => [30.0, 165.0, 160.0, 120.0],
        Tissue::Tumor => [35.0, 110.0, 100.0, 70.0],
        Tissue::Cyst => [8.0, 10.0, 10.0, 10.0],
    };
    by_phase[p.index()]
}

/// Phantom settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomConfig {
    pub seed: u64,
    /// Standard deviation of the white noise (HU).
    pub noise_hu: f32,
    /// Amplitude of the smooth texture (HU).
    pub texture_hu: f32,
    /// Label values of kidney, tumor and cyst in the map (KiTS23: 1, 2, 3).
    pub kidney: u8,
    pub tumor: u8,
    pub cyst: u8,
}

impl Default for PhantomConfig {
    fn default() -> Self {
        PhantomConfig {
            seed: 0,
            noise_hu: 12.0,
            texture_hu: 8.0,
            kidney: 1,
            tumor: 2,
            cyst: 3,
        }
    }
}

/// SplitMix64: a tiny seeded generator (the phantom needs no statistical quality beyond noise).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.f64().max(f64::MIN_POSITIVE);
        let v = self.f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A stable hash of a case id (FNV-1a), to derive per-case noise from the seed.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The tissue of every voxel: labels from the map, body from an ellipse per axial slice.
pub fn tissues(labels: &LabelVolume, cfg: &PhantomConfig) -> Vec<Tissue> {
    let g = &labels.geometry;
    let axial = g.axial_axis().unwrap_or(2);
    let (u, v) = crate::preprocess::in_plane(axial);
    let d = g.dims;
    let (cu, cv) = ((d[u] as f64 - 1.0) / 2.0, (d[v] as f64 - 1.0) / 2.0);
    let (ru, rv) = (0.45 * d[u] as f64, 0.35 * d[v] as f64);
    let mut out = vec![Tissue::Air; g.len()];
    for k in 0..d[2] {
        for j in 0..d[1] {
            for i in 0..d[0] {
                let idx = g.index(i, j, k);
                let l = labels.data[idx];
                let ijk = [i as f64, j as f64, k as f64];
                let e = ((ijk[u] - cu) / ru).powi(2) + ((ijk[v] - cv) / rv).powi(2);
                out[idx] = if l == cfg.tumor {
                    Tissue::Tumor
                } else if l == cfg.cyst {
                    Tissue::Cyst
                } else if l == cfg.kidney {
                    Tissue::Kidney
                } else if e <= 0.8 {
                    Tissue::SoftTissue
                } else if e <= 1.0 {
                    Tissue::Fat
                } else {
                    Tissue::Air
                };
            }
        }
    }
    out
}

/// One phase of the phantom of case `case_id` (HU, same grid as the labels).
pub fn phantom_phase(
    labels: &LabelVolume,
    tissue: &[Tissue],
    phase: Phase,
    case_id: &str,
    cfg: &PhantomConfig,
) -> Volume<f32> {
    let g = &labels.geometry;
    let mut rng = SplitMix(cfg.seed ^ fnv(case_id) ^ ((phase.index() as u64 + 1) << 56));
    // Smooth texture: three random plane waves with wavelengths of 20-60 voxels.
    let waves: Vec<([f64; 3], f64)> = (0..3)
        .map(|_| {
            let mut dir = [rng.normal(), rng.normal(), rng.normal()];
            let n = (dir.iter().map(|x| x * x).sum::<f64>()).sqrt().max(1e-9);
            let wl = 20.0 + 40.0 * rng.f64();
            dir.iter_mut()
                .for_each(|x| *x *= std::f64::consts::TAU / (n * wl));
            (dir, std::f64::consts::TAU * rng.f64())
        })
        .collect();
    let d = g.dims;
    let mut data = vec![0f32; g.len()];
    for k in 0..d[2] {
        for j in 0..d[1] {
            for i in 0..d[0] {
                let idx = g.index(i, j, k);
                let t = tissue[idx];
                let mut hu = mean_hu(t, phase) as f64;
                if t != Tissue::Air {
                    let tex: f64 = waves
                        .iter()
                        .map(|(w, ph)| {
                            (w[0] * i as f64 + w[1] * j as f64 + w[2] * k as f64 + ph).sin()
                        })
                        .sum::<f64>()
                        / 3.0;
                    hu += cfg.texture_hu as f64 * tex;
                }
                hu += cfg.noise_hu as f64 * rng.normal();
                data[idx] = hu as f32;
            }
        }
    }
    Volume {
        geometry: g.clone(),
        data,
    }
}

/// All four phases of a case's phantom.
pub fn phantom(
    labels: &LabelVolume,
    case_id: &str,
    cfg: &PhantomConfig,
) -> Vec<(Phase, Volume<f32>)> {
    let t = tissues(labels, cfg);
    Phase::ALL
        .iter()
        .map(|&p| (p, phantom_phase(labels, &t, p, case_id, cfg)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;

    fn labels() -> LabelVolume {
        let g = Geometry::with_spacing([40, 40, 20], [1.0, 1.0, 2.5]);
        let mut data = vec![0u8; g.len()];
        for k in 5..15 {
            for j in 10..30 {
                for i in 10..30 {
                    data[g.index(i, j, k)] = if (15..20).contains(&i) { 2 } else { 1 };
                }
            }
        }
        Volume::new(g, data).unwrap()
    }

    #[test]
    fn tissue_means_follow_the_phase_and_the_seed_decides_the_noise() {
        let l = labels();
        let cfg = PhantomConfig::default();
        let p = phantom(&l, "case_1", &cfg);
        let t = tissues(&l, &cfg);
        for (phase, v) in &p {
            for tissue in [Tissue::Kidney, Tissue::Tumor] {
                let vals: Vec<f64> = v
                    .data
                    .iter()
                    .zip(&t)
                    .filter(|(_, &tt)| tt == tissue)
                    .map(|(&x, _)| x as f64)
                    .collect();
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                assert!(
                    (mean - mean_hu(tissue, *phase) as f64).abs() < 6.0,
                    "{phase:?} {tissue:?}: {mean}"
                );
            }
        }
        assert_eq!(phantom(&l, "case_1", &cfg), p);
        assert_ne!(phantom(&l, "case_2", &cfg)[0].1, p[0].1);
    }
}
