//! Encoder configurations.

use std::path::Path;

use crate::{EncoderError, Result};

/// Augmentation settings (SimCLR's recipe adapted to CT slices).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random resized crop: fraction of the image area kept, and aspect-ratio range.
    pub crop_scale: [f64; 2],
    pub crop_ratio: [f64; 2],
    /// Rotation range, degrees (uniform in +-).
    pub rotation_deg: f64,
    pub flip_horizontal: bool,
    pub flip_vertical: bool,
    /// Gaussian blur probability and sigma range (pixels of the output image).
    pub blur_p: f64,
    pub blur_sigma: [f64; 2],
    /// Intensity jitter on CT channels: contrast factor range and brightness shift range
    /// (normalised units); probability per sample.
    pub jitter_p: f64,
    pub contrast: [f64; 2],
    pub brightness: [f64; 2],
    /// Probability of zeroing one present channel (phase dropout), so that a case with a
    /// missing phase still gets a sensible embedding.
    pub phase_dropout: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            crop_scale: [0.4, 1.0],
            crop_ratio: [0.75, 4.0 / 3.0],
            rotation_deg: 15.0,
            flip_horizontal: true,
            flip_vertical: true,
            blur_p: 0.5,
            blur_sigma: [0.1, 1.5],
            jitter_p: 0.8,
            contrast: [0.7, 1.3],
            brightness: [-0.1, 0.1],
            phase_dropout: 0.2,
        }
    }
}

/// Everything that defines a trained encoder (saved as JSON beside the weights).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    pub name: String,
    /// Input channels (phases, or the label one-hot planes on KiTS23).
    pub in_channels: usize,
    /// Side of the square image the network sees (inputs are resampled to it).
    pub image_size: usize,
    /// ResNet-18 base width (64 in the paper; the output has `8 * width` features).
    pub width: usize,
    pub projection_hidden: usize,
    pub projection_dim: usize,
    pub temperature: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub lr: f64,
    /// L2 penalty added to the gradient (PyTorch Adam's `weight_decay`).
    pub weight_decay: f64,
    pub seed: u64,
    /// libtorch intra-op threads: part of the numerics (see the crate docs).
    pub threads: usize,
    /// Per channel, whether it holds CT intensities (intensity jitter applies) or a mask.
    pub intensity_channels: Vec<bool>,
    pub augment: AugmentConfig,
}

impl EncoderConfig {
    /// The study's setting: ResNet-18 at 256 px, a long schedule (for a GPU).
    pub fn paper(in_channels: usize, intensity: bool) -> Self {
        EncoderConfig {
            name: "paper".into(),
            in_channels,
            image_size: 256,
            width: 64,
            projection_hidden: 512,
            projection_dim: 128,
            temperature: 0.5,
            batch_size: 128,
            epochs: 300,
            lr: 3e-4,
            weight_decay: 1e-6,
            seed: 20260,
            threads: 2,
            intensity_channels: vec![intensity; in_channels],
            augment: AugmentConfig::default(),
        }
    }

    /// The default: the same network at 64 px and a short schedule, sized to finish on the
    /// 300 KiTS23 development cases within 15 minutes on 2 CPU cores.
    pub fn default_for(in_channels: usize, intensity: bool) -> Self {
        EncoderConfig {
            name: "default".into(),
            image_size: 64,
            batch_size: 32,
            epochs: 30,
            ..Self::paper(in_channels, intensity)
        }
    }

    /// A tiny network for tests (seconds on a CPU).
    pub fn tiny(in_channels: usize) -> Self {
        EncoderConfig {
            name: "tiny".into(),
            image_size: 32,
            width: 8,
            projection_hidden: 32,
            projection_dim: 16,
            batch_size: 8,
            epochs: 2,
            ..Self::paper(in_channels, false)
        }
    }

    /// `paper`, `default`, `tiny`, or a JSON file.
    pub fn resolve(spec: &str, in_channels: usize, intensity: bool) -> Result<Self> {
        let cfg = match spec {
            "paper" => Self::paper(in_channels, intensity),
            "default" => Self::default_for(in_channels, intensity),
            "tiny" => Self::tiny(in_channels),
            path => Self::load(Path::new(path))?,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let cfg: EncoderConfig = crate::protocol::read_json(path)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The number of features the encoder outputs.
    pub fn features(&self) -> usize {
        8 * self.width
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(EncoderError::Config(m));
        if self.in_channels == 0 || self.intensity_channels.len() != self.in_channels {
            return bad(format!(
                "in_channels = {} with {} intensity flags",
                self.in_channels,
                self.intensity_channels.len()
            ));
        }
        if self.image_size < 16 || self.width == 0 || self.projection_dim == 0 {
            return bad("image_size >= 16, width and projection_dim > 0 are needed".into());
        }
        if self.batch_size < 2 {
            return bad("batch_size must be at least 2 (NT-Xent needs negatives)".into());
        }
        if !(self.temperature > 0.0 && self.lr > 0.0 && self.weight_decay >= 0.0) {
            return bad("temperature and lr must be > 0, weight_decay >= 0".into());
        }
        if self.threads == 0 {
            return bad("threads must be at least 1".into());
        }
        let a = &self.augment;
        if !(0.0 < a.crop_scale[0] && a.crop_scale[0] <= a.crop_scale[1] && a.crop_scale[1] <= 1.0)
        {
            return bad(format!("augment.crop_scale {:?}", a.crop_scale));
        }
        Ok(())
    }
}
