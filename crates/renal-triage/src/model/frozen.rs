//! A trained encoder used frozen for a cohort: each case's image input made with the
//! specification stored beside the encoder, embedded one image at a time by the plain-Rust
//! network ([`crate::model::resnet`]), so that a case's embedding does not depend on the other
//! cases of its batch or shard (`embed --encoder-dir`, `cohort --shard ... --encoder-dir`).

use crate::engine::failure::CaseFailure;
use std::path::Path;

use anyhow::{Context, Result};

use crate::engine::shard::CaseEmbedder;

/// A trained encoder, frozen, with the image specification stored beside it.
pub struct FrozenEncoder {
    net: crate::model::resnet::ResNetCpu,
    spec: crate::engine::images::ImageSpec,
}

impl FrozenEncoder {
    /// Loads `dir` (an `embed` or `reproduce` encoder folder); also returns the folder and
    /// its weights' sha256 for the work folder's configuration.
    pub fn load(dir: &Path) -> Result<(FrozenEncoder, (String, String))> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .with_context(|| format!("reading {}", dir.join(name).display()))
        };
        let (config, weights) = (read("encoder.json")?, read("encoder.safetensors")?);
        let net = crate::model::resnet::ResNetCpu::from_files(&config, &weights)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let spec_path = dir.join(crate::engine::images::ImageSpec::FILE);
        let spec = crate::output::read_json(&spec_path).with_context(|| {
            format!("the encoder's image specification {}", spec_path.display())
        })?;
        let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let id = (
            abs.display().to_string(),
            renal_cohort::io::sha256_hex(&weights),
        );
        Ok((FrozenEncoder { net, spec }, id))
    }
}

impl CaseEmbedder for FrozenEncoder {
    /// One case's embedding: its image input made from its decoded mask (and CT phases) with
    /// the encoder's specification, through the network.
    fn embed(
        &self,
        c: &renal_cohort::Case,
        mask: &renal_imaging::LabelVolume,
    ) -> Result<Vec<f64>, CaseFailure> {
        let img = crate::engine::images::cohort_case_image(c, mask, &self.spec)?;
        let ds = renal_encoder_protocol::Dataset {
            ids: vec![c.id.clone()],
            channels: img.channels.len(),
            size: img.size,
            data: img.data,
            missing: vec![img.missing],
        };
        self.net
            .embed(&ds)
            .map_err(|e| CaseFailure::Encoder(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| CaseFailure::Encoder("no embedding".into()))
    }
}
