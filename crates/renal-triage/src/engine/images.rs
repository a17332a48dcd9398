//! The image input of a cohort: per case, the axial slice through the tumor centroid at the
//! cohort's median spacing, phases as channels (CT cohorts), or the label map's kidney, tumor and
//! cyst planes (KiTS23 here, where no CT intensities are available).

use crate::engine::failure::CaseFailure;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use renal_cohort::Cohort;
use renal_imaging::preprocess::{
    case_image, label_channels, median_spacing, CaseImage, Preprocess,
};
use renal_imaging::{dicom, read_scalar, LabelScheme, LabelVolume, Volume};

/// How a cohort's image inputs are made. The development cohort fixes it (its channels, its
/// median spacing); it is stored beside the encoder (`preprocess.json`) and applied unchanged
/// to an external cohort or a new patient, never recomputed from them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageSpec {
    /// What the channels are: CT phases, or the label map's planes (written `"intensity":
    /// true` / `false`, as every stored specification has it).
    #[serde(rename = "intensity", with = "kind_as_intensity")]
    pub kind: ChannelKind,
    /// The channels in order: phase names, or the label planes.
    pub channels: Vec<String>,
    /// Spacing, window, size, tumor labels.
    pub preprocess: Preprocess,
}

/// What an image input's channels are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// CT phases (by name), each a channel of intensities.
    CtPhases,
    /// The label map's kidney, tumor and cyst planes (one-hot): no CT intensities are read.
    LabelPlanes,
}

/// [`ChannelKind`] as the stored `intensity` flag.
mod kind_as_intensity {
    use super::ChannelKind;

    pub fn serialize<S: serde::Serializer>(k: &ChannelKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*k == ChannelKind::CtPhases)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ChannelKind, D::Error> {
        let intensity = <bool as serde::Deserialize>::deserialize(d)?;
        Ok(if intensity {
            ChannelKind::CtPhases
        } else {
            ChannelKind::LabelPlanes
        })
    }
}

impl ImageSpec {
    /// The file beside an encoder that holds its image specification.
    pub const FILE: &'static str = "preprocess.json";

    /// The specification a development cohort fixes: its CT phases in order of appearance (or
    /// the label planes when no case has a phase) and its median mask spacing.
    pub fn of_cohort(cohort: &Cohort, size: usize) -> Result<ImageSpec> {
        let (kind, channels) = channel_names(cohort);
        let spacings: Vec<[f64; 3]> = cohort
            .cases
            .iter()
            .filter_map(|c| c.images.mask.as_ref())
            .filter_map(|p| renal_imaging::read_geometry(p).ok())
            .map(|g| g.spacing_mm())
            .collect();
        let spacing = median_spacing(&spacings).context("no readable mask in the cohort")?;
        Ok(ImageSpec {
            kind,
            channels,
            preprocess: Preprocess {
                spacing_mm: Some(spacing),
                size,
                tumor_labels: vec![LabelScheme::default().tumor],
                ..Preprocess::default()
            },
        })
    }

    /// What the channels are, in words, for the report.
    pub fn describe(&self) -> String {
        let size = self.preprocess.size;
        let s = self.preprocess.spacing_mm.unwrap_or([f64::NAN; 3]);
        if self.kind == ChannelKind::CtPhases {
            let w = self
                .preprocess
                .window
                .map(|w| format!("HU window {}..{} then min-max", w.lo, w.hi))
                .unwrap_or_else(|| "min-max".into());
            format!(
                "CT phases ({}) at the tumor-centroid axial slice, {size}x{size} px, {w} to [0, 1], resampled to the development cohort's median spacing {:.2} x {:.2} x {:.2} mm",
                self.channels.join(", "),
                s[0],
                s[1],
                s[2]
            )
        } else {
            format!(
                "no CT intensities available: the channels are the label map's kidney, tumor and cyst planes (one-hot) at the tumor-centroid axial slice, {size}x{size} px, resampled (nearest) to the development cohort's median spacing {:.2} x {:.2} x {:.2} mm",
                s[0], s[1], s[2]
            )
        }
    }
}

/// The cohort's images, in cohort order, and the cases that could not be imaged.
#[derive(Debug, Clone)]
pub struct CohortImages {
    pub ids: Vec<String>,
    pub images: Vec<CaseImage>,
    /// (case, reason): excluded from the image models, with the reason.
    pub excluded: Vec<(String, String)>,
    /// What the channels are, for the report.
    pub input: String,
    /// How the images were made.
    pub spec: ImageSpec,
    /// Cases without each channel (CT phases may be missing).
    pub missing_per_channel: Vec<(String, usize)>,
}

fn read_phase(path: &Path) -> Result<Volume<f32>, renal_imaging::ImagingError> {
    if path.is_dir() {
        dicom::read_series(path)
    } else {
        read_scalar(path)
    }
}

/// The channel names of a cohort: its CT phases in order of appearance, or the label map's
/// planes when no case has a CT phase.
fn channel_names(cohort: &Cohort) -> (ChannelKind, Vec<String>) {
    let ct = cohort.cases.iter().any(|c| !c.images.phases.is_empty());
    if !ct {
        let planes = vec!["kidney".into(), "tumor".into(), "cyst".into()];
        return (ChannelKind::LabelPlanes, planes);
    }
    let mut channels: Vec<String> = Vec::new();
    for c in &cohort.cases {
        for (name, _) in &c.images.phases {
            if !channels.contains(name) {
                channels.push(name.clone());
            }
        }
    }
    (ChannelKind::CtPhases, channels)
}

/// One case's CT input: one phase at a time (a CT volume is large), each giving one plane; a
/// missing phase is a zero plane (as in training).
/// Where a CT phase comes from: a file or a DICOM series folder, or a volume already decoded
/// (the Python package's array with its affine).
pub enum PhaseSource<'a> {
    File(PathBuf),
    Decoded(&'a Volume<f32>),
}

fn ct_image(
    id: &str,
    phases: &[(String, PhaseSource<'_>)],
    mask: &LabelVolume,
    channels: &[String],
    cfg: &Preprocess,
) -> Result<CaseImage, InputFault> {
    let size = cfg.size;
    let mut out: Option<CaseImage> = None;
    let plane = size * size;
    let mut data = Vec::with_capacity(channels.len() * plane);
    let mut missing = Vec::new();
    for name in channels {
        match phases.iter().find(|(n, _)| n == name).map(|(_, p)| p) {
            None => {
                data.extend(std::iter::repeat_n(0.0, plane));
                missing.push(true);
            }
            Some(src) => {
                let from = match src {
                    PhaseSource::File(p) => p.display().to_string(),
                    PhaseSource::Decoded(_) => "the array given".to_string(),
                };
                let fault = |e: renal_imaging::ImagingError| InputFault {
                    phase: Some(name.clone()),
                    message: format!("{id}, phase {name} ({from}): {e}"),
                };
                let vol = match src {
                    PhaseSource::File(p) => read_phase(p).map_err(fault)?,
                    PhaseSource::Decoded(v) => (*v).clone(),
                };
                let img =
                    case_image(vec![(name.clone(), Some(vol))], mask, cfg, id).map_err(fault)?;
                data.extend_from_slice(img.plane(0));
                missing.push(false);
                out.get_or_insert(img);
            }
        }
    }
    let first = out.ok_or_else(|| InputFault {
        phase: None,
        message: format!(
            "none of the CT phases the encoder was trained on ({})",
            channels.join(", ")
        ),
    })?;
    Ok(CaseImage {
        channels: channels.to_vec(),
        missing,
        size,
        data,
        position: first.position,
        spacing_mm: first.spacing_mm,
    })
}

pub use crate::engine::failure::InputFault;

/// One case's input from its decoded mask (`scheme`: which labels are kidney, tumor and cyst)
/// and its CT phases by name, made as `spec` says: the phases as channels, or the mask's
/// planes. Used for a cohort's cases and for one new patient alike.
pub fn image_from_mask(
    id: &str,
    mask: &LabelVolume,
    scheme: LabelScheme,
    phases: &[(String, PathBuf)],
    spec: &ImageSpec,
) -> Result<CaseImage, CaseFailure> {
    let phases: Vec<(String, PhaseSource<'_>)> = phases
        .iter()
        .map(|(n, p)| (n.clone(), PhaseSource::File(p.clone())))
        .collect();
    Ok(image_or_fault(id, mask, scheme, &phases, spec)?)
}

/// [`image_from_mask`], saying which phase was at fault.
pub fn image_or_fault(
    id: &str,
    mask: &LabelVolume,
    scheme: LabelScheme,
    phases: &[(String, PhaseSource<'_>)],
    spec: &ImageSpec,
) -> Result<CaseImage, InputFault> {
    let cfg = Preprocess {
        tumor_labels: vec![scheme.tumor],
        ..spec.preprocess.clone()
    };
    if spec.kind == ChannelKind::CtPhases {
        return ct_image(id, phases, mask, &spec.channels, &cfg);
    }
    let classes = [
        ("kidney", scheme.kidney),
        ("tumor", scheme.tumor),
        ("cyst", scheme.cyst),
    ];
    label_channels(mask, &cfg, &classes, id).map_err(|e| InputFault {
        phase: None,
        message: e.to_string(),
    })
}

/// A case's mask (any format read here), with the case's label map; a DICOM SEG or RTSTRUCT
/// is rebuilt on the series it references, looked for among the case's CT phases first.
pub fn read_case_mask(images: &renal_cohort::Images) -> Result<LabelVolume, CaseFailure> {
    let path = images.mask.as_ref().ok_or(CaseFailure::NoMask)?;
    let refs: Vec<PathBuf> = images.phases.iter().map(|(_, p)| p.clone()).collect();
    Ok(renal_imaging::read_mask(
        path,
        &refs,
        images.label_map.as_ref(),
    )?)
}

/// A cohort case's image input from its decoded mask and its CT phases ([`image_from_mask`]
/// with the KiTS labels).
pub fn cohort_case_image(
    c: &renal_cohort::Case,
    mask: &LabelVolume,
    spec: &ImageSpec,
) -> Result<CaseImage, CaseFailure> {
    image_from_mask(&c.id, mask, LabelScheme::default(), &c.images.phases, spec)
}

/// One case of a cohort: its mask read, then [`cohort_case_image`].
fn case_input(c: &renal_cohort::Case, spec: &ImageSpec) -> Result<CaseImage, CaseFailure> {
    cohort_case_image(c, &read_case_mask(&c.images)?, spec)
}

/// Builds every case's input with the cohort's own specification ([`ImageSpec::of_cohort`]).
pub fn cohort_images(cohort: &Cohort, size: usize) -> Result<CohortImages> {
    cohort_images_with(cohort, &ImageSpec::of_cohort(cohort, size)?)
}

/// Builds every case's input with a given specification (in parallel; the result does not
/// depend on the thread count). A case that cannot be imaged is excluded with its reason.
pub fn cohort_images_with(cohort: &Cohort, spec: &ImageSpec) -> Result<CohortImages> {
    let pb = crate::progress::progress(cohort.cases.len(), "images");
    let results: Vec<(String, Result<CaseImage, CaseFailure>)> = cohort
        .cases
        .par_iter()
        .map(|c| {
            let r = case_input(c, spec);
            pb.inc(1);
            (c.id.clone(), r)
        })
        .collect();
    pb.finish_and_clear();
    Ok(CohortImages::from_results(results, spec))
}

impl CohortImages {
    /// The images of a cohort's cases (in cohort order) made with `spec`; a case that could
    /// not be imaged is excluded with its reason.
    pub fn from_results(
        results: Vec<(String, Result<CaseImage, CaseFailure>)>,
        spec: &ImageSpec,
    ) -> CohortImages {
        let mut ids = Vec::new();
        let mut images = Vec::new();
        let mut excluded = Vec::new();
        for (id, r) in results {
            match r {
                Ok(img) => {
                    ids.push(id);
                    images.push(img);
                }
                Err(reason) => {
                    tracing::warn!(case = %id, %reason, "no image input");
                    excluded.push((id, reason.to_string()));
                }
            }
        }
        let missing_per_channel = spec
            .channels
            .iter()
            .enumerate()
            .map(|(k, n)| (n.clone(), images.iter().filter(|i| i.missing[k]).count()))
            .collect();
        CohortImages {
            ids,
            images,
            excluded,
            input: spec.describe(),
            spec: spec.clone(),
            missing_per_channel,
        }
    }
}

/// The images as the encoder's dataset.
pub fn dataset(ci: &CohortImages) -> crate::engine::encoder_client::Dataset {
    let size = ci.images.first().map(|i| i.size).unwrap_or(0);
    crate::engine::encoder_client::Dataset {
        ids: ci.ids.clone(),
        channels: ci.spec.channels.len(),
        size,
        data: ci
            .images
            .iter()
            .flat_map(|i| i.data.iter().copied())
            .collect(),
        missing: ci.images.iter().map(|i| i.missing.clone()).collect(),
    }
}

/// Writes PNG previews (channels side by side) of the first `limit` cases into `dir`.
pub fn write_previews(ci: &CohortImages, dir: &Path, limit: usize) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (id, img) in ci.ids.iter().zip(&ci.images).take(limit) {
        let (w, h, px) = renal_imaging::png::channels_strip(img);
        let path = dir.join(format!("{id}.png"));
        renal_cohort::io::write_atomic(&path, &renal_imaging::png::encode_gray(w, h, &px))
            .with_context(|| format!("writing {}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}
