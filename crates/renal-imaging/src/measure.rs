//! Tumor and kidney measurements from a segmentation label map.

use crate::error::{ImagingError, Result};
use crate::mask::{components_26, BinaryMask, LabelStats};
use crate::shape::{axial_diameter_mm, shape_features, ShapeFeatures};
use crate::volume::LabelVolume;

/// Label values of a segmentation (KiTS23 defaults: kidney 1, tumor 2, cyst 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabelScheme {
    pub kidney: u8,
    pub tumor: u8,
    pub cyst: u8,
}

impl Default for LabelScheme {
    fn default() -> Self {
        LabelScheme {
            kidney: 1,
            tumor: 2,
            cyst: 3,
        }
    }
}

/// One tumor component (26-connected).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TumorComponent {
    /// 1 for the largest component (the index tumor), 2 for the next, ...
    pub rank: usize,
    /// Largest in-plane distance between voxel centres in one axial slice (mm).
    pub axial_diameter_mm: f64,
    /// Full-grid index (along the axial axis) of the slice where it is reached.
    pub axial_diameter_slice: usize,
    /// Centroid of the voxel centres in world coordinates (mm).
    pub centroid_world_mm: [f64; 3],
    pub shape: ShapeFeatures,
}

/// Everything measured on one case's segmentation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseMeasurements {
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    /// The voxel axis that the affine maps closest to S-I.
    pub axial_axis: usize,
    pub voxels_kidney: usize,
    pub voxels_tumor: usize,
    pub voxels_cyst: usize,
    /// Cyst voxels 26-connected (through cyst voxels) to a tumor voxel: the cystic part of
    /// the tumor in KiTS23's labels.
    #[serde(default)]
    pub voxels_cyst_touching_tumor: usize,
    pub voxels_other: usize,
    /// Kidney parenchyma (kidney label only), ml.
    pub kidney_parenchyma_ml: f64,
    /// Whole kidney region: kidney, tumor and cyst labels together, ml.
    pub kidney_volume_ml: f64,
    /// All tumor voxels (all components) over the whole kidney region.
    pub tumor_kidney_ratio: f64,
    /// Shape of the whole tumor label (all components pooled, as pyradiomics computes it).
    pub whole_tumor: ShapeFeatures,
    /// Components, largest first; `components[0]` is the index tumor.
    pub components: Vec<TumorComponent>,
}

impl CaseMeasurements {
    /// Cyst voxels touching the tumor over tumor plus those cyst voxels (0 without a cyst).
    pub fn cyst_fraction(&self) -> f64 {
        let c = self.voxels_cyst_touching_tumor as f64;
        c / (self.voxels_tumor as f64 + c).max(1.0)
    }

    /// The index tumor: the largest component.
    pub fn index_tumor(&self) -> &TumorComponent {
        // `measure_segmentation` never returns an empty component list.
        &self.components[0]
    }
}

fn component(mask: &BinaryMask, rank: usize, labels: &LabelVolume, axial: usize) -> TumorComponent {
    let spacing = labels.geometry.spacing_mm();
    let (d, slice) = axial_diameter_mm(mask, spacing, axial);
    let vox = mask.voxels();
    let n = vox.len().max(1) as f64;
    let mut c = [0.0; 3];
    for v in &vox {
        for a in 0..3 {
            c[a] += (v[a] + mask.origin[a]) as f64;
        }
    }
    TumorComponent {
        rank,
        axial_diameter_mm: d,
        axial_diameter_slice: slice,
        centroid_world_mm: labels.geometry.world(c.map(|x| x / n)),
        shape: shape_features(mask, spacing),
    }
}

/// The 26 neighbour offsets.
fn neighbours() -> impl Iterator<Item = [isize; 3]> {
    (-1..=1)
        .flat_map(|a| (-1..=1).flat_map(move |b| (-1..=1).map(move |c| [a, b, c])))
        .filter(|d| *d != [0, 0, 0])
}

/// Counts the cyst voxels connected (26-neighbourhood, through cyst voxels) to a tumor voxel;
/// `lo..=hi` is the tumor's bounding box.
fn cyst_touching(
    labels: &LabelVolume,
    scheme: LabelScheme,
    lo: [usize; 3],
    hi: [usize; 3],
) -> usize {
    let dims = labels.geometry.dims;
    let at = |p: [usize; 3]| labels.data[labels.geometry.index(p[0], p[1], p[2])];
    let step = |p: [usize; 3], d: [isize; 3]| -> Option<[usize; 3]> {
        let mut q = [0usize; 3];
        for a in 0..3 {
            let v = p[a] as isize + d[a];
            if v < 0 || v >= dims[a] as isize {
                return None;
            }
            q[a] = v as usize;
        }
        Some(q)
    };
    let mut seen = std::collections::HashSet::new();
    let mut stack = Vec::new();
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            for i in lo[0]..=hi[0] {
                if at([i, j, k]) != scheme.tumor {
                    continue;
                }
                for d in neighbours() {
                    if let Some(q) = step([i, j, k], d) {
                        if at(q) == scheme.cyst && seen.insert(q) {
                            stack.push(q);
                        }
                    }
                }
            }
        }
    }
    while let Some(p) = stack.pop() {
        for d in neighbours() {
            if let Some(q) = step(p, d) {
                if at(q) == scheme.cyst && seen.insert(q) {
                    stack.push(q);
                }
            }
        }
    }
    seen.len()
}

/// Measures the tumor components and the kidney of a label map. `what` names the case/file in
/// errors. An empty tumor label is an error ([`ImagingError::EmptyMask`]).
/// The largest voxel spacing a measurement accepts (mm): CT slices are at most about 10 mm
/// thick; a larger spacing is a wrong header, whose sizes would be wrong by as much.
pub const MAX_SPACING_MM: f64 = 50.0;

pub fn measure_segmentation(
    labels: &LabelVolume,
    scheme: LabelScheme,
    what: &str,
) -> Result<CaseMeasurements> {
    let g = &labels.geometry;
    let axial = g.axial_axis().map_err(|e| ImagingError::InvalidGeometry {
        what: what.to_string(),
        detail: e.to_string(),
    })?;
    let sp = g.spacing_mm();
    if !sp
        .iter()
        .all(|s| s.is_finite() && *s > 0.0 && *s <= MAX_SPACING_MM)
    {
        return Err(ImagingError::InvalidGeometry {
            what: what.to_string(),
            detail: format!(
                "implausible voxel spacing {sp:?} mm (a CT voxel is over 0 and at most {MAX_SPACING_MM} mm on every axis): no size is measured from it"
            ),
        });
    }
    crate::cancel::check()?;
    let stats = LabelStats::compute(labels, scheme.tumor);
    let counts = stats.counts;
    let (lo, hi) = stats.bbox.ok_or_else(|| ImagingError::EmptyMask {
        what: what.to_string(),
        label: scheme.tumor,
    })?;
    let tumor = BinaryMask::from_box(g, &labels.data, lo, hi, |v| v == scheme.tumor);
    crate::cancel::check()?;
    let comps = components_26(&tumor);
    let components: Vec<TumorComponent> = comps
        .iter()
        .enumerate()
        .map(|(r, m)| {
            crate::cancel::check()?;
            Ok(component(m, r + 1, labels, axial))
        })
        .collect::<Result<_>>()?;
    crate::cancel::check()?;
    let whole_tumor = if components.len() == 1 {
        components[0].shape.clone()
    } else {
        shape_features(&tumor, g.spacing_mm())
    };
    let voxels_cyst_touching_tumor = if counts[scheme.cyst as usize] > 0 {
        cyst_touching(labels, scheme, lo, hi)
    } else {
        0
    };
    let vv = g.spacing_mm().iter().product::<f64>() / 1000.0;
    let (nk, nt, nc) = (
        counts[scheme.kidney as usize],
        counts[scheme.tumor as usize],
        counts[scheme.cyst as usize],
    );
    let other = labels.data.len() - counts[0] - nk - nt - nc;
    let kidney_volume_ml = (nk + nt + nc) as f64 * vv;
    Ok(CaseMeasurements {
        dims: g.dims,
        spacing_mm: g.spacing_mm(),
        axial_axis: axial,
        voxels_kidney: nk,
        voxels_tumor: nt,
        voxels_cyst: nc,
        voxels_cyst_touching_tumor,
        voxels_other: other,
        kidney_parenchyma_ml: nk as f64 * vv,
        kidney_volume_ml,
        tumor_kidney_ratio: nt as f64 * vv / kidney_volume_ml,
        whole_tumor,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Geometry, Volume};

    #[test]
    fn two_tumors_and_kidney() {
        let g = Geometry::with_spacing([10, 10, 10], [1.0, 1.0, 2.0]);
        let mut d = vec![0u8; 1000];
        let idx = |i: usize, j: usize, k: usize| i + 10 * (j + 10 * k);
        for k in 0..10 {
            for j in 0..10 {
                d[idx(0, j, k)] = 1;
            }
        }
        // Big tumor: 3x3 in-plane on 2 slices; small: one voxel.
        for k in 2..4 {
            for j in 2..5 {
                for i in 2..5 {
                    d[idx(i, j, k)] = 2;
                }
            }
        }
        d[idx(8, 8, 8)] = 2;
        let v = Volume::new(g, d).unwrap();
        let m = measure_segmentation(&v, LabelScheme::default(), "case_x").unwrap();
        assert_eq!(m.axial_axis, 2);
        assert_eq!(m.components.len(), 2);
        assert_eq!(m.index_tumor().shape.voxel_count, 18);
        // In-plane diagonal between voxel centres of a 3x3 square at 1 mm: sqrt(8).
        assert!((m.index_tumor().axial_diameter_mm - 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.voxels_tumor, 19);
        assert!((m.kidney_volume_ml - (100 + 19) as f64 * 2.0 / 1000.0).abs() < 1e-12);
        assert!((m.index_tumor().centroid_world_mm[2] - 2.5 * 2.0).abs() < 1e-12);
    }

    /// Two cysts: one touching the tumor diagonally (2 voxels, chained), one apart (1 voxel).
    #[test]
    fn cyst_fraction_counts_the_cyst_touching_the_tumor() {
        let g = Geometry::with_spacing([8, 8, 8], [1.0; 3]);
        let mut d = vec![0u8; 512];
        let idx = |i: usize, j: usize, k: usize| i + 8 * (j + 8 * k);
        for k in 1..3 {
            for j in 1..3 {
                for i in 1..3 {
                    d[idx(i, j, k)] = 2;
                }
            }
        }
        d[idx(3, 3, 3)] = 3; // diagonal neighbour of (2, 2, 2)
        d[idx(4, 4, 4)] = 3; // chained through the first
        d[idx(7, 7, 0)] = 3; // apart
        let v = Volume::new(g, d).unwrap();
        let m = measure_segmentation(&v, LabelScheme::default(), "c").unwrap();
        assert_eq!(m.voxels_cyst, 3);
        assert_eq!(m.voxels_cyst_touching_tumor, 2);
        assert!((m.cyst_fraction() - 2.0 / 10.0).abs() < 1e-15);
    }

    #[test]
    fn empty_tumor_is_an_error_naming_the_case() {
        let v = Volume::new(Geometry::with_spacing([2, 2, 2], [1.0; 3]), vec![1u8; 8]).unwrap();
        let e = measure_segmentation(&v, LabelScheme::default(), "case_00007").unwrap_err();
        assert!(e.to_string().contains("case_00007"));
    }
}
