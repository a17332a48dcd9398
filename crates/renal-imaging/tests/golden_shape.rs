//! Shape features of the KiTS23 tumor label against pyradiomics 3.1 and numpy
//! (`shared/golden/shape-pyradiomics`, tolerances from its README).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_imaging::{components_26, read_labels, shape_features, BinaryMask, LabelScheme};
use renal_testdata::{assert_abs, assert_rel, read_json, shared};

#[test]
fn shape_features_match_pyradiomics_on_six_kits23_cases() {
    let Some(shared) = shared() else { return };
    let exp = read_json(&shared.join("golden/shape-pyradiomics/expected.json"));
    let cases = exp["cases"].as_object().expect("cases");
    assert_eq!(cases.len(), 6);
    for (case, e) in cases {
        let labels =
            read_labels(&shared.join(format!("kits23/cases/{case}/segmentation.nii.gz"))).unwrap();
        let spacing = labels.geometry.spacing_mm();
        let dims = labels.geometry.dims;
        let shape: Vec<usize> = e["array_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(dims.to_vec(), shape, "{case} shape");
        for a in 0..3 {
            assert_eq!(
                spacing[a],
                e["spacing_mm"][a].as_f64().unwrap(),
                "{case} spacing"
            );
        }
        let mut counts = [0usize; 256];
        for &v in &labels.data {
            counts[v as usize] += 1;
        }
        for (name, l) in [("background", 0), ("kidney", 1), ("tumor", 2), ("cyst", 3)] {
            assert_eq!(
                counts[l] as u64,
                e["voxel_counts"][name].as_u64().unwrap(),
                "{case} {name}"
            );
        }
        let tumor = BinaryMask::from_labels(&labels, LabelScheme::default().tumor).unwrap();
        let comps = components_26(&tumor);
        let sizes: Vec<u64> = comps.iter().map(|c| c.count() as u64).collect();
        let exp_sizes: Vec<u64> = e["tumor_component_sizes_desc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(sizes, exp_sizes, "{case} components");

        // Axial diameter of the largest component: voxel centres, exact to 1e-9 mm.
        let axial = labels.geometry.axial_axis().unwrap();
        assert_eq!(axial, 0, "{case}: KiTS23 affines map axis 0 to S-I");
        let (d, slice) = renal_imaging::shape::axial_diameter_mm(&comps[0], spacing, axial);
        assert_abs(
            d,
            e["largest_component_axial_diameter_mm"].as_f64().unwrap(),
            1e-9,
            case,
        );
        assert_eq!(
            slice as u64,
            e["largest_component_axial_diameter_slice"]
                .as_u64()
                .unwrap(),
            "{case}"
        );

        let f = shape_features(&tumor, spacing);
        let p = &e["pyradiomics"];
        let g = |k: &str| p[k].as_f64().unwrap();
        let what = |k: &str| format!("{case} {k}");
        assert_rel(
            f.voxel_volume_mm3,
            g("VoxelVolume"),
            1e-12,
            &what("VoxelVolume"),
        );
        // Vertex-set quantities: exact (relative 1e-9).
        assert_rel(
            f.maximum_3d_diameter_mm,
            g("Maximum3DDiameter"),
            1e-9,
            &what("Maximum3DDiameter"),
        );
        // pyradiomics names 2D diameters by the ITK axis held fixed: Row = nibabel axis 0,
        // Column = axis 1, Slice = axis 2 (see the fixture README).
        assert_rel(
            f.maximum_2d_diameter_mm[0],
            g("Maximum2DDiameterRow"),
            1e-9,
            &what("Row"),
        );
        assert_rel(
            f.maximum_2d_diameter_mm[1],
            g("Maximum2DDiameterColumn"),
            1e-9,
            &what("Column"),
        );
        assert_rel(
            f.maximum_2d_diameter_mm[2],
            g("Maximum2DDiameterSlice"),
            1e-9,
            &what("Slice"),
        );
        // Eigenvalue features: relative 1e-9.
        assert_rel(
            f.major_axis_length_mm,
            g("MajorAxisLength"),
            1e-9,
            &what("Major"),
        );
        assert_rel(
            f.minor_axis_length_mm,
            g("MinorAxisLength"),
            1e-9,
            &what("Minor"),
        );
        assert_rel(
            f.least_axis_length_mm,
            g("LeastAxisLength"),
            1e-9,
            &what("Least"),
        );
        // The covariance eigenvalues behind the axes (pyradiomics: Major = 4 sqrt(l2), Minor =
        // 4 sqrt(l1), Least = 4 sqrt(l0), README).
        let eig = renal_testdata::floats(&e["covariance_eigenvalues_mm2_ascending"]);
        let ours = [
            f.least_axis_length_mm,
            f.minor_axis_length_mm,
            f.major_axis_length_mm,
        ]
        .map(|l| (l / 4.0).powi(2));
        for (i, (a, b)) in ours.iter().zip(&eig).enumerate() {
            assert_rel(*a, *b, 1e-9, &what(&format!("eigenvalue {i}")));
        }
        assert_eq!(eig.len(), 3);
        assert_rel(f.elongation, g("Elongation"), 1e-9, &what("Elongation"));
        assert_rel(f.flatness, g("Flatness"), 1e-9, &what("Flatness"));
        // Mesh quantities: our triangle table is generated, not ported (see `mesh` docs). The
        // README's tolerance for a non-ported mesh is relative 1e-3, with exact agreement
        // (<= 1e-13) on the two cases without ambiguous cubes; the project's README claims
        // those two exactly and 7e-4 elsewhere, so both are held to that.
        let mesh_tol = if ["case_00019", "case_00060"].contains(&case.as_str()) {
            1e-12
        } else {
            7e-4
        };
        for (got, key) in [
            (f.mesh_volume_mm3, "MeshVolume"),
            (f.surface_area_mm2, "SurfaceArea"),
            (f.surface_volume_ratio, "SurfaceVolumeRatio"),
            (f.sphericity, "Sphericity"),
        ] {
            assert_rel(got, g(key), mesh_tol, &what(key));
        }
        eprintln!(
            "{case}: mesh volume rel diff {:.2e}, area rel diff {:.2e}",
            (f.mesh_volume_mm3 - g("MeshVolume")).abs() / g("MeshVolume"),
            (f.surface_area_mm2 - g("SurfaceArea")).abs() / g("SurfaceArea")
        );
    }
}
