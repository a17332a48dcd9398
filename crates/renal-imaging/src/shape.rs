//! 3D shape features of a binary mask, with pyradiomics' definitions.
//!
//! # References
//! van Griethuysen JJM et al. (2017). Computational radiomics system to decode the radiographic
//! phenotype. Cancer Research 77(21):e104-e107 (pyradiomics; shape feature definitions).

use crate::hull::{hull_2d, max_distances_3d};
use crate::mask::BinaryMask;
use crate::mesh::{mesh_vertices2, mesh_volume_area};

/// Shape features of one mask. Lengths in mm, areas in mm^2, volumes in mm^3 (`*_ml` in ml).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShapeFeatures {
    pub voxel_count: usize,
    pub voxel_volume_mm3: f64,
    pub mesh_volume_mm3: f64,
    pub surface_area_mm2: f64,
    pub surface_volume_ratio: f64,
    pub sphericity: f64,
    pub maximum_3d_diameter_mm: f64,
    /// Largest distance between mesh vertices in one plane of constant coordinate along axis
    /// 0, 1, 2 (pyradiomics' 2D diameters, named by the axis held fixed).
    pub maximum_2d_diameter_mm: [f64; 3],
    pub major_axis_length_mm: f64,
    pub minor_axis_length_mm: f64,
    pub least_axis_length_mm: f64,
    pub elongation: f64,
    pub flatness: f64,
}

impl ShapeFeatures {
    /// Voxel volume in ml.
    pub fn voxel_volume_ml(&self) -> f64 {
        self.voxel_volume_mm3 / 1000.0
    }
    /// Mesh volume in ml.
    pub fn mesh_volume_ml(&self) -> f64 {
        self.mesh_volume_mm3 / 1000.0
    }
}

/// Computes all shape features of a non-empty mask; `spacing` is mm per voxel along each axis.
pub fn shape_features(mask: &BinaryMask, spacing: [f64; 3]) -> ShapeFeatures {
    let voxel_count = mask.count();
    let voxel_volume_mm3 = voxel_count as f64 * spacing[0] * spacing[1] * spacing[2];
    let (mesh_volume_mm3, surface_area_mm2) = mesh_volume_area(mask, spacing);
    let verts = mesh_vertices2(mask);
    let half = spacing.map(|s| s / 2.0);
    let d = max_distances_3d(&verts, half);
    let ev = covariance_eigenvalues_mm2(mask, spacing);
    let sqrt = |x: f64| x.max(0.0).sqrt();
    ShapeFeatures {
        voxel_count,
        voxel_volume_mm3,
        mesh_volume_mm3,
        surface_area_mm2,
        surface_volume_ratio: surface_area_mm2 / mesh_volume_mm3,
        sphericity: (36.0 * std::f64::consts::PI * mesh_volume_mm3 * mesh_volume_mm3).cbrt()
            / surface_area_mm2,
        maximum_3d_diameter_mm: d[3],
        maximum_2d_diameter_mm: [d[0], d[1], d[2]],
        major_axis_length_mm: 4.0 * sqrt(ev[2]),
        minor_axis_length_mm: 4.0 * sqrt(ev[1]),
        least_axis_length_mm: 4.0 * sqrt(ev[0]),
        elongation: sqrt(ev[1] / ev[2]),
        flatness: sqrt(ev[0] / ev[2]),
    }
}

/// Eigenvalues (ascending, mm^2) of the population covariance of the voxel-centre coordinates.
pub fn covariance_eigenvalues_mm2(mask: &BinaryMask, spacing: [f64; 3]) -> [f64; 3] {
    let vox = mask.voxels();
    let n = vox.len().max(1) as f64;
    let mut mean = [0.0f64; 3];
    for v in &vox {
        for a in 0..3 {
            mean[a] += v[a] as f64;
        }
    }
    mean = mean.map(|m| m / n);
    // Two passes (centred sums) keep 1e-12 relative accuracy for millions of voxels.
    let mut c = [[0.0f64; 3]; 3];
    for v in &vox {
        let d = [
            (v[0] as f64 - mean[0]) * spacing[0],
            (v[1] as f64 - mean[1]) * spacing[1],
            (v[2] as f64 - mean[2]) * spacing[2],
        ];
        for a in 0..3 {
            for b in a..3 {
                c[a][b] += d[a] * d[b];
            }
        }
    }
    for a in 0..3 {
        for b in a..3 {
            c[a][b] /= n;
            c[b][a] = c[a][b];
        }
    }
    let mut e = symmetric_eigenvalues_3x3(c);
    e.sort_by(f64::total_cmp);
    e
}

/// Eigenvalues of a symmetric 3x3 matrix by cyclic Jacobi rotations (accurate to rounding).
fn symmetric_eigenvalues_3x3(mut a: [[f64; 3]; 3]) -> [f64; 3] {
    for _sweep in 0..64 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        let diag = a[0][0].abs() + a[1][1].abs() + a[2][2].abs();
        if off <= f64::EPSILON * 1e-3 * diag || off == 0.0 {
            break;
        }
        for (p, q) in [(0usize, 1usize), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let cs = 1.0 / (t * t + 1.0).sqrt();
            let sn = t * cs;
            // A <- J^T A J with J the rotation in the (p, q) plane.
            for k in 0..3 {
                let (akp, akq) = (a[k][p], a[k][q]);
                a[k][p] = cs * akp - sn * akq;
                a[k][q] = sn * akp + cs * akq;
            }
            for k in 0..3 {
                let (apk, aqk) = (a[p][k], a[q][k]);
                a[p][k] = cs * apk - sn * aqk;
                a[q][k] = sn * apk + cs * aqk;
            }
        }
    }
    [a[0][0], a[1][1], a[2][2]]
}

/// The largest in-plane distance between two voxel centres of `mask` within one slice of the
/// `axial` axis, in mm, and the slice index (full-grid coordinates) where it is reached (first on
/// ties). Voxel-centre convention: no half-voxel margins are added.
pub fn axial_diameter_mm(mask: &BinaryMask, spacing: [f64; 3], axial: usize) -> (f64, usize) {
    let (u, v) = match axial {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let mut per_slice: Vec<Vec<[i64; 2]>> = vec![Vec::new(); mask.dims[axial]];
    for p in mask.voxels() {
        per_slice[p[axial]].push([p[u] as i64, p[v] as i64]);
    }
    let mut best = (0.0f64, mask.origin[axial]);
    for (s, pts) in per_slice.iter_mut().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let h = hull_2d(pts);
        let mut d2 = 0.0f64;
        for a in 0..h.len() {
            for b in a + 1..h.len() {
                let dx = (h[a][0] - h[b][0]) as f64 * spacing[u];
                let dy = (h[a][1] - h[b][1]) as f64 * spacing[v];
                d2 = d2.max(dx * dx + dy * dy);
            }
        }
        let d = d2.sqrt();
        if d > best.0 {
            best = (d, mask.origin[axial] + s);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_a_known_matrix() {
        // [[2,1,0],[1,2,0],[0,0,5]] has eigenvalues 1, 3, 5.
        let mut e = symmetric_eigenvalues_3x3([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        e.sort_by(f64::total_cmp);
        for (x, y) in e.iter().zip([1.0, 3.0, 5.0]) {
            assert!((x - y).abs() < 1e-14, "{e:?}");
        }
    }

    #[test]
    fn rod_axis_lengths_match_the_uniform_variance() {
        // A 1x1xN rod: variance along the rod (N^2-1)/12 * s^2; the other two are 0.
        let n = 9;
        let m = BinaryMask {
            dims: [1, 1, n],
            origin: [0; 3],
            data: vec![true; n],
        };
        let f = shape_features(&m, [1.0, 1.0, 2.0]);
        let var = ((n * n - 1) as f64 / 12.0) * 4.0;
        assert!((f.major_axis_length_mm - 4.0 * var.sqrt()).abs() < 1e-12);
        assert_eq!(f.least_axis_length_mm, 0.0);
        assert_eq!(f.voxel_count, n);
        // Max 3D diameter: vertices from -0.5 to n-0.5 voxels along the rod.
        assert!((f.maximum_3d_diameter_mm - (n as f64) * 2.0).abs() < 1e-12);
    }

    #[test]
    fn axial_diameter_of_a_rectangle() {
        // A 4x3 rectangle in slice 1 of axis 2 with spacing (0.5, 2): diagonal of 1.5 x 4 mm.
        let dims = [4, 3, 2];
        let mut data = vec![false; 24];
        for j in 0..3 {
            for i in 0..4 {
                data[i + 4 * (j + 3)] = true;
            }
        }
        let m = BinaryMask {
            dims,
            origin: [0, 0, 5],
            data,
        };
        let (d, s) = axial_diameter_mm(&m, [0.5, 2.0, 3.0], 2);
        assert!((d - (1.5f64.powi(2) + 4.0f64.powi(2)).sqrt()).abs() < 1e-12);
        assert_eq!(s, 6);
    }
}
