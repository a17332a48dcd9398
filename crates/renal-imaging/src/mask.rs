//! Binary masks cropped to their bounding box, and 26-connected components.

use crate::volume::{Geometry, LabelVolume};

/// A binary mask stored over its bounding box; `origin` is the box's first voxel in the full grid.
/// Axis order as in [`crate::volume`] (axis 0 fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryMask {
    pub dims: [usize; 3],
    pub origin: [usize; 3],
    pub data: Vec<bool>,
}

impl BinaryMask {
    /// Number of set voxels.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&v| v).count()
    }

    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// True when voxel `(i, j, k)` (box coordinates, may be out of the box) is set.
    #[inline]
    pub fn at(&self, i: isize, j: isize, k: isize) -> bool {
        if i < 0 || j < 0 || k < 0 {
            return false;
        }
        let (i, j, k) = (i as usize, j as usize, k as usize);
        if i >= self.dims[0] || j >= self.dims[1] || k >= self.dims[2] {
            return false;
        }
        self.data[self.index(i, j, k)]
    }

    /// Box coordinates of every set voxel, in storage order.
    pub fn voxels(&self) -> Vec<[usize; 3]> {
        let mut out = Vec::new();
        for k in 0..self.dims[2] {
            for j in 0..self.dims[1] {
                for i in 0..self.dims[0] {
                    if self.data[self.index(i, j, k)] {
                        out.push([i, j, k]);
                    }
                }
            }
        }
        out
    }

    /// Builds the mask of `labels == label`, cropped to its bounding box; `None` when empty.
    pub fn from_labels(labels: &LabelVolume, label: u8) -> Option<Self> {
        let stats = LabelStats::compute(labels, label);
        let (lo, hi) = stats.bbox?;
        Some(Self::from_box(
            &labels.geometry,
            &labels.data,
            lo,
            hi,
            |v| v == label,
        ))
    }

    /// The mask of voxels satisfying `pred` inside the box `lo..=hi` (full-grid coordinates).
    pub fn from_box(
        geometry: &Geometry,
        data: &[u8],
        lo: [usize; 3],
        hi: [usize; 3],
        pred: impl Fn(u8) -> bool,
    ) -> Self {
        let [nx, ny, _] = geometry.dims;
        let dims = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
        let mut out = vec![false; dims[0] * dims[1] * dims[2]];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                let src = lo[0] + nx * ((lo[1] + j) + ny * (lo[2] + k));
                let dst = dims[0] * (j + dims[1] * k);
                for i in 0..dims[0] {
                    out[dst + i] = pred(data[src + i]);
                }
            }
        }
        BinaryMask {
            dims,
            origin: lo,
            data: out,
        }
    }

    /// Builds the mask of voxels satisfying `pred`, cropped to their bounding box.
    pub fn from_predicate(
        geometry: &Geometry,
        data: &[u8],
        pred: impl Fn(u8) -> bool,
    ) -> Option<Self> {
        let [nx, ny, nz] = geometry.dims;
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut any = false;
        for k in 0..nz {
            for j in 0..ny {
                let row = &data[nx * (j + ny * k)..nx * (j + ny * k) + nx];
                let first = row.iter().position(|&v| pred(v));
                if let Some(f) = first {
                    let last = row.iter().rposition(|&v| pred(v)).unwrap_or(f);
                    any = true;
                    lo = [lo[0].min(f), lo[1].min(j), lo[2].min(k)];
                    hi = [hi[0].max(last), hi[1].max(j), hi[2].max(k)];
                }
            }
        }
        any.then(|| Self::from_box(geometry, data, lo, hi, pred))
    }

    /// The same mask cropped to the bounding box of its set voxels (`None` when empty).
    pub fn cropped(&self) -> Option<Self> {
        let g = Geometry::with_spacing(self.dims, [1.0; 3]);
        let bytes: Vec<u8> = self.data.iter().map(|&b| b as u8).collect();
        let mut m = Self::from_predicate(&g, &bytes, |v| v == 1)?;
        for a in 0..3 {
            m.origin[a] += self.origin[a];
        }
        Some(m)
    }
}

/// Voxel counts of every label value and the bounding box of one label, in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelStats {
    pub counts: [usize; 256],
    /// `(lo, hi)` inclusive, full-grid coordinates; `None` when the label is absent.
    pub bbox: Option<([usize; 3], [usize; 3])>,
}

impl LabelStats {
    /// One pass over the volume. Rows of background are recognised eight bytes at a time, which
    /// keeps the pass close to memory speed on mostly-empty label maps.
    pub fn compute(labels: &LabelVolume, label: u8) -> Self {
        let [nx, ny, nz] = labels.geometry.dims;
        let mut counts = [0usize; 256];
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut found = false;
        for k in 0..nz {
            for j in 0..ny {
                let start = nx * (j + ny * k);
                let row = &labels.data[start..start + nx];
                let chunks = row.chunks_exact(8);
                let tail = chunks.remainder();
                let any = chunks.fold(0u64, |acc, c| {
                    acc | u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                }) | tail.iter().fold(0u64, |acc, &v| acc | v as u64);
                if any == 0 {
                    counts[0] += nx;
                    continue;
                }
                let mut first = usize::MAX;
                let mut last = 0;
                for (i, &v) in row.iter().enumerate() {
                    counts[v as usize] += 1;
                    if v == label {
                        first = first.min(i);
                        last = i;
                    }
                }
                if first != usize::MAX {
                    found = true;
                    lo = [lo[0].min(first), lo[1].min(j), lo[2].min(k)];
                    hi = [hi[0].max(last), hi[1].max(j), hi[2].max(k)];
                }
            }
        }
        LabelStats {
            counts,
            bbox: found.then_some((lo, hi)),
        }
    }
}

/// 26-connected components of a mask, largest first (ties: first in storage order first).
///
/// Each component is returned as its own mask cropped to its bounding box, with `origin` in the
/// coordinates of the full grid.
pub fn components_26(mask: &BinaryMask) -> Vec<BinaryMask> {
    let [nx, ny, nz] = mask.dims;
    let mut seen = vec![false; mask.data.len()];
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.data.len() {
        // Cancelled work ([`crate::cancel`]) stops here with what it has: its caller checks
        // the token right after and answers `Cancelled`, never using a partial result.
        if start % 65_536 == 0 && crate::cancel::check().is_err() {
            return Vec::new();
        }
        if !mask.data[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut members = Vec::new();
        while let Some(p) = stack.pop() {
            members.push(p);
            let (i, j, k) = (p % nx, (p / nx) % ny, p / (nx * ny));
            let (i0, i1) = (i.saturating_sub(1), (i + 1).min(nx - 1));
            let (j0, j1) = (j.saturating_sub(1), (j + 1).min(ny - 1));
            let (k0, k1) = (k.saturating_sub(1), (k + 1).min(nz - 1));
            for kk in k0..=k1 {
                for jj in j0..=j1 {
                    let row = nx * (jj + ny * kk);
                    for ii in i0..=i1 {
                        let q = row + ii;
                        if mask.data[q] && !seen[q] {
                            seen[q] = true;
                            stack.push(q);
                        }
                    }
                }
            }
        }
        comps.push(members);
    }
    // Stable sort: equal sizes keep their discovery (storage) order.
    comps.sort_by_key(|c| std::cmp::Reverse(c.len()));
    comps
        .iter()
        .enumerate()
        .take_while(|(n, _)| n % 4096 != 0 || crate::cancel::check().is_ok())
        .map(|(_, members)| {
            let mut lo = [usize::MAX; 3];
            let mut hi = [0usize; 3];
            for &p in members {
                let v = [p % nx, (p / nx) % ny, p / (nx * ny)];
                for a in 0..3 {
                    lo[a] = lo[a].min(v[a]);
                    hi[a] = hi[a].max(v[a]);
                }
            }
            let dims = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
            let mut data = vec![false; dims[0] * dims[1] * dims[2]];
            for &p in members {
                let v = [p % nx - lo[0], (p / nx) % ny - lo[1], p / (nx * ny) - lo[2]];
                data[v[0] + dims[0] * (v[1] + dims[1] * v[2])] = true;
            }
            BinaryMask {
                dims,
                origin: [
                    mask.origin[0] + lo[0],
                    mask.origin[1] + lo[1],
                    mask.origin[2] + lo[2],
                ],
                data,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_from(dims: [usize; 3], set: &[[usize; 3]]) -> BinaryMask {
        let mut data = vec![false; dims[0] * dims[1] * dims[2]];
        for v in set {
            data[v[0] + dims[0] * (v[1] + dims[1] * v[2])] = true;
        }
        BinaryMask {
            dims,
            origin: [0; 3],
            data,
        }
    }

    #[test]
    fn diagonal_neighbours_connect_under_26_connectivity() {
        // Two voxels touching only at a corner form one component; a third far away is separate.
        let m = mask_from(
            [6, 6, 6],
            &[[0, 0, 0], [1, 1, 1], [4, 4, 4], [5, 4, 4], [5, 5, 5]],
        );
        let c = components_26(&m);
        assert_eq!(c.iter().map(|c| c.count()).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!(c[0].origin, [4, 4, 4]);
        assert_eq!(c[0].dims, [2, 2, 2]);
        assert_eq!(c[1].origin, [0, 0, 0]);
    }

    #[test]
    fn crop_keeps_origin_in_full_grid() {
        let m = mask_from([5, 5, 5], &[[2, 3, 1], [3, 3, 4]]);
        let c = m.cropped().unwrap();
        assert_eq!(c.origin, [2, 3, 1]);
        assert_eq!(c.dims, [2, 1, 4]);
        assert_eq!(c.count(), 2);
        assert!(mask_from([2, 2, 2], &[]).cropped().is_none());
    }
}
