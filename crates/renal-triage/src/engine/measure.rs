//! Measuring a cohort: tumor size and shape from each case's mask, agreement with the
//! radiologists' size, and inter-annotator reliability.

use crate::engine::failure::CaseFailure;
use std::collections::BTreeMap;

use crate::progress::progress;
use rayon::prelude::*;
use renal_cohort::Cohort;
use renal_imaging::{
    measure_segmentation, read_labels, BinaryMask, CaseImage, CaseMeasurements, LabelScheme,
    ShapeFeatures,
};

use crate::engine::images::{cohort_case_image, read_case_mask, CohortImages, ImageSpec};

/// One case's mask, decoded once: its measurements and, when asked, its image input made from
/// the same decoded volume.
pub struct CaseMask {
    pub id: String,
    pub measured: Result<CaseMeasurements, CaseFailure>,
    pub image: Option<Result<CaseImage, CaseFailure>>,
}

/// One pass over a cohort's masks, in parallel (results in cohort order, whatever the thread
/// count): each mask read and decoded once, measured, and its image input made with `spec`
/// when given.
pub fn mask_pass(cohort: &Cohort, scheme: LabelScheme, spec: Option<&ImageSpec>) -> Vec<CaseMask> {
    let pb = progress(cohort.cases.len(), "masks");
    let out = cohort
        .cases
        .par_iter()
        .map(|c| {
            let r = crate::engine::contain::contain(&c.id, || {
                Ok::<_, CaseFailure>(case_pass(c, scheme, spec))
            });
            pb.inc(1);
            let (measured, image) = match r {
                Ok(x) => x,
                // A panic, contained: the case fails, the others go on.
                Err(why) => (Err(why.clone()), spec.map(|_| Err(why))),
            };
            CaseMask {
                id: c.id.clone(),
                measured,
                image,
            }
        })
        .collect();
    pb.finish_and_clear();
    out
}

/// One case's measurements and image input (with `spec`) from its mask, decoded once.
fn case_pass(
    c: &renal_cohort::Case,
    scheme: LabelScheme,
    spec: Option<&ImageSpec>,
) -> (
    Result<CaseMeasurements, CaseFailure>,
    Option<Result<CaseImage, CaseFailure>>,
) {
    let decoded = read_case_mask(&c.images);
    let measured = decoded
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|v| measure_case(c, v, scheme));
    let image = spec.map(|spec| {
        decoded
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|v| cohort_case_image(c, v, spec))
    });
    (measured, image)
}

/// One case's measurements from its decoded mask, a failure naming the case and its mask file.
pub fn measure_case(
    c: &renal_cohort::Case,
    mask: &renal_imaging::LabelVolume,
    scheme: LabelScheme,
) -> Result<CaseMeasurements, CaseFailure> {
    let file = c.images.mask.as_deref().unwrap_or(std::path::Path::new(""));
    let what = format!("{} ({})", c.id, file.display());
    Ok(measure_segmentation(mask, scheme, &what)?)
}

/// Each case's measurements (or why it could not be measured), as [`apply_measurements`] and
/// `prepare_measured` take them.
pub type Measured = Vec<(String, Result<CaseMeasurements, CaseFailure>)>;

/// One [`mask_pass`] that measures every case and makes its image input with `spec`.
pub fn measure_and_image(cohort: &Cohort, spec: &ImageSpec) -> (CohortImages, Measured) {
    let mut images = Vec::with_capacity(cohort.cases.len());
    let mut measured = Vec::with_capacity(cohort.cases.len());
    for m in mask_pass(cohort, LabelScheme::default(), Some(spec)) {
        if let Some(img) = m.image {
            images.push((m.id.clone(), img));
        }
        measured.push((m.id, m.measured));
    }
    (CohortImages::from_results(images, spec), measured)
}

/// One [`mask_pass`] that only measures.
pub fn measure_only(cohort: &Cohort) -> Measured {
    mask_pass(cohort, LabelScheme::default(), None)
        .into_iter()
        .map(|m| (m.id, m.measured))
        .collect()
}

/// Measures every case with a mask (one [`mask_pass`]). A case that cannot be measured is
/// excluded with the reason. A cohort without any mask (features and labels only) is not
/// measured; in a cohort with masks, a case without one is excluded (its size would be
/// missing).
pub fn measure_cohort(
    cohort: &mut Cohort,
    scheme: LabelScheme,
) -> BTreeMap<String, CaseMeasurements> {
    if cohort.cases.iter().all(|c| c.images.mask.is_none()) {
        // Features + labels only: nothing to measure, nothing to exclude.
        return BTreeMap::new();
    }
    let pass = mask_pass(cohort, scheme, None);
    apply_measurements(cohort, pass.into_iter().map(|m| (m.id, m.measured)))
}

/// The measurements of a pass, for the cases still in the cohort; a case that could not be
/// measured is excluded with the reason.
pub fn apply_measurements(
    cohort: &mut Cohort,
    results: impl IntoIterator<Item = (String, Result<CaseMeasurements, CaseFailure>)>,
) -> BTreeMap<String, CaseMeasurements> {
    let mut out = BTreeMap::new();
    for (id, r) in results {
        if !cohort.cases.iter().any(|c| c.id == id) {
            continue;
        }
        match r {
            Ok(m) => {
                out.insert(id, m);
            }
            Err(reason) => cohort.exclude(&id, format!("measurement failed: {reason}")),
        }
    }
    out
}

/// The shape features compared across annotators, by name.
/// Reads one feature from an annotator's shape.
pub type FeatureFn = fn(&AnnotatorShape) -> f64;

pub const ICC_FEATURES: &[(&str, FeatureFn)] = &[
    ("voxel_volume_ml", |s| s.shape.voxel_volume_ml()),
    ("mesh_volume_ml", |s| s.shape.mesh_volume_ml()),
    ("surface_area_mm2", |s| s.shape.surface_area_mm2),
    ("sphericity", |s| s.shape.sphericity),
    ("maximum_3d_diameter_mm", |s| s.shape.maximum_3d_diameter_mm),
    ("axial_diameter_mm", |s| s.axial_diameter_mm),
    ("major_axis_length_mm", |s| s.shape.major_axis_length_mm),
    ("minor_axis_length_mm", |s| s.shape.minor_axis_length_mm),
    ("least_axis_length_mm", |s| s.shape.least_axis_length_mm),
    ("elongation", |s| s.shape.elongation),
    ("flatness", |s| s.shape.flatness),
];

/// Shape of one annotator's mask of one tumor instance.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AnnotatorShape {
    pub shape: ShapeFeatures,
    pub axial_diameter_mm: f64,
}

/// One tumor instance rated by every annotator.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InstanceRatings {
    pub annotators: Vec<AnnotatorShape>,
}

/// The (case, instance) groups of annotator masks that all `k` annotators delineated (`k` =
/// the largest number of annotators of any instance; none when fewer than 2), in case id then
/// instance order.
pub type AnnotatorGroups = (usize, Vec<((String, u32), Vec<std::path::PathBuf>)>);

pub fn annotator_groups(cohort: &Cohort) -> AnnotatorGroups {
    let mut groups: BTreeMap<(String, u32), Vec<std::path::PathBuf>> = BTreeMap::new();
    for c in &cohort.cases {
        for a in &c.images.annotations {
            groups
                .entry((c.id.clone(), a.instance))
                .or_default()
                .push(a.path.clone());
        }
    }
    let k = groups.values().map(Vec::len).max().unwrap_or(0);
    let complete = groups
        .into_iter()
        .filter(|(_, v)| v.len() == k && k >= 2)
        .collect();
    (k, complete)
}

/// Measures one instance's annotator masks; `None` (with a warning) when one cannot be read.
pub fn rate_instance(
    case: &str,
    instance: u32,
    paths: &[std::path::PathBuf],
) -> Option<InstanceRatings> {
    let mut annotators = Vec::new();
    for p in paths {
        let shape = crate::engine::contain::contain(case, || annotator_shape(p));
        match shape {
            Ok(s) => annotators.push(s),
            Err(e) => {
                tracing::warn!(case = %case, instance, file = %p.display(), error = %e, "annotator mask skipped");
                return None;
            }
        }
    }
    Some(InstanceRatings { annotators })
}

/// One annotator's mask: its shape features and axial diameter.
fn annotator_shape(p: &std::path::Path) -> Result<AnnotatorShape, CaseFailure> {
    let v = read_labels(p)?;
    let axial = v.geometry.axial_axis()?;
    let spacing = v.geometry.spacing_mm();
    let m = BinaryMask::from_predicate(&v.geometry, &v.data, |x| x != 0)
        .ok_or(CaseFailure::EmptyMask)?;
    let (d, _) = renal_imaging::shape::axial_diameter_mm(&m, spacing, axial);
    Ok(AnnotatorShape {
        shape: renal_imaging::shape_features(&m, spacing),
        axial_diameter_mm: d,
    })
}

/// Measures the per-annotator masks of every instance that all `k` annotators delineated
/// ([`annotator_groups`]). Unreadable masks are skipped with a warning (they do not affect
/// the cohort).
pub fn annotator_shapes(cohort: &Cohort) -> (usize, Vec<InstanceRatings>) {
    let (k, complete) = annotator_groups(cohort);
    let pb = progress(complete.len(), "annotators");
    let rated: Vec<Option<InstanceRatings>> = complete
        .par_iter()
        .map(|((case, instance), paths)| {
            let r = rate_instance(case, *instance, paths);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    (k, rated.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::images::cohort_images_with;

    /// The single pass (each mask decoded once) gives exactly what measuring and imaging the
    /// cohort separately give: the same measurements, the same pixels, the same exclusions.
    #[test]
    fn one_pass_equals_measuring_and_imaging_separately() {
        let Some(shared) = renal_testdata::shared() else {
            return;
        };
        let mut cohort = renal_cohort::load_kits23(&shared.join("kits23")).unwrap();
        cohort.cases.truncate(6);
        // A case whose mask cannot be read is excluded by both, with the same reason.
        cohort.cases[5].images.mask = Some(shared.join("kits23/no-such-mask.nii.gz"));
        let spec = ImageSpec::of_cohort(&cohort, 64).unwrap();
        let pass = mask_pass(&cohort, LabelScheme::default(), Some(&spec));
        let separate = cohort_images_with(&cohort, &spec).unwrap();
        let mut measured = cohort.clone();
        let meas = measure_cohort(&mut measured, LabelScheme::default());
        assert_eq!(pass.len(), 6);
        let mut imaged = 0;
        for (m, c) in pass.iter().zip(&cohort.cases) {
            assert_eq!(m.id, c.id);
            match (&m.measured, meas.get(&m.id)) {
                (Ok(a), Some(b)) => {
                    assert_eq!(
                        a.index_tumor().axial_diameter_mm,
                        b.index_tumor().axial_diameter_mm
                    )
                }
                (Err(_), None) => {}
                other => panic!("{}: {other:?}", m.id),
            }
            match m.image.as_ref().unwrap() {
                Ok(img) => {
                    let k = separate.ids.iter().position(|i| *i == m.id).unwrap();
                    assert_eq!(img, &separate.images[k], "{}", m.id);
                    imaged += 1;
                }
                Err(why) => assert!(separate.excluded.contains(&(m.id.clone(), why.to_string()))),
            }
        }
        assert_eq!(imaged, 5);
        assert!(pass[5].measured.is_err());
    }
}
