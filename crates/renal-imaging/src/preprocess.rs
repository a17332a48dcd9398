//! The study's image input: resampling to a common spacing, HU window and min-max
//! normalisation, the axial slice through the tumor centroid cropped or padded to a square, and
//! the phases stacked as channels.
//!
//! # Conventions
//! - Resampling maps every target voxel centre to world millimetres and back into the source
//!   grid (any affine, any orientation); nearest neighbour rounds to the closest source voxel,
//!   linear interpolates trilinearly. Target voxels outside the source take `fill`.
//! - A grid resampled to a new spacing keeps the source's orientation and its first voxel centre,
//!   and covers the same extent: `n' = max(1, round(n * s / s'))` voxels per axis.
//! - The slice is the axial plane (see [`Geometry::axial_axis`]) through the rounded centroid of
//!   the index tumor (the largest 26-connected tumor component); the square is centred on its
//!   in-plane centroid. Pixel `(r, c)` of
//!   the output is the in-plane voxel `(u, v) = (centre_u - size/2 + c, centre_v - size/2 + r)`
//!   where `u < v` are the two in-plane voxel axes; pixels outside the volume are 0 (after
//!   normalisation, the bottom of the window).
//! - Normalisation: values are clipped to the window `[lo, hi]` HU and mapped to `[0, 1]`; with no
//!   window, the slice's own min and max are used (a constant slice becomes all 0).

use crate::error::{ImagingError, Result};
use crate::mask::{components_26, BinaryMask};
use crate::volume::{Geometry, LabelVolume, Volume};

/// How values between voxel centres are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    #[default]
    Nearest,
    Linear,
}

/// An HU window: values are clipped to `[lo, hi]` before min-max normalisation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub lo: f32,
    pub hi: f32,
}

impl Window {
    /// The soft-tissue abdominal window (level 40, width 400 HU), covering kidney, tumor and
    /// enhancement: -160 to 240 HU.
    pub const ABDOMEN: Window = Window {
        lo: -160.0,
        hi: 240.0,
    };
}

/// Inverse of the 3x3 part of an affine, with its translation: `ijk = inv * (world - t)`.
fn inverse(g: &Geometry, what: &str) -> Result<[[f64; 3]; 3]> {
    let m = &g.affine;
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 || !det.is_finite() {
        return Err(ImagingError::InvalidGeometry {
            what: what.into(),
            detail: format!("singular affine (determinant {det})"),
        });
    }
    let c =
        |r1: usize, c1: usize, r2: usize, c2: usize| m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1];
    Ok([
        [
            c(1, 1, 2, 2) / det,
            -c(0, 1, 2, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 0, 2, 2) / det,
            c(0, 0, 2, 2) / det,
            -c(0, 0, 1, 2) / det,
        ],
        [
            c(1, 0, 2, 1) / det,
            -c(0, 0, 2, 1) / det,
            c(0, 0, 1, 1) / det,
        ],
    ])
}

/// Voxel position (fractional) in `g` of a world point.
fn to_voxel(inv: &[[f64; 3]; 3], g: &Geometry, w: [f64; 3]) -> [f64; 3] {
    let d = [
        w[0] - g.affine[0][3],
        w[1] - g.affine[1][3],
        w[2] - g.affine[2][3],
    ];
    let mut out = [0.0; 3];
    for (r, o) in out.iter_mut().enumerate() {
        *o = inv[r][0] * d[0] + inv[r][1] * d[1] + inv[r][2] * d[2];
    }
    out
}

/// The grid covering `g`'s extent with voxels of `spacing_mm`, same orientation and first voxel.
pub fn grid_with_spacing(g: &Geometry, spacing_mm: [f64; 3]) -> Result<Geometry> {
    let old = g.spacing_mm();
    let mut out = g.clone();
    for c in 0..3 {
        if !(spacing_mm[c] > 0.0 && spacing_mm[c].is_finite()) {
            return Err(ImagingError::InvalidGeometry {
                what: "target spacing".into(),
                detail: format!("axis {c}: {} mm", spacing_mm[c]),
            });
        }
        let n = ((g.dims[c] as f64 * old[c] / spacing_mm[c]).round() as usize).max(1);
        out.dims[c] = n;
        for r in 0..3 {
            out.affine[r][c] = g.affine[r][c] / old[c] * spacing_mm[c];
        }
    }
    Ok(out)
}

/// Resamples `src` onto `target` (world-coordinate mapping; outside voxels take `fill`).
pub fn resample(
    src: &Volume<f32>,
    target: &Geometry,
    interp: Interpolation,
    fill: f32,
    what: &str,
) -> Result<Volume<f32>> {
    let inv = inverse(&src.geometry, what)?;
    let mut out = vec![fill; target.len()];
    for k in 0..target.dims[2] {
        for j in 0..target.dims[1] {
            for i in 0..target.dims[0] {
                let w = target.world([i as f64, j as f64, k as f64]);
                let p = to_voxel(&inv, &src.geometry, w);
                if let Some(v) = sample_at(src, p, interp) {
                    out[target.index(i, j, k)] = v;
                }
            }
        }
    }
    Volume::new(target.clone(), out)
}

/// The value of `src` at a fractional voxel position; `None` outside the grid.
fn sample_at(src: &Volume<f32>, p: [f64; 3], interp: Interpolation) -> Option<f32> {
    let d = src.geometry.dims;
    match interp {
        Interpolation::Nearest => {
            let q = [p[0].round(), p[1].round(), p[2].round()];
            (0..3)
                .all(|a| q[a] >= 0.0 && q[a] < d[a] as f64)
                .then(|| src.get(q[0] as usize, q[1] as usize, q[2] as usize))
        }
        Interpolation::Linear => trilinear(src, p),
    }
}

/// Trilinear interpolation at a fractional voxel position; `None` outside the grid (a position
/// within half a voxel of the border is clamped to it).
fn trilinear(src: &Volume<f32>, p: [f64; 3]) -> Option<f32> {
    let d = src.geometry.dims;
    let mut lo = [0usize; 3];
    let mut f = [0.0f64; 3];
    for a in 0..3 {
        if p[a] < -0.5 || p[a] > d[a] as f64 - 0.5 {
            return None;
        }
        let x = p[a].clamp(0.0, (d[a] - 1) as f64);
        let l = (x.floor() as usize).min(d[a].saturating_sub(2));
        lo[a] = l;
        f[a] = if d[a] > 1 { x - l as f64 } else { 0.0 };
    }
    let at = |a: usize, b: usize, c: usize| -> f64 {
        let i = (lo[0] + a).min(d[0] - 1);
        let j = (lo[1] + b).min(d[1] - 1);
        let k = (lo[2] + c).min(d[2] - 1);
        src.get(i, j, k) as f64
    };
    let mut v = 0.0;
    for (c, wc) in [(0, 1.0 - f[2]), (1, f[2])] {
        for (b, wb) in [(0, 1.0 - f[1]), (1, f[1])] {
            for (a, wa) in [(0, 1.0 - f[0]), (1, f[0])] {
                let w = wa * wb * wc;
                if w != 0.0 {
                    v += w * at(a, b, c);
                }
            }
        }
    }
    Some(v as f32)
}

/// Where the study's slice is taken.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlicePosition {
    /// The axial voxel axis and the slice index along it.
    pub axial_axis: usize,
    pub slice: usize,
    /// The tumor centroid in voxels (fractional) and in world mm.
    pub centroid_voxel: [f64; 3],
    pub centroid_mm: [f64; 3],
    /// World coordinate (mm) of the slice plane along S-I (z).
    pub slice_z_mm: f64,
    pub tumor_voxels: usize,
}

/// The axial slice through the centroid of the index tumor: the largest 26-connected component
/// of the voxels labelled `tumor` (as for the size measurement). With several tumors, the
/// centroid of all of them could fall between them, on a slice without any tumor.
pub fn centroid_slice(mask: &LabelVolume, tumor: &[u8], what: &str) -> Result<SlicePosition> {
    let g = &mask.geometry;
    let axial = g.axial_axis()?;
    let d = g.dims;
    let empty = || ImagingError::EmptyMask {
        what: what.into(),
        label: tumor.first().copied().unwrap_or(0),
    };
    let all =
        BinaryMask::from_predicate(g, &mask.data, |v| tumor.contains(&v)).ok_or_else(empty)?;
    let components = components_26(&all);
    // A cancelled labelling returns early: say so rather than "empty".
    crate::cancel::check()?;
    let index = components.into_iter().next().ok_or_else(empty)?;
    let mut sum = [0.0f64; 3];
    let voxels = index.voxels();
    for v in &voxels {
        for a in 0..3 {
            sum[a] += (v[a] + index.origin[a]) as f64;
        }
    }
    let n = voxels.len();
    let c = [sum[0] / n as f64, sum[1] / n as f64, sum[2] / n as f64];
    let slice = (c[axial].round() as usize).min(d[axial] - 1);
    let mut on_plane = c;
    on_plane[axial] = slice as f64;
    Ok(SlicePosition {
        axial_axis: axial,
        slice,
        centroid_voxel: c,
        centroid_mm: g.world(c),
        slice_z_mm: g.world(on_plane)[2],
        tumor_voxels: n,
    })
}

/// The two in-plane axes of an axial axis, in increasing order.
pub fn in_plane(axial: usize) -> (usize, usize) {
    match axial {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    }
}

/// Clips to the window and maps to `[0, 1]` (no window: the values' own min-max).
pub fn normalise(values: &mut [f32], window: Option<Window>) {
    let (lo, hi) = match window {
        Some(w) => (w.lo, w.hi),
        None => values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            }),
    };
    let span = hi - lo;
    for v in values.iter_mut() {
        *v = if span > 0.0 && span.is_finite() {
            ((v.clamp(lo, hi) - lo) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
    }
}

/// The model input of one case: `channels` planes of `size` x `size`, row-major, channel-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseImage {
    pub channels: Vec<String>,
    /// Per channel, whether the phase was missing (its plane is all zero).
    pub missing: Vec<bool>,
    pub size: usize,
    pub data: Vec<f32>,
    pub position: SlicePosition,
    /// Spacing (mm) of the grid the slice was taken from.
    pub spacing_mm: [f64; 3],
}

impl CaseImage {
    pub fn plane(&self, c: usize) -> &[f32] {
        &self.data[c * self.size * self.size..(c + 1) * self.size * self.size]
    }
}

/// Preprocessing settings (the study's defaults: nearest neighbour, abdominal window, 256 px).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocess {
    /// Resample to this spacing (mm, per voxel axis); `None` keeps the mask's grid.
    pub spacing_mm: Option<[f64; 3]>,
    pub interpolation: Interpolation,
    pub window: Option<Window>,
    pub size: usize,
    /// Labels that make up the tumor in the mask.
    pub tumor_labels: Vec<u8>,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            spacing_mm: None,
            interpolation: Interpolation::Nearest,
            window: Some(Window::ABDOMEN),
            size: 256,
            tumor_labels: vec![2],
        }
    }
}

/// Checks that a CT phase is 3D, holds a finite number in every voxel (a NaN would spread
/// through the interpolation, or be taken for the outside of the field of view), and that its
/// field of view covers every tumor voxel of the mask (phases on the mask's own grid pass
/// trivially).
pub fn check_phase(
    phase: &Volume<f32>,
    mask: &LabelVolume,
    tumor: &[u8],
    what: &str,
) -> Result<()> {
    if phase.geometry.dims.iter().filter(|&&n| n > 1).count() < 3 {
        return Err(ImagingError::InvalidGeometry {
            what: what.into(),
            detail: format!(
                "a 3D image is needed, this one has shape {:?}",
                phase.geometry.dims
            ),
        });
    }
    // One pass that vectorises (no early exit); the position only when there is one.
    let count = phase.data.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        let i = phase.data.iter().position(|v| !v.is_finite()).unwrap_or(0);
        let d = phase.geometry.dims;
        return Err(ImagingError::NonFiniteVoxels {
            what: what.into(),
            count,
            first: [i % d[0], (i / d[0]) % d[1], i / (d[0] * d[1])],
        });
    }
    if mask
        .geometry
        .check_same_grid(&phase.geometry, what, 1e-3)
        .is_ok()
    {
        return Ok(());
    }
    let inv = inverse(&phase.geometry, what)?;
    let g = &mask.geometry;
    let d = phase.geometry.dims;
    let mut outside = 0usize;
    let mut total = 0usize;
    for k in 0..g.dims[2] {
        for j in 0..g.dims[1] {
            for i in 0..g.dims[0] {
                if tumor.contains(&mask.data[g.index(i, j, k)]) {
                    total += 1;
                    let p = to_voxel(
                        &inv,
                        &phase.geometry,
                        g.world([i as f64, j as f64, k as f64]),
                    );
                    if (0..3).any(|a| p[a] < -0.5 || p[a] > d[a] as f64 - 0.5) {
                        outside += 1;
                    }
                }
            }
        }
    }
    if outside > 0 {
        return Err(ImagingError::GeometryMismatch {
            what: what.into(),
            detail: format!(
                "different field of view: {outside} of {total} tumor voxels of the mask lie outside this image"
            ),
        });
    }
    Ok(())
}

/// Where the slice lies on the target grid: the tumor centroid (computed on the mask's own grid,
/// in world mm) mapped into `target`, the slice through it.
fn position_on(
    target: &Geometry,
    mask: &LabelVolume,
    tumor: &[u8],
    what: &str,
) -> Result<SlicePosition> {
    let own = centroid_slice(mask, tumor, what)?;
    if *target == mask.geometry {
        return Ok(own);
    }
    let axial = target.axial_axis()?;
    let inv = inverse(target, what)?;
    let c = to_voxel(&inv, target, own.centroid_mm);
    let slice = c[axial].round().clamp(0.0, (target.dims[axial] - 1) as f64) as usize;
    let mut on_plane = c;
    on_plane[axial] = slice as f64;
    Ok(SlicePosition {
        axial_axis: axial,
        slice,
        centroid_voxel: c,
        centroid_mm: own.centroid_mm,
        slice_z_mm: target.world(on_plane)[2],
        tumor_voxels: own.tumor_voxels,
    })
}

/// Samples the `size` x `size` crop at `pos` of the grid `target` directly from `src` (any grid),
/// without resampling the whole volume: pixel `(r, c)` is target voxel `(u, v)` as in the
/// module docs; values outside `src` are `fill`.
pub fn sample_plane(
    src: &Volume<f32>,
    target: &Geometry,
    pos: &SlicePosition,
    size: usize,
    interp: Interpolation,
    fill: f32,
    what: &str,
) -> Result<Vec<f32>> {
    let (u, v) = in_plane(pos.axial_axis);
    let inv = inverse(&src.geometry, what)?;
    let cu = pos.centroid_voxel[u].round() as i64 - (size / 2) as i64;
    let cv = pos.centroid_voxel[v].round() as i64 - (size / 2) as i64;
    let same = src.geometry == *target;
    let mut out = vec![fill; size * size];
    for r in 0..size {
        for c in 0..size {
            let mut ijk = [0.0f64; 3];
            ijk[pos.axial_axis] = pos.slice as f64;
            ijk[u] = (cu + c as i64) as f64;
            ijk[v] = (cv + r as i64) as f64;
            let p = if same {
                ijk
            } else {
                to_voxel(&inv, &src.geometry, target.world(ijk))
            };
            if let Some(x) = sample_at(src, p, interp) {
                out[r * size + c] = x;
            }
        }
    }
    Ok(out)
}

/// Builds the model input of one case from its CT phases (`None` = missing phase, a zero
/// channel) and its mask. `what` names the case in errors; each phase error also names the phase.
/// Only the needed plane is resampled (from each phase's own grid to the target grid).
pub fn case_image(
    phases: Vec<(String, Option<Volume<f32>>)>,
    mask: &LabelVolume,
    cfg: &Preprocess,
    what: &str,
) -> Result<CaseImage> {
    let target = match cfg.spacing_mm {
        Some(s) => grid_with_spacing(&mask.geometry, s)?,
        None => mask.geometry.clone(),
    };
    let pos = position_on(&target, mask, &cfg.tumor_labels, &format!("{what}: mask"))?;
    let size = cfg.size;
    let mut data = Vec::with_capacity(phases.len() * size * size);
    let mut channels = Vec::new();
    let mut missing = Vec::new();
    for (name, vol) in phases {
        let label = format!("{what}, phase {name}");
        match vol {
            None => {
                data.extend(std::iter::repeat_n(0.0, size * size));
                missing.push(true);
            }
            Some(v) => {
                check_phase(&v, mask, &cfg.tumor_labels, &label)?;
                let lo = cfg.window.map(|w| w.lo).unwrap_or(f32::NAN);
                let mut plane =
                    sample_plane(&v, &target, &pos, size, cfg.interpolation, lo, &label)?;
                if cfg.window.is_none() {
                    // Outside pixels take the slice's minimum.
                    let min = plane
                        .iter()
                        .filter(|v| !v.is_nan())
                        .fold(f32::INFINITY, |a, &b| a.min(b));
                    plane
                        .iter_mut()
                        .filter(|v| v.is_nan())
                        .for_each(|v| *v = min);
                }
                normalise(&mut plane, cfg.window);
                data.extend(plane);
                missing.push(false);
            }
        }
        channels.push(name);
    }
    Ok(CaseImage {
        channels,
        missing,
        size,
        data,
        position: pos,
        spacing_mm: target.spacing_mm(),
    })
}

/// The KiTS23 stand-in for CT (no intensities on these machines): one-hot planes of the label
/// map (e.g. kidney, tumor, cyst) at the tumor-centroid slice, with the same geometry as
/// [`case_image`] (labels sampled by nearest neighbour).
pub fn label_channels(
    labels: &LabelVolume,
    cfg: &Preprocess,
    classes: &[(&str, u8)],
    what: &str,
) -> Result<CaseImage> {
    let target = match cfg.spacing_mm {
        Some(s) => grid_with_spacing(&labels.geometry, s)?,
        None => labels.geometry.clone(),
    };
    let pos = position_on(&target, labels, &cfg.tumor_labels, what)?;
    let as_f = Volume::new(
        labels.geometry.clone(),
        labels.data.iter().map(|&v| v as f32).collect(),
    )?;
    let plane = sample_plane(
        &as_f,
        &target,
        &pos,
        cfg.size,
        Interpolation::Nearest,
        0.0,
        what,
    )?;
    let mut data = Vec::with_capacity(classes.len() * plane.len());
    for (_, l) in classes {
        data.extend(plane.iter().map(|&v| if v as u8 == *l { 1.0 } else { 0.0 }));
    }
    Ok(CaseImage {
        channels: classes.iter().map(|(n, _)| n.to_string()).collect(),
        missing: vec![false; classes.len()],
        size: cfg.size,
        data,
        position: pos,
        spacing_mm: target.spacing_mm(),
    })
}

/// The per-axis median of the cases' spacings (the study resamples to the cohort's median).
pub fn median_spacing(spacings: &[[f64; 3]]) -> Option<[f64; 3]> {
    if spacings.is_empty() {
        return None;
    }
    let mut out = [0.0; 3];
    for (a, o) in out.iter_mut().enumerate() {
        let mut v: Vec<f64> = spacings.iter().map(|s| s[a]).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        *o = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(dims: [usize; 3], spacing: [f64; 3]) -> Volume<f32> {
        let g = Geometry::with_spacing(dims, spacing);
        let mut data = vec![0.0; g.len()];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    // A linear function of world position: exact under trilinear interpolation.
                    let w = g.world([i as f64, j as f64, k as f64]);
                    data[g.index(i, j, k)] = (w[0] + 2.0 * w[1] + 3.0 * w[2]) as f32;
                }
            }
        }
        Volume::new(g, data).unwrap()
    }

    #[test]
    fn linear_resampling_of_a_linear_field_is_exact_inside() {
        let v = ramp([9, 9, 9], [1.0, 1.0, 2.0]);
        let t = grid_with_spacing(&v.geometry, [0.5, 0.5, 1.0]).unwrap();
        assert_eq!(t.dims, [18, 18, 18]);
        let r = resample(&v, &t, Interpolation::Linear, f32::NAN, "t").unwrap();
        for k in 0..16 {
            for j in 0..16 {
                for i in 0..16 {
                    let w = t.world([i as f64, j as f64, k as f64]);
                    let expect = w[0] + 2.0 * w[1] + 3.0 * w[2];
                    let got = r.get(i, j, k) as f64;
                    assert!(
                        (got - expect).abs() < 1e-4,
                        "{i} {j} {k}: {got} vs {expect}"
                    );
                }
            }
        }
    }

    #[test]
    fn nearest_resampling_on_the_same_grid_is_identity() {
        let v = ramp([5, 6, 7], [0.8, 0.8, 3.0]);
        let r = resample(&v, &v.geometry, Interpolation::Nearest, 0.0, "t").unwrap();
        assert_eq!(r, v);
    }

    #[test]
    fn window_maps_to_unit_range() {
        let mut v = vec![-1000.0, -160.0, 40.0, 240.0, 3000.0];
        normalise(&mut v, Some(Window::ABDOMEN));
        assert_eq!(v, vec![0.0, 0.0, 0.5, 1.0, 1.0]);
        let mut c = vec![5.0; 4];
        normalise(&mut c, None);
        assert_eq!(c, vec![0.0; 4]);
    }

    #[test]
    fn the_slice_goes_through_the_largest_tumor_not_between_two() {
        // Two tumors on an axial (axis 2) grid: 27 voxels around k = 2 and 8 around k = 11.
        // The centroid of all 35 voxels (k = 4.06) lies on a slice with no tumor at all.
        let g = Geometry::with_spacing([12, 12, 14], [1.0, 1.0, 2.0]);
        let mut data = vec![0u8; g.len()];
        for k in 1..4 {
            for j in 1..4 {
                for i in 1..4 {
                    data[g.index(i, j, k)] = 2;
                }
            }
        }
        for k in 11..13 {
            for j in 8..10 {
                for i in 8..10 {
                    data[g.index(i, j, k)] = 2;
                }
            }
        }
        let m = Volume::new(g, data).unwrap();
        let p = centroid_slice(&m, &[2], "t").unwrap();
        assert_eq!(p.axial_axis, 2);
        assert_eq!(p.centroid_voxel, [2.0, 2.0, 2.0]);
        assert_eq!(p.slice, 2);
        assert_eq!(p.tumor_voxels, 27);
    }

    #[test]
    fn a_phase_with_nan_or_infinite_voxels_is_refused_by_name_and_position() {
        let mut v = ramp([6, 5, 4], [1.0, 1.0, 2.0]);
        let g = v.geometry.clone();
        let mut labels = vec![0u8; g.len()];
        labels[g.index(2, 2, 2)] = 2;
        let mask = Volume::new(g.clone(), labels).unwrap();
        check_phase(&v, &mask, &[2], "case_x, phase venous (v.nii)").unwrap();
        v.data[g.index(4, 3, 1)] = f32::NAN;
        v.data[g.index(1, 1, 3)] = f32::INFINITY;
        let e = check_phase(&v, &mask, &[2], "case_x, phase venous (v.nii)").unwrap_err();
        assert!(
            matches!(
                e,
                ImagingError::NonFiniteVoxels {
                    count: 2,
                    first: [4, 3, 1],
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("case_x, phase venous (v.nii): 2 voxels"),
            "{e}"
        );
    }

    #[test]
    fn median_spacing_per_axis() {
        let m = median_spacing(&[[1.0, 0.7, 5.0], [3.0, 0.8, 1.0], [2.0, 0.9, 2.5]]).unwrap();
        assert_eq!(m, [2.0, 0.8, 2.5]);
    }
}
