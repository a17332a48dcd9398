//! Image inputs made by the shards of a work folder (`cohort --shard ... --images`, `embed
//! --shard ...`) for the encoder's training, and gathered back (`embed --images-from WORK`)
//! into exactly the dataset one `embed` process builds.
//!
//! Each case's pixels are in `images/<case>.f32` (little-endian f32, channels x size x size,
//! written atomically before the case's result, which records their sha256); the case's
//! result holds the rest ([`StoredImage`]) or why the case has no image input.

use crate::engine::failure::CaseFailure;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use renal_cohort::Cohort;
use renal_imaging::preprocess::{CaseImage, SlicePosition};
use serde::{Deserialize, Serialize};

use crate::engine::images::{CohortImages, ImageSpec};

/// A case's image input in a work folder, but for its pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    pub missing: Vec<bool>,
    pub position: SlicePosition,
    pub spacing_mm: [f64; 3],
    /// sha256 of the pixel file.
    pub sha256: String,
}

fn pixel_file(work: &Path, id: &str) -> PathBuf {
    work.join("images").join(format!("{id}.f32"))
}

/// Writes a case's pixels (atomically) and returns what its result records.
pub fn store(work: &Path, id: &str, img: &CaseImage) -> Result<StoredImage> {
    let bytes: Vec<u8> = img.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = pixel_file(work, id);
    renal_cohort::io::write_atomic(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(StoredImage {
        missing: img.missing.clone(),
        position: img.position.clone(),
        spacing_mm: img.spacing_mm,
        sha256: renal_cohort::io::sha256_hex(&bytes),
    })
}

/// Whether a case's pixel file is there (a rerun redoes the case otherwise).
pub fn present(work: &Path, id: &str) -> bool {
    pixel_file(work, id).is_file()
}

/// A case's image input read back, its pixels checked against the recorded digest and the
/// specification's shape.
fn load(
    work: &Path,
    id: &str,
    s: &StoredImage,
    spec: &ImageSpec,
) -> Result<CaseImage, CaseFailure> {
    let path = pixel_file(work, id);
    let bytes = std::fs::read(&path)
        .map_err(|e| CaseFailure::StoredImage(format!("{}: {e}", path.display())))?;
    let size = spec.preprocess.size;
    let want = spec
        .channels
        .len()
        .checked_mul(size * size * 4)
        .ok_or_else(|| CaseFailure::StoredImage("image size overflows".into()))?;
    if bytes.len() != want || renal_cohort::io::sha256_hex(&bytes) != s.sha256 {
        return Err(CaseFailure::StoredImage(format!(
            "{}: not the image its case's result recorded ({} bytes, {want} expected, or another digest)",
            path.display(),
            bytes.len()
        )));
    }
    if s.missing.len() != spec.channels.len() {
        return Err(CaseFailure::StoredImage(format!(
            "{id}: its image has {} channels, the specification {}",
            s.missing.len(),
            spec.channels.len()
        )));
    }
    Ok(CaseImage {
        channels: spec.channels.clone(),
        missing: s.missing.clone(),
        size,
        data: bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        position: s.position.clone(),
        spacing_mm: s.spacing_mm,
    })
}

/// Every case's image input from a work folder whose shards made them, in cohort order (a
/// case that could not be imaged is excluded with its reason, as in one process). Refuses a
/// folder without image inputs, or with cases missing, naming them.
pub fn gather_images(
    cohort: &Cohort,
    work: &Path,
    spec: &ImageSpec,
    image_of: impl Fn(&str) -> Option<Option<Result<StoredImage, CaseFailure>>>,
) -> Result<CohortImages> {
    let mut results = Vec::with_capacity(cohort.cases.len());
    let mut missing = Vec::new();
    for c in &cohort.cases {
        match image_of(&c.id) {
            None => missing.push(c.id.clone()),
            Some(None) => missing.push(format!("{} (its result has no image input)", c.id)),
            Some(Some(Err(why))) => results.push((c.id.clone(), Err(why))),
            Some(Some(Ok(s))) => match load(work, &c.id, &s, spec) {
                Ok(img) => results.push((c.id.clone(), Ok(img))),
                Err(why) => missing.push(format!("{} ({why})", c.id)),
            },
        }
    }
    if !missing.is_empty() {
        bail!(
            "the work folder {} does not hold every case's image input: {} of {} missing ({}{}). Run the shards again (finished cases are skipped)",
            work.display(),
            missing.len(),
            cohort.cases.len(),
            missing.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            if missing.len() > 10 { ", ..." } else { "" }
        );
    }
    Ok(CohortImages::from_results(results, spec))
}
