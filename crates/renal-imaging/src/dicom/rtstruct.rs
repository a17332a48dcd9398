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

use crate::dicom::parse::{err, malformed, DataSet, Fault};
use crate::dicom::tags::{
    CONTOUR_DATA, CONTOUR_SEQUENCE, GEOMETRIC_TYPE, REFERENCED_ROI, ROI_CONTOUR, ROI_NAME,
    ROI_NUMBER, STRUCTURE_SET_ROI,
};
use crate::error::Result;
use crate::labelmap::{precedence, segment_role, LabelMap};
use crate::volume::{Geometry, LabelVolume, Volume};

/// A contour in the slice plane: (i, j) voxel coordinates of its points.
type Polygon = Vec<[f64; 2]>;

/// Rasterises the structure set's kidney, tumor and cyst ROIs on `grid` (slices along axis 2).
pub(crate) fn read(
    path: &Path,
    data: &DataSet,
    grid: &Geometry,
    map: Option<&LabelMap>,
) -> Result<LabelVolume> {
    let e = |d: Fault| err(path, d);
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
        let role = match segment_role(map, n as u32, &[&name])
            .map_err(|d| err(path, format!("ROI {d}")))?
        {
            Some(r) => r,
            None => continue,
        };
        let what = format!("ROI {n} `{name}`");
        let slices = roi_slices(grid, rc).map_err(|d| err(path, format!("{what}, {d}")))?;
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
        return Err(err(
            path,
            "the structure set has no ROIContourSequence (3006,0039)",
        ));
    }
    Volume::new(grid.clone(), out)
}

/// One ROI's contours, grouped by slice, in voxel coordinates.
fn roi_slices(
    grid: &Geometry,
    rc: &DataSet,
) -> std::result::Result<BTreeMap<usize, Vec<Polygon>>, Fault> {
    let mut slices: BTreeMap<usize, Vec<Polygon>> = BTreeMap::new();
    for (c, contour) in rc.seq(CONTOUR_SEQUENCE).iter().enumerate() {
        let at = |d: Fault| d.at(format!("contour {}", c + 1));
        let kind = contour.text(GEOMETRIC_TYPE).unwrap_or_default();
        match kind.as_str() {
            "POINT" => continue,
            "CLOSED_PLANAR" => {}
            other => {
                return Err(at(malformed(format!(
                    "ContourGeometricType `{other}`: only closed planar contours enclose a region"
                ))))
            }
        }
        let pts = contour.numbers(CONTOUR_DATA, "ContourData").map_err(at)?;
        if pts.len() % 3 != 0 || pts.is_empty() {
            return Err(at(malformed(format!(
                "{} coordinates: not a list of points",
                pts.len()
            ))));
        }
        let mut poly = Vec::with_capacity(pts.len() / 3);
        let (mut kmin, mut kmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for (n, p) in pts.chunks_exact(3).enumerate() {
            let v = grid
                .index_of([-p[0], -p[1], p[2]])
                .ok_or_else(|| at(malformed("the CT's affine is singular")))?;
            far_point(n, v, grid.dims).map_err(at)?;
            kmin = kmin.min(v[2]);
            kmax = kmax.max(v[2]);
            poly.push([v[0], v[1]]);
        }
        if kmax - kmin > 0.25 {
            return Err(at(malformed(format!(
                "its points span {:.2} slices: not planar on the referenced CT's slices",
                kmax - kmin
            ))));
        }
        let kc = 0.5 * (kmin + kmax);
        let k = kc.round();
        if (kc - k).abs() > 0.5 - 1e-3 || k < 0.0 || k >= grid.dims[2] as f64 {
            return Err(at(malformed(format!(
                "on no slice of the referenced CT (at slice index {kc:.2}; the CT has slices 0..{})",
                grid.dims[2]
            ))));
        }
        check_extent(&poly, grid.dims).map_err(at)?;
        if poly.len() < 3 {
            // One or two points (a contour traced around a single pixel or a line) enclose
            // no pixel centre.
            continue;
        }
        if let Some((a, b)) = self_intersection(&poly).map_err(at)? {
            return Err(at(malformed(format!(
                "self-intersecting (edges {} and {} cross)",
                a + 1,
                b + 1
            ))));
        }
        slices.entry(k as usize).or_default().push(poly);
    }
    Ok(slices)
}

/// A contour point (continuous voxel index) more than one grid's extent off the grid, on any
/// axis, is a corrupt coordinate: refused naming it, before any work depends on it.
fn far_point(n: usize, v: [f64; 3], dims: [usize; 3]) -> std::result::Result<(), Fault> {
    let near = (0..3).all(|a| {
        let d = dims[a] as f64;
        v[a].is_finite() && (-d..=2.0 * d).contains(&v[a])
    });
    if near {
        Ok(())
    } else {
        Err(malformed(format!(
            "point {} lies at voxel ({:.3e}, {:.3e}, {:.3e}), far off the referenced CT's {}x{}x{} grid: a corrupt coordinate",
            n + 1,
            v[0],
            v[1],
            v[2],
            dims[0],
            dims[1],
            dims[2]
        )))
    }
}

/// Checks a contour's geometry before anything walks it: every point within one grid's
/// width of the referenced CT's slice (a point far off the grid is a corrupt coordinate, and
/// walking an edge to it would take time in proportion to its length), and the outline at
/// most [`MAX_OUTLINE_PER_SIDE`] times the slice's sides long (which bounds the edge walks,
/// the scan-line crossings and the self-intersection check).
fn check_extent(poly: &[[f64; 2]], dims: [usize; 3]) -> std::result::Result<(), Fault> {
    let (w, h) = (dims[0] as f64, dims[1] as f64);
    for (n, q) in poly.iter().enumerate() {
        let inside = q[0].is_finite()
            && q[1].is_finite()
            && (-w..=2.0 * w).contains(&q[0])
            && (-h..=2.0 * h).contains(&q[1]);
        if !inside {
            return Err(malformed(format!(
                "point {} lies at voxel ({:.3e}, {:.3e}), far off the referenced CT's {}x{} slice: a corrupt coordinate",
                n + 1,
                q[0],
                q[1],
                dims[0],
                dims[1]
            )));
        }
    }
    let outline: f64 = (0..poly.len())
        .map(|e| {
            let (a, b) = (poly[e], poly[(e + 1) % poly.len()]);
            (b[0] - a[0]).hypot(b[1] - a[1])
        })
        .sum();
    let max = MAX_OUTLINE_PER_SIDE * (w + h);
    if outline > max {
        return Err(malformed(format!(
            "its outline is {outline:.0} voxels long, over the limit of {max:.0} ({MAX_OUTLINE_PER_SIDE} times the slice's sides): not a contour of this slice"
        )));
    }
    Ok(())
}

/// A contour's outline may be this many times the slice's width plus height (a ring around
/// the whole slice is 2x).
const MAX_OUTLINE_PER_SIDE: f64 = 256.0;

/// Edges through one cell (as wide as the contour's mean edge) at most: more are points
/// crowded far beyond the contour's own spacing, not a drawn outline.
const MAX_EDGES_PER_CELL: usize = 1024;

/// The first pair (lowest indices) of non-adjacent edges that properly cross, if any (edge
/// `i` joins point `i` to the next, the last to the first). Edges are bucketed by the square
/// cells (as wide as the mean edge) they pass through, widened by a cell each way, and only
/// edges sharing a cell are compared: two crossing edges share the cell of their crossing, so
/// the answer is the all-pairs one, in time proportional to the number of points (plus the
/// outline's length in cells) rather than to its square. Points crowded far beyond their
/// mean spacing are refused ([`MAX_EDGES_PER_CELL`]).
fn self_intersection(p: &[[f64; 2]]) -> std::result::Result<Option<(usize, usize)>, Fault> {
    let n = p.len();
    let outline: f64 = (0..n)
        .map(|e| (p[(e + 1) % n][0] - p[e][0]).hypot(p[(e + 1) % n][1] - p[e][1]))
        .sum();
    let cell = (outline / n.max(1) as f64).max(1e-9);
    let q: Vec<[f64; 2]> = p.iter().map(|v| [v[0] / cell, v[1] / cell]).collect();
    let mut cells: Vec<(i64, i64, u32)> = Vec::new();
    for i in 0..n {
        let (a, b) = (q[i], q[(i + 1) % n]);
        let (x0, x1) = (a[0].min(b[0]).floor() as i64, a[0].max(b[0]).floor() as i64);
        for cx in x0..=x1 {
            // The edge's y range within this column (the whole range for a vertical edge).
            let (lo, hi) = if (b[0] - a[0]).abs() < 1e-12 {
                (a[1].min(b[1]), a[1].max(b[1]))
            } else {
                let y = |x: f64| {
                    a[1] + (x.clamp(a[0].min(b[0]), a[0].max(b[0])) - a[0]) * (b[1] - a[1])
                        / (b[0] - a[0])
                };
                let (ya, yb) = (y(cx as f64), y(cx as f64 + 1.0));
                (ya.min(yb), ya.max(yb))
            };
            for cy in lo.floor() as i64 - 1..=hi.floor() as i64 + 1 {
                for dx in -1..=1 {
                    cells.push((cx + dx, cy, i as u32));
                }
            }
        }
    }
    cells.sort_unstable();
    cells.dedup();
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let tol = 1e-9;
    let crosses = |i: usize, j: usize| {
        let (a, b) = (p[i], p[(i + 1) % n]);
        let (c, d) = (p[j], p[(j + 1) % n]);
        let (d1, d2) = (cross(a, b, c), cross(a, b, d));
        let (d3, d4) = (cross(c, d, a), cross(c, d, b));
        ((d1 > tol && d2 < -tol) || (d1 < -tol && d2 > tol))
            && ((d3 > tol && d4 < -tol) || (d3 < -tol && d4 > tol))
    };
    let mut best: Option<(usize, usize)> = None;
    for group in cells.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
        if group.len() > MAX_EDGES_PER_CELL {
            return Err(malformed(format!(
                "more than {MAX_EDGES_PER_CELL} of its edges crowd into one spot of {cell:.2e} voxels: not a drawn outline"
            )));
        }
        for (x, u) in group.iter().enumerate() {
            for v in &group[x + 1..] {
                let (i, j) = (u.2 as usize, v.2 as usize);
                let adjacent = j == i + 1 || (i == 0 && j == n - 1);
                if !adjacent && best.is_none_or(|b| (i, j) < b) && crosses(i, j) {
                    best = Some((i, j));
                }
            }
        }
    }
    Ok(best)
}

/// The geometry checks and rasterisation every contour of a structure set goes through, on
/// contours given in voxel coordinates (for fuzzing, [`crate::fuzzing`]): a contour that is
/// refused is an error, one that crosses itself is skipped; the distinct pixels filled.
pub(crate) fn rasterise_voxel_contours(
    contours: &[Vec<[f64; 3]>],
    dims: [usize; 3],
) -> std::result::Result<usize, Fault> {
    let mut filled = 0;
    for pts in contours {
        for (n, v) in pts.iter().enumerate() {
            far_point(n, *v, dims)?;
        }
        let poly: Polygon = pts.iter().map(|v| [v[0], v[1]]).collect();
        check_extent(&poly, dims)?;
        if poly.len() < 3 || self_intersection(&poly)?.is_some() {
            continue;
        }
        let mut px = fill(&[poly], dims);
        px.sort_unstable();
        px.dedup();
        filled += px.len();
    }
    Ok(filled)
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
    // Only the part over the grid can hold a pixel centre.
    let (lo, hi) = (a[u].min(b[u]).max(-1.0), a[u].max(b[u]).min(dims[u] as f64));
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
    // Each edge's crossings with the scan lines it spans (half-open rule: a vertex on a scan
    // line counts once), gathered per line: work in proportion to the outline, not to the
    // lines times the edges.
    let j1 = j1 as usize;
    let mut xs: Vec<(usize, f64)> = Vec::new();
    for poly in polys {
        for (e, a) in poly.iter().enumerate() {
            let b = poly[(e + 1) % poly.len()];
            let (lo, hi) = (a[1].min(b[1]), a[1].max(b[1]));
            if lo == hi {
                continue;
            }
            // Lines y with lo <= y < hi cross the edge under the half-open rule.
            let first = (lo.ceil().max(j0 as f64)) as usize;
            let mut j = first;
            while j <= j1 && (j as f64) < hi {
                let y = j as f64;
                xs.push((j, a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])));
                j += 1;
            }
        }
    }
    xs.sort_by(|p, q| p.0.cmp(&q.0).then(p.1.total_cmp(&q.1)));
    for line in xs.chunk_by(|p, q| p.0 == q.0) {
        let j = line[0].0;
        for pair in line.chunks_exact(2) {
            let start = pair[0].1.ceil().max(0.0);
            let end = (pair[1].1.ceil() - 1.0).min(dims[0] as f64 - 1.0);
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
        assert_eq!(self_intersection(&square), Ok(None));
        let bow = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        assert_eq!(self_intersection(&bow), Ok(Some((0, 2))));
        // A contour that retraces an edge (a one-pixel-wide spur) does not cross itself.
        let spur = [
            [0.0, 0.0],
            [2.0, 0.0],
            [3.0, 0.0],
            [2.0, 0.0],
            [2.0, 2.0],
            [0.0, 2.0],
        ];
        assert_eq!(self_intersection(&spur), Ok(None));
    }

    /// The bucketed check finds the same first crossing as comparing every pair of edges, on
    /// random polygons (many of which cross themselves) in and beyond a few cells.
    #[test]
    fn the_bucketed_crossing_check_agrees_with_all_pairs() {
        let brute = |p: &[[f64; 2]]| {
            let n = p.len();
            let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
                (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
            };
            for i in 0..n {
                for j in i + 2..n {
                    if i == 0 && j == n - 1 {
                        continue;
                    }
                    let (a, b, c, d) = (p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]);
                    let (d1, d2, d3, d4) = (
                        cross(a, b, c),
                        cross(a, b, d),
                        cross(c, d, a),
                        cross(c, d, b),
                    );
                    if d1 * d2 < 0.0
                        && d3 * d4 < 0.0
                        && d1.abs().min(d2.abs()) > 1e-9
                        && d3.abs().min(d4.abs()) > 1e-9
                    {
                        return Some((i, j));
                    }
                }
            }
            None
        };
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut crossing, mut simple) = (0, 0);
        for trial in 0..3000 {
            let n = 3 + trial % 12;
            let scale = [0.7, 3.0, 40.0][trial % 3];
            let p: Vec<[f64; 2]> = (0..n).map(|_| [next() * scale, next() * scale]).collect();
            let want = brute(&p);
            assert_eq!(self_intersection(&p), Ok(want), "polygon {p:?}");
            if want.is_some() {
                crossing += 1;
            } else {
                simple += 1;
            }
        }
        assert!(
            crossing > 500 && simple > 500,
            "{crossing} crossing, {simple} simple"
        );
    }

    /// A contour of a million points (a fine circle) is checked in linear time; a point far
    /// off the grid is refused before any edge is walked.
    #[test]
    fn huge_and_far_contours_are_bounded() {
        let n = 1_000_000;
        let circle: Vec<[f64; 2]> = (0..n)
            .map(|k| {
                let t = k as f64 / n as f64 * std::f64::consts::TAU;
                [256.0 + 100.0 * t.cos(), 256.0 + 100.0 * t.sin()]
            })
            .collect();
        assert_eq!(check_extent(&circle, [512, 512, 1]), Ok(()));
        assert_eq!(self_intersection(&circle), Ok(None));
        let far = vec![[1.0, 1.0], [1e30, 2.0], [3.0, 5.0]];
        let e = check_extent(&far, [512, 512, 1]).unwrap_err().to_string();
        assert!(e.contains("point 2") && e.contains("far off"), "{e}");
    }
}
