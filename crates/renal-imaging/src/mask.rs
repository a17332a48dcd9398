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
        Self::from_predicate(&labels.geometry, &labels.data, |v| v == label)
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
        if !any {
            return None;
        }
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
        Some(BinaryMask {
            dims,
            origin: lo,
            data: out,
        })
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

/// 26-connected components of a mask, largest first (ties: first in storage order first).
///
/// Each component is returned as its own mask cropped to its bounding box, with `origin` in the
/// coordinates of the full grid.
pub fn components_26(mask: &BinaryMask) -> Vec<BinaryMask> {
    let [nx, ny, nz] = mask.dims;
    let mut label = vec![0u32; mask.data.len()];
    let mut comps: Vec<(usize, u32)> = Vec::new(); // (size, label)
    let mut stack = Vec::new();
    let mut next = 0u32;
    for start in 0..mask.data.len() {
        if !mask.data[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let mut size = 0usize;
        while let Some(p) = stack.pop() {
            size += 1;
            let (i, j, k) = (p % nx, (p / nx) % ny, p / (nx * ny));
            for dk in -1isize..=1 {
                let kk = k as isize + dk;
                if kk < 0 || kk >= nz as isize {
                    continue;
                }
                for dj in -1isize..=1 {
                    let jj = j as isize + dj;
                    if jj < 0 || jj >= ny as isize {
                        continue;
                    }
                    for di in -1isize..=1 {
                        let ii = i as isize + di;
                        if ii < 0 || ii >= nx as isize {
                            continue;
                        }
                        let q = ii as usize + nx * (jj as usize + ny * kk as usize);
                        if mask.data[q] && label[q] == 0 {
                            label[q] = next;
                            stack.push(q);
                        }
                    }
                }
            }
        }
        comps.push((size, next));
    }
    // Stable sort: equal sizes keep their discovery (storage) order.
    comps.sort_by(|a, b| b.0.cmp(&a.0));
    comps
        .iter()
        .filter_map(|&(_, l)| {
            let sub = BinaryMask {
                dims: mask.dims,
                origin: mask.origin,
                data: label.iter().map(|&x| x == l).collect(),
            };
            sub.cropped()
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
