//! RT Structure Sets: closed planar contours rasterised on the referenced CT's grid.
//!
//! Each contour's points (patient LPS mm) are mapped to the CT's continuous voxel index; a
//! contour belongs to the slice its points lie on, matched within half the slice spacing
//! (points spread over more than a quarter of a slice are not planar on the CT's slices). A
//! pixel is inside when its centre is inside the contours of its slice by the even-odd rule,
//! so a contour inside another is a hole, as treatment-planning systems draw them; a centre
//! on a contour (within 1e-3 voxel) is inside, so that contours traced through the boundary
//! pixels' centres (rt-utils, and most mask-to-RTSTRUCT exporters, draw them so) give back
//! the mask they were traced from, instead of a boundary decided by rounding noise. Open
//! contours, self-intersecting contours, contours on no slice and contours off the grid are
//! errors naming the ROI and the contour; point markers, and contours of one or two points
//! (which enclose no pixel centre), add nothing. Overlapping ROIs resolve
//! by [`crate::labelmap::precedence`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::dicom_parse::{err, DataSet, Tag};
use crate::error::Result;
use crate::labelmap::{precedence, segment_role, LabelMap};
use crate::volume::{Geometry, LabelVolume, Volume};

const STRUCTURE_SET_ROI: Tag = (0x3006, 0x0020);
const ROI_NUMBER: Tag = (0x3006, 0x0022);
const ROI_NAME: Tag = (0x3006, 0x0026);
const ROI_CONTOUR: Tag = (0x3006, 0x0039);
const REFERENCED_ROI: Tag = (0x3006, 0x0084);
const CONTOUR_SEQUENCE: Tag = (0x3006, 0x0040);
const GEOMETRIC_TYPE: Tag = (0x3006, 0x0042);
const CONTOUR_DATA: Tag = (0x3006, 0x0050);

/// A contour in the slice plane: (i, j) voxel coordinates of its points.
type Polygon = Vec<[f64; 2]>;

/// Rasterises the structure set's kidney, tumor and cyst ROIs on `grid` (slices along axis 2).
pub(crate) fn read(
    path: &Path,
    data: &DataSet,
    grid: &Geometry,
    map: Option<&LabelMap>,
) -> Result<LabelVolume> {
    let e = |d: String| err(path, d);
    let mut names = BTreeMap::new();
    for roi in data.seq(STRUCTURE_SET_ROI) {
        let n = roi.int(ROI_NUMBER, "ROINumber").map_err(e)?;
        names.insert(n, roi.text(ROI_NAME).unwrap_or_default());
    }
    let mut out = vec![0u8; grid.len()];
    let mut any = false;
    for rc in data.seq(ROI_CONTOUR) {
        let n = rc.int(REFERENCED_ROI, "ReferencedROINumber").map_err(e)?;
        let name = names.get(&n).cloned().unwrap_or_default();
        let role = match segment_role(map, n as u32, &[&name]).map_err(|d| e(format!("ROI {d}")))? {
            Some(r) => r,
            None => continue,
        };
        let what = format!("ROI {n} `{name}`");
        let slices = roi_slices(grid, rc).map_err(|d| e(format!("{what}, {d}")))?;
        for (k, polys) in slices {
            for (i, j) in fill(&polys, grid.dims) {
                let v = grid.index(i, j, k);
                any = true;
                if precedence(role) > precedence(out[v]) {
                    out[v] = role;
                }
            }
        }
    }
    if !any && data.seq(ROI_CONTOUR).is_empty() {
        return Err(e(
            "the structure set has no ROIContourSequence (3006,0039)".into()
        ));
    }
    Volume::new(grid.clone(), out)
}

/// One ROI's contours, grouped by slice, in voxel coordinates.
fn roi_slices(
    grid: &Geometry,
    rc: &DataSet,
) -> std::result::Result<BTreeMap<usize, Vec<Polygon>>, String> {
    let mut slices: BTreeMap<usize, Vec<Polygon>> = BTreeMap::new();
    for (c, contour) in rc.seq(CONTOUR_SEQUENCE).iter().enumerate() {
        let at = |d: String| format!("contour {}: {d}", c + 1);
        let kind = contour.text(GEOMETRIC_TYPE).unwrap_or_default();
        match kind.as_str() {
            "POINT" => continue,
            "CLOSED_PLANAR" => {}
            other => {
                return Err(at(format!(
                    "ContourGeometricType `{other}`: only closed planar contours enclose a region"
                )))
            }
        }
        let pts = contour.numbers(CONTOUR_DATA, "ContourData").map_err(at)?;
        if pts.len() % 3 != 0 || pts.is_empty() {
            return Err(at(format!(
                "{} coordinates: not a list of points",
                pts.len()
            )));
        }
        let mut poly = Vec::with_capacity(pts.len() / 3);
        let (mut kmin, mut kmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in pts.chunks_exact(3) {
            let v = grid
                .index_of([-p[0], -p[1], p[2]])
                .ok_or_else(|| at("the CT's affine is singular".into()))?;
            kmin = kmin.min(v[2]);
            kmax = kmax.max(v[2]);
            poly.push([v[0], v[1]]);
        }
        if kmax - kmin > 0.25 {
            return Err(at(format!(
                "its points span {:.2} slices: not planar on the referenced CT's slices",
                kmax - kmin
            )));
        }
        let kc = 0.5 * (kmin + kmax);
        let k = kc.round();
        if (kc - k).abs() > 0.5 - 1e-3 || k < 0.0 || k >= grid.dims[2] as f64 {
            return Err(at(format!(
                "on no slice of the referenced CT (at slice index {kc:.2}; the CT has slices 0..{})",
                grid.dims[2]
            )));
        }
        if poly.len() < 3 {
            // One or two points (a contour traced around a single pixel or a line) enclose
            // no pixel centre.
            continue;
        }
        if let Some((a, b)) = self_intersection(&poly) {
            return Err(at(format!(
                "self-intersecting (edges {} and {} cross)",
                a + 1,
                b + 1
            )));
        }
        slices.entry(k as usize).or_default().push(poly);
    }
    Ok(slices)
}

/// The first pair of non-adjacent edges that properly cross, if any (edge `i` joins point `i`
/// to the next, the last to the first).
fn self_intersection(p: &[[f64; 2]]) -> Option<(usize, usize)> {
    let n = p.len();
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let tol = 1e-9;
    for i in 0..n {
        let (a, b) = (p[i], p[(i + 1) % n]);
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue; // adjacent through the closing edge
            }
            let (c, d) = (p[j], p[(j + 1) % n]);
            let (d1, d2) = (cross(a, b, c), cross(a, b, d));
            let (d3, d4) = (cross(c, d, a), cross(c, d, b));
            if ((d1 > tol && d2 < -tol) || (d1 < -tol && d2 > tol))
                && ((d3 > tol && d4 < -tol) || (d3 < -tol && d4 > tol))
            {
                return Some((i, j));
            }
        }
    }
    None
}

/// Pixel centres closer than this (in voxels) to a contour lie on it.
const ON_CONTOUR: f64 = 1e-3;

/// The pixel centres on an edge (within [`ON_CONTOUR`]), walking its longer axis.
fn on_edge(a: [f64; 2], b: [f64; 2], dims: [usize; 3], out: &mut Vec<(usize, usize)>) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    // Walk the axis along which the edge is longer; `u` is that axis, `v` the other.
    let (u, v) = if dx.abs() >= dy.abs() { (0, 1) } else { (1, 0) };
    let (du, dv) = if u == 0 { (dx, dy) } else { (dy, dx) };
    if du.abs() < 1e-12 {
        // A degenerate edge (a repeated point).
        if (a[0] - a[0].round()).abs() <= ON_CONTOUR && (a[1] - a[1].round()).abs() <= ON_CONTOUR {
            push_inside(a[0].round(), a[1].round(), dims, out);
        }
        return;
    }
    let (lo, hi) = (a[u].min(b[u]), a[u].max(b[u]));
    let mut t = (lo - ON_CONTOUR).ceil();
    while t <= hi + ON_CONTOUR {
        let w = a[v] + (t - a[u]) * dv / du;
        if (w - w.round()).abs() <= ON_CONTOUR {
            let (i, j) = if u == 0 {
                (t, w.round())
            } else {
                (w.round(), t)
            };
            push_inside(i, j, dims, out);
        }
        t += 1.0;
    }
}

fn push_inside(i: f64, j: f64, dims: [usize; 3], out: &mut Vec<(usize, usize)>) {
    if i >= 0.0 && j >= 0.0 && i < dims[0] as f64 && j < dims[1] as f64 {
        out.push((i as usize, j as usize));
    }
}

/// The pixels (i, j) whose centres are inside `polys` by the even-odd rule, or on one of
/// their edges (contours traced through boundary pixels' centres, as mask-to-contour tools
/// draw them, give back the mask), within the grid. May list a pixel twice.
fn fill(polys: &[Polygon], dims: [usize; 3]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for poly in polys {
        for (e, a) in poly.iter().enumerate() {
            on_edge(*a, poly[(e + 1) % poly.len()], dims, &mut out);
        }
    }
    let (jmin, jmax) = polys
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), q| {
            (lo.min(q[1]), hi.max(q[1]))
        });
    let j0 = jmin.ceil().max(0.0) as usize;
    let j1 = (jmax.floor().min(dims[1] as f64 - 1.0)).max(-1.0);
    if j1 < j0 as f64 {
        return out;
    }
    let mut xs = Vec::new();
    for j in j0..=j1 as usize {
        let y = j as f64;
        xs.clear();
        for poly in polys {
            for (e, a) in poly.iter().enumerate() {
                let b = poly[(e + 1) % poly.len()];
                // Half-open rule: a vertex on the scan line counts once.
                if (a[1] <= y) != (b[1] <= y) {
                    xs.push(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
                }
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            let start = pair[0].ceil().max(0.0);
            let end = (pair[1].ceil() - 1.0).min(dims[0] as f64 - 1.0);
            let mut i = start;
            while i <= end {
                out.push((i as usize, j));
                i += 1.0;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_with_a_hole_fills_by_even_odd() {
        let outer = vec![[0.5, 0.5], [6.5, 0.5], [6.5, 6.5], [0.5, 6.5]];
        let hole = vec![[2.5, 2.5], [4.5, 2.5], [4.5, 4.5], [2.5, 4.5]];
        let set = |p: Vec<(usize, usize)>| p.into_iter().collect::<std::collections::BTreeSet<_>>();
        let px = set(fill(std::slice::from_ref(&outer), [10, 10, 1]));
        assert_eq!(px.len(), 36); // centres 1..=6 on both axes
        let px = set(fill(&[outer, hole], [10, 10, 1]));
        assert_eq!(px.len(), 32); // minus centres 3..=4 on both axes
        assert!(!px.contains(&(3, 3)) && px.contains(&(2, 2)));
        // A contour through pixel centres includes them; its holes' rims too.
        let through = vec![[1.0, 1.0], [4.0, 1.0], [4.0, 3.0], [1.0, 3.0]];
        let px = set(fill(&[through], [10, 10, 1]));
        assert_eq!(px.len(), 12); // i in 1..=4, j in 1..=3
        let diagonal = vec![[0.0, 0.0], [2.0, 2.0], [0.0, 2.0]];
        let px = set(fill(&[diagonal], [10, 10, 1]));
        assert_eq!(
            px,
            [(0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2)]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn a_bow_tie_crosses_itself_and_a_square_does_not() {
        let square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert_eq!(self_intersection(&square), None);
        let bow = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        assert_eq!(self_intersection(&bow), Some((0, 2)));
        // A contour that retraces an edge (a one-pixel-wide spur) does not cross itself.
        let spur = [
            [0.0, 0.0],
            [2.0, 0.0],
            [3.0, 0.0],
            [2.0, 0.0],
            [2.0, 2.0],
            [0.0, 2.0],
        ];
        assert_eq!(self_intersection(&spur), None);
    }
}
