//! Measuring a cohort: tumor size and shape from each case's mask, agreement with the
//! radiologists' size, and inter-annotator reliability.

use std::collections::BTreeMap;

use crate::progress::progress;
use rayon::prelude::*;
use renal_cohort::Cohort;
use renal_imaging::{
    measure_segmentation, read_labels, BinaryMask, CaseMeasurements, LabelScheme, ShapeFeatures,
};

/// Measures every case with a mask, in parallel (results do not depend on the thread count).
/// A case that cannot be measured is excluded with the reason. A cohort without any mask
/// (features and labels only) is not measured; in a cohort with masks, a case without one is
/// excluded (its size would be missing).
pub fn measure_cohort(
    cohort: &mut Cohort,
    scheme: LabelScheme,
) -> BTreeMap<String, CaseMeasurements> {
    if cohort.cases.iter().all(|c| c.images.mask.is_none()) {
        // Features + labels only: nothing to measure, nothing to exclude.
        return BTreeMap::new();
    }
    let pb = progress(cohort.cases.len(), "measuring");
    let results: Vec<(String, Result<CaseMeasurements, String>)> = cohort
        .cases
        .par_iter()
        .map(|c| {
            let r = match &c.images.mask {
                None => Err("no mask".to_string()),
                Some(p) => read_labels(p).map_err(|e| e.to_string()).and_then(|v| {
                    measure_segmentation(&v, scheme, &format!("{} ({})", c.id, p.display()))
                        .map_err(|e| e.to_string())
                }),
            };
            pb.inc(1);
            (c.id.clone(), r)
        })
        .collect();
    pb.finish_and_clear();
    let mut out = BTreeMap::new();
    for (id, r) in results {
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
#[derive(Debug, Clone)]
pub struct AnnotatorShape {
    pub shape: ShapeFeatures,
    pub axial_diameter_mm: f64,
}

/// One tumor instance rated by every annotator.
#[derive(Debug, Clone)]
pub struct InstanceRatings {
    pub annotators: Vec<AnnotatorShape>,
}

/// Measures the per-annotator masks of every instance that all `k` annotators delineated
/// (`k` = the largest number of annotators of any instance). Unreadable masks are skipped with
/// a warning (they do not affect the cohort).
pub fn annotator_shapes(cohort: &Cohort) -> (usize, Vec<InstanceRatings>) {
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
    let complete: Vec<((String, u32), Vec<std::path::PathBuf>)> = groups
        .into_iter()
        .filter(|(_, v)| v.len() == k && k >= 2)
        .collect();
    let pb = progress(complete.len(), "annotators");
    let rated: Vec<Option<InstanceRatings>> = complete
        .par_iter()
        .map(|((case, instance), paths)| {
            let mut annotators = Vec::new();
            for p in paths {
                let shape = read_labels(p).map_err(|e| e.to_string()).and_then(|v| {
                    let axial = v.geometry.axial_axis().map_err(|e| e.to_string())?;
                    let spacing = v.geometry.spacing_mm();
                    let m = BinaryMask::from_predicate(&v.geometry, &v.data, |x| x != 0).ok_or_else(|| "empty mask".to_string())?;
                    let (d, _) = renal_imaging::shape::axial_diameter_mm(&m, spacing, axial);
                    Ok(AnnotatorShape { shape: renal_imaging::shape_features(&m, spacing), axial_diameter_mm: d })
                });
                match shape {
                    Ok(s) => annotators.push(s),
                    Err(e) => {
                        tracing::warn!(case = %case, instance, file = %p.display(), error = %e, "annotator mask skipped");
                        pb.inc(1);
                        return None;
                    }
                }
            }
            pb.inc(1);
            Some(InstanceRatings { annotators })
        })
        .collect();
    pb.finish_and_clear();
    (k, rated.into_iter().flatten().collect())
}
