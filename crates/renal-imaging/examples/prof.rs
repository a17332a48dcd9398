#![allow(clippy::unwrap_used, clippy::expect_used)] // a profiling run, not product code
use renal_imaging::*;
use std::time::Instant;
fn main() {
    let mut t = [0f64; 6];
    for id in std::env::args().skip(1) {
        let p = format!("/work/shared/kits23/cases/{id}/segmentation.nii.gz");
        let a = Instant::now();
        let b = nifti::read_maybe_gzip(std::path::Path::new(&p)).unwrap();
        t[0] += a.elapsed().as_secs_f64();
        drop(b);
        let a = Instant::now();
        let v = read_labels(std::path::Path::new(&p)).unwrap();
        t[1] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let m = BinaryMask::from_labels(&v, 2).unwrap();
        t[2] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let c = components_26(&m);
        t[3] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let sp = v.geometry.spacing_mm();
        let _ = mesh::mesh_volume_area(&c[0], sp);
        t[4] += a.elapsed().as_secs_f64();
        let a = Instant::now();
        let verts = mesh::mesh_vertices2(&c[0]);
        let _ = hull::max_distances_3d(&verts, sp.map(|s| s / 2.0));
        let _ = shape::covariance_eigenvalues_mm2(&c[0], sp);
        t[5] += a.elapsed().as_secs_f64();
    }
    println!(
        "gunzip {:.3} read_labels {:.3} crop {:.3} components {:.3} mesh {:.3} diam+eig {:.3}",
        t[0], t[1], t[2], t[3], t[4], t[5]
    );
}
