//! Exact maximum distances over point sets on a lattice.
//!
//! The farthest pair of a point set is a pair of vertices of its convex hull, and the convex hull
//! is preserved by per-axis scaling. So hulls are computed on exact integer coordinates and
//! only the distances are taken in millimetres.

/// Convex hull of 2D integer points (Andrew's monotone chain), strict vertices only.
pub fn hull_2d(points: &mut [[i64; 2]]) -> Vec<[i64; 2]> {
    points.sort_unstable();
    let n = points.len();
    if n <= 2 {
        let mut v = points.to_vec();
        v.dedup();
        return v;
    }
    let cross = |o: [i64; 2], a: [i64; 2], b: [i64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut h: Vec<[i64; 2]> = Vec::with_capacity(2 * n);
    for &p in points.iter() {
        while h.len() >= 2 && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0 {
            h.pop();
        }
        h.push(p);
    }
    let lower = h.len() + 1;
    for &p in points.iter().rev().skip(1) {
        while h.len() >= lower && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0 {
            h.pop();
        }
        h.push(p);
    }
    h.pop();
    h.dedup();
    h
}

/// Largest Euclidean distance (mm) between two of `points` (2D lattice coordinates scaled by
/// `scale`); 0 for fewer than two distinct points.
pub fn max_distance_2d(points: &mut [[i64; 2]], scale: [f64; 2]) -> f64 {
    let h = hull_2d(points);
    let mut best = 0.0f64;
    for a in 0..h.len() {
        for b in a + 1..h.len() {
            let dx = (h[a][0] - h[b][0]) as f64 * scale[0];
            let dy = (h[a][1] - h[b][1]) as f64 * scale[1];
            best = best.max(dx * dx + dy * dy);
        }
    }
    best.sqrt()
}

/// Keeps only the points that are convex-hull vertices of their plane, for planes of constant
/// coordinate `axis`. A vertex of the 3D hull is a vertex of the hull of any plane through it,
/// so this never drops a point of the farthest pair.
fn prune_by_planes(points: Vec<[i64; 3]>, axis: usize) -> Vec<[i64; 3]> {
    let (a, b) = match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let mut pts = points;
    pts.sort_unstable_by_key(|p| p[axis]);
    let mut out = Vec::new();
    let mut start = 0;
    while start < pts.len() {
        let c = pts[start][axis];
        let end = start + pts[start..].iter().take_while(|p| p[axis] == c).count();
        let mut plane: Vec<[i64; 2]> = pts[start..end].iter().map(|p| [p[a], p[b]]).collect();
        for q in hull_2d(&mut plane) {
            let mut p = [0i64; 3];
            p[axis] = c;
            p[a] = q[0];
            p[b] = q[1];
            out.push(p);
        }
        start = end;
    }
    out
}

/// Maximum distances over a 3D lattice point set: `[d_fixed0, d_fixed1, d_fixed2, d_3d]`, where
/// `d_fixedA` is the largest distance between two points with equal coordinate along axis `A`
/// (a "2D diameter" in the plane of the other two axes) and `d_3d` the overall largest distance.
/// Coordinates are multiplied by `scale` (mm per lattice unit) per axis.
pub fn max_distances_3d(points: &[[i64; 3]], scale: [f64; 3]) -> [f64; 4] {
    let mut out = [0.0f64; 4];
    for (axis, slot) in out.iter_mut().take(3).enumerate() {
        let (a, b) = match axis {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        };
        let mut pts = points.to_vec();
        pts.sort_unstable_by_key(|p| p[axis]);
        let mut start = 0;
        while start < pts.len() {
            let c = pts[start][axis];
            let end = start + pts[start..].iter().take_while(|p| p[axis] == c).count();
            let mut plane: Vec<[i64; 2]> = pts[start..end].iter().map(|p| [p[a], p[b]]).collect();
            *slot = (*slot).max(max_distance_2d(&mut plane, [scale[a], scale[b]]));
            start = end;
        }
    }
    let mut cand = prune_by_planes(points.to_vec(), 0);
    cand = prune_by_planes(cand, 1);
    cand = prune_by_planes(cand, 2);
    cand.sort_unstable();
    cand.dedup();
    let mut best = 0.0f64;
    for i in 0..cand.len() {
        for j in i + 1..cand.len() {
            let mut d = 0.0;
            for ax in 0..3 {
                let t = (cand[i][ax] - cand[j][ax]) as f64 * scale[ax];
                d += t * t;
            }
            best = best.max(d);
        }
    }
    out[3] = best.sqrt();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all pairs: the independent reference.
    fn brute(points: &[[i64; 3]], scale: [f64; 3]) -> [f64; 4] {
        let mut out = [0.0f64; 4];
        for i in 0..points.len() {
            for j in i + 1..points.len() {
                let d: f64 = (0..3)
                    .map(|a| ((points[i][a] - points[j][a]) as f64 * scale[a]).powi(2))
                    .sum();
                for a in 0..3 {
                    if points[i][a] == points[j][a] {
                        out[a] = out[a].max(d);
                    }
                }
                out[3] = out[3].max(d);
            }
        }
        out.map(f64::sqrt)
    }

    #[test]
    fn hull_of_square_with_interior_and_collinear_points() {
        let mut p = vec![[0, 0], [2, 0], [1, 0], [2, 2], [0, 2], [1, 1], [0, 1]];
        let h = hull_2d(&mut p);
        assert_eq!(h.len(), 4);
        assert!((max_distance_2d(&mut p, [1.0, 1.0]) - 8f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn pruned_search_matches_brute_force_on_pseudo_random_blobs() {
        // A deterministic LCG gives irregular point clouds.
        let mut s: u64 = 12345;
        let mut rnd = |m: i64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % m as u64) as i64
        };
        for trial in 0..20 {
            let n = 50 + trial * 20;
            let pts: Vec<[i64; 3]> = (0..n).map(|_| [rnd(9), rnd(15), rnd(15)]).collect();
            let scale = [2.5, 0.7, 0.9];
            let fast = max_distances_3d(&pts, scale);
            let slow = brute(&pts, scale);
            for a in 0..4 {
                assert!(
                    (fast[a] - slow[a]).abs() < 1e-12,
                    "trial {trial} axis {a}: {fast:?} vs {slow:?}"
                );
            }
        }
    }
}
