//! Volumes with their geometry.
//!
//! # Axis convention
//! A volume is stored in NIfTI order: voxel `(i, j, k)` sits at linear index
//! `i + nx * (j + ny * k)`, so axis 0 (`i`) varies fastest, exactly as on disk. nibabel shows the
//! same array as `a[i, j, k]`; KiTS23 calls axis 0 the slice axis because its affine maps `i` to
//! the inferior-superior direction. Nothing here assumes that: [`Geometry::axial_axis`] finds the
//! axis that the affine maps closest to the world's superior-inferior axis.
//!
//! The affine maps `(i, j, k, 1)` to world millimetres (NIfTI RAS+). Spacing is the Euclidean norm
//! of each affine column, as nibabel and pyradiomics compute it.

use crate::error::{ImagingError, Result};

/// Shape and voxel-to-world mapping of a 3D grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Geometry {
    /// Number of voxels along axes 0, 1, 2.
    pub dims: [usize; 3],
    /// Rows of the 3x4 affine: `world[r] = sum_c affine[r][c] * ijk[c] + affine[r][3]`.
    pub affine: [[f64; 4]; 3],
}

impl Geometry {
    /// A grid with a diagonal affine (spacing along each axis, origin at zero).
    pub fn with_spacing(dims: [usize; 3], spacing_mm: [f64; 3]) -> Self {
        let mut affine = [[0.0; 4]; 3];
        for (a, row) in affine.iter_mut().enumerate() {
            row[a] = spacing_mm[a];
        }
        Geometry { dims, affine }
    }

    /// Voxel spacing in mm along each axis: the column norms of the affine.
    pub fn spacing_mm(&self) -> [f64; 3] {
        let mut s = [0.0; 3];
        for (c, sc) in s.iter_mut().enumerate() {
            *sc = (0..3)
                .map(|r| self.affine[r][c] * self.affine[r][c])
                .sum::<f64>()
                .sqrt();
        }
        s
    }

    /// Total number of voxels.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// True when the grid holds no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Volume of one voxel in mm^3.
    pub fn voxel_volume_mm3(&self) -> f64 {
        // The determinant of the 3x3 part: the exact voxel volume, also for sheared grids.
        let m = &self.affine;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        det.abs()
    }

    /// The voxel axis whose direction is closest to the world's S-I (z) axis: the axial axis.
    ///
    /// Returns an error when the grid is oblique enough that no axis is clearly axial (the best
    /// axis is more than 45 degrees from S-I), since an "axial diameter" would then be meaningless.
    pub fn axial_axis(&self) -> Result<usize> {
        let spacing = self.spacing_mm();
        let mut best = (0usize, -1.0f64);
        for (c, &sc) in spacing.iter().enumerate() {
            if sc <= 0.0 || !sc.is_finite() {
                return Err(ImagingError::InvalidGeometry {
                    what: "affine".into(),
                    detail: format!("axis {c} has zero or non-finite spacing {sc}"),
                });
            }
            let cos = (self.affine[2][c] / sc).abs();
            if cos > best.1 {
                best = (c, cos);
            }
        }
        if best.1 < std::f64::consts::FRAC_1_SQRT_2 {
            return Err(ImagingError::InvalidGeometry {
                what: "affine".into(),
                detail: format!(
                    "no voxel axis is within 45 degrees of the S-I axis (best: axis {}, cos {:.3})",
                    best.0, best.1
                ),
            });
        }
        Ok(best.0)
    }

    /// Linear index of voxel `(i, j, k)`.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// World coordinates (mm) of a (possibly fractional) voxel position.
    pub fn world(&self, ijk: [f64; 3]) -> [f64; 3] {
        let mut w = [0.0; 3];
        for (r, wr) in w.iter_mut().enumerate() {
            *wr = self.affine[r][3]
                + self.affine[r][0] * ijk[0]
                + self.affine[r][1] * ijk[1]
                + self.affine[r][2] * ijk[2];
        }
        w
    }

    /// Checks that `other` is the same grid (shape, spacing and affine within `tol_mm`).
    /// The continuous voxel index of a RAS point (the inverse of [`Geometry::world`]); `None`
    /// when the affine is singular.
    pub fn index_of(&self, p: [f64; 3]) -> Option<[f64; 3]> {
        let a = &self.affine;
        let m = [
            [a[0][0], a[0][1], a[0][2]],
            [a[1][0], a[1][1], a[1][2]],
            [a[2][0], a[2][1], a[2][2]],
        ];
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let d = [p[0] - a[0][3], p[1] - a[1][3], p[2] - a[2][3]];
        // Cramer's rule: column c of m replaced by d.
        let solve = |c: usize| {
            let mut n = m;
            for r in 0..3 {
                n[r][c] = d[r];
            }
            (n[0][0] * (n[1][1] * n[2][2] - n[1][2] * n[2][1])
                - n[0][1] * (n[1][0] * n[2][2] - n[1][2] * n[2][0])
                + n[0][2] * (n[1][0] * n[2][1] - n[1][1] * n[2][0]))
                / det
        };
        Some([solve(0), solve(1), solve(2)])
    }

    pub fn check_same_grid(&self, other: &Geometry, what: &str, tol_mm: f64) -> Result<()> {
        if self.dims != other.dims {
            return Err(ImagingError::GeometryMismatch {
                what: what.to_string(),
                detail: format!("shape {:?} differs from {:?}", other.dims, self.dims),
            });
        }
        let (a, b) = (self.spacing_mm(), other.spacing_mm());
        for c in 0..3 {
            if (a[c] - b[c]).abs() > tol_mm {
                return Err(ImagingError::GeometryMismatch {
                    what: what.to_string(),
                    detail: format!("spacing {b:?} mm differs from {a:?} mm"),
                });
            }
        }
        for r in 0..3 {
            for c in 0..4 {
                if (self.affine[r][c] - other.affine[r][c]).abs() > tol_mm {
                    return Err(ImagingError::GeometryMismatch {
                        what: what.to_string(),
                        detail: format!(
                            "affine differs at row {r}, column {c}: {} vs {}",
                            other.affine[r][c], self.affine[r][c]
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A 3D array with its geometry; see the module docs for the axis order.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    pub geometry: Geometry,
    pub data: Vec<T>,
}

/// A label map from the values a reader visits (`each` calls its argument with every voxel's
/// index and value): each must be an integer in 0..=255; the first that is not is an error
/// naming the file, the voxel index and the value.
pub(crate) fn labels_from_values(
    path: &std::path::Path,
    geometry: Geometry,
    each: impl FnOnce(&mut dyn FnMut(usize, f64)),
) -> Result<Volume<u8>> {
    let mut out = vec![0u8; geometry.len()];
    let mut bad: Option<(usize, f64)> = None;
    each(&mut |i, v| {
        if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
            out[i] = v as u8;
        } else if bad.is_none() {
            bad = Some((i, v));
        }
    });
    if let Some((index, value)) = bad {
        return Err(ImagingError::InvalidLabel {
            path: path.to_path_buf(),
            value,
            index,
        });
    }
    Volume::new(geometry, out)
}

impl<T: Copy> Volume<T> {
    /// Wraps data, checking that its length matches the geometry.
    pub fn new(geometry: Geometry, data: Vec<T>) -> Result<Self> {
        if data.len() != geometry.len() {
            return Err(ImagingError::InvalidGeometry {
                what: "volume".into(),
                detail: format!(
                    "{} values for a grid of {:?} ({} voxels)",
                    data.len(),
                    geometry.dims,
                    geometry.len()
                ),
            });
        }
        Ok(Volume { geometry, data })
    }

    /// The value at voxel `(i, j, k)`.
    #[inline]
    pub fn get(&self, i: usize, j: usize, k: usize) -> T {
        self.data[self.geometry.index(i, j, k)]
    }
}

/// A label map (0 = background); KiTS23 uses 1 kidney, 2 tumor, 3 cyst.
pub type LabelVolume = Volume<u8>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_is_column_norm_and_axial_axis_follows_affine() {
        // Axis 0 -> world z (S-I), axis 1 -> -y, axis 2 -> -x: the KiTS23 layout.
        let g = Geometry {
            dims: [10, 20, 30],
            affine: [
                [0.0, 0.0, -0.8, 1.0],
                [0.0, -0.8, 0.0, 2.0],
                [-2.5, 0.0, 0.0, 3.0],
            ],
        };
        assert_eq!(g.spacing_mm(), [2.5, 0.8, 0.8]);
        assert_eq!(g.axial_axis().unwrap(), 0);
        assert!((g.voxel_volume_mm3() - 1.6).abs() < 1e-12);
        // Same voxels, slice axis last.
        let g2 = Geometry::with_spacing([10, 20, 30], [0.8, 0.8, 2.5]);
        assert_eq!(g2.axial_axis().unwrap(), 2);
    }

    #[test]
    fn oblique_grid_has_no_axial_axis() {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let g = Geometry {
            dims: [4, 4, 4],
            affine: [
                [1.0, 0.0, 0.0, 0.0],
                [0.0, 0.6, s, 0.0],
                [0.0, 0.6, 0.5, 0.0],
            ],
        };
        assert!(g.axial_axis().is_err());
    }

    #[test]
    fn grid_mismatch_names_the_difference() {
        let a = Geometry::with_spacing([4, 4, 4], [1.0, 1.0, 1.0]);
        let b = Geometry::with_spacing([4, 4, 5], [1.0, 1.0, 1.0]);
        let c = Geometry::with_spacing([4, 4, 4], [1.0, 1.0, 2.0]);
        let e = a.check_same_grid(&b, "case_1 mask", 1e-3).unwrap_err();
        assert!(e.to_string().contains("case_1 mask") && e.to_string().contains("shape"));
        let e = a.check_same_grid(&c, "case_1 mask", 1e-3).unwrap_err();
        assert!(e.to_string().contains("spacing"));
    }
}
