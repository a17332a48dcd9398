//! Readers and measurements: every format the command line reads, as a numpy array (indexed
//! `[i, j, k]` as nibabel's, axis 0 fastest in memory) with its 4x4 RAS+ affine; the tumour
//! and kidney measurements and pyradiomics' shape features of a label map.

use std::path::{Path, PathBuf};

use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use renal_imaging::formats::{format_of, Format};
use renal_imaging::{dicom, Geometry, LabelMap, LabelScheme, LabelVolume, ShapeFeatures, Volume};

use crate::arrays::{f64_1d, f64_2d, finite, slice};
use crate::{errors, threads};

/// A `label_map` argument, parsed.
pub fn parse_label_map(text: Option<&str>) -> PyResult<Option<LabelMap>> {
    text.map(|t| {
        t.parse::<LabelMap>()
            .map_err(|e| PyValueError::new_err(format!("label_map: {e}")))
    })
    .transpose()
}

fn exists(path: &Path, name: &str) -> PyResult<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(PyFileNotFoundError::new_err(format!(
            "{name}: {}: no such file or folder",
            path.display()
        )))
    }
}

/// The 4x4 affine of a grid.
fn affine_4x4<'py>(py: Python<'py>, g: &Geometry) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let mut a = Vec::with_capacity(16);
    for row in &g.affine {
        a.extend_from_slice(row);
    }
    a.extend_from_slice(&[0.0, 0.0, 0.0, 1.0]);
    a.into_pyarray(py).reshape([4, 4])
}

/// nibabel's `aff2axcodes`: the world direction each voxel axis points to most.
fn orientation(g: &Geometry) -> String {
    (0..3)
        .map(|c| {
            let r = (0..3)
                .max_by(|&a, &b| g.affine[a][c].abs().total_cmp(&g.affine[b][c].abs()))
                .unwrap_or(c);
            let pos = g.affine[r][c] >= 0.0;
            match (r, pos) {
                (0, true) => 'R',
                (0, false) => 'L',
                (1, true) => 'A',
                (1, false) => 'P',
                (_, true) => 'S',
                (_, false) => 'I',
            }
        })
        .collect()
}

/// `data` (axis 0 fastest) as a numpy array indexed `[i, j, k]`, without a copy: the buffer
/// becomes a C array of shape (k, j, i), returned transposed.
fn voxels<'py, T: numpy::Element>(
    py: Python<'py>,
    dims: [usize; 3],
    data: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = data.into_pyarray(py).reshape([dims[2], dims[1], dims[0]])?;
    a.call_method0("transpose")
}

fn source_kind(path: &Path, labels: bool) -> &'static str {
    if path.is_dir() {
        return "dicom-series";
    }
    match format_of(path) {
        Format::Nifti => "nifti",
        Format::Nrrd => "nrrd",
        Format::MetaImage => "metaimage",
        Format::Dicom if labels => "dicom-seg-or-rtstruct",
        Format::Dicom => "dicom",
    }
}

/// Reads a volume: NIfTI (`.nii`, `.nii.gz`), NRRD (`.nrrd`, `.nhdr`, Slicer's `.seg.nrrd`),
/// MetaImage (`.mha`, `.mhd`), a DICOM series (a folder) or an enhanced multi-frame DICOM
/// file; with `labels=True` a label map (integers 0-255), which may also be a DICOM SEG or
/// RTSTRUCT rebuilt on its CT series (`reference`: the series' folder, or a list of folders;
/// else looked for beside the file). Named segments take kidney 1, tumor 2, cyst 3;
/// `label_map` (e.g. `"kidney=1,tumor=2"` or `"tumor=Lesion"`) says which is which.
///
/// Returns `(array, affine, meta)`: the voxels indexed `[i, j, k]` (float32, or uint8 for
/// labels), the 4x4 voxel-to-world affine in RAS+ millimetres (nibabel's convention), and a
/// dict with `spacing` (mm per axis), `orientation` (nibabel's axis codes, e.g. `"LPS"`),
/// `source` (the path) and `format`. The memory limit is the command line's
/// (see `set_max_volume_mib`); a series' files are decoded on `threads` threads (None: one
/// per core), the voxels the same whatever the number.
#[pyfunction]
#[pyo3(signature = (path, labels = false, label_map = None, reference = None, threads = None))]
pub fn read_volume<'py>(
    py: Python<'py>,
    path: PathBuf,
    labels: bool,
    label_map: Option<&str>,
    reference: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
    exists(&path, "path")?;
    let map = parse_label_map(label_map)?;
    if map.is_some() && !labels {
        return Err(PyValueError::new_err(
            "label_map: only a label map (labels=True) has labels to map",
        ));
    }
    let references: Vec<PathBuf> = match reference {
        None => Vec::new(),
        Some(r) if r.is_instance_of::<PyList>() || r.is_instance_of::<pyo3::types::PyTuple>() => {
            r.extract()?
        }
        Some(r) => vec![r.extract()?],
    };
    for r in &references {
        exists(r, "reference")?;
    }
    let (geometry, array) = if labels {
        let v: LabelVolume = threads::run(py, threads, || {
            renal_imaging::read_mask(&path, &references, map.as_ref())
        })?
        .map_err(errors::imaging)?;
        let g = v.geometry.clone();
        (g, voxels(py, v.geometry.dims, v.data)?)
    } else {
        let v: Volume<f32> = threads::run(py, threads, || {
            if path.is_dir() {
                dicom::read_series(&path)
            } else {
                renal_imaging::read_scalar(&path)
            }
        })?
        .map_err(errors::imaging)?;
        let g = v.geometry.clone();
        (g, voxels(py, v.geometry.dims, v.data)?)
    };
    let meta = PyDict::new(py);
    let sp = geometry.spacing_mm();
    meta.set_item("spacing", (sp[0], sp[1], sp[2]))?;
    meta.set_item("orientation", orientation(&geometry))?;
    meta.set_item("source", path.display().to_string())?;
    meta.set_item("format", source_kind(&path, labels))?;
    (array, affine_4x4(py, &geometry)?, meta).into_pyobject(py)
}

/// Sets the largest volume one read may decode, in MiB (the command line's
/// `--max-volume-mib`; default 2048), for the whole process.
#[pyfunction]
pub fn set_max_volume_mib(mib: u64) -> PyResult<()> {
    if mib == 0 {
        return Err(PyValueError::new_err("mib: at least 1 MiB"));
    }
    let (_, voxels) = renal_imaging::limits::get();
    renal_imaging::limits::set(mib << 20, voxels);
    Ok(())
}

/// The largest volume one read may decode, in MiB.
#[pyfunction]
pub fn get_max_volume_mib() -> u64 {
    renal_imaging::limits::get().0 >> 20
}

/// The grid of a mask from `affine` (4x4, or its 3x4 top) or `spacing` (three values, mm).
fn grid(
    dims: [usize; 3],
    affine: Option<&Bound<'_, PyAny>>,
    spacing: Option<&Bound<'_, PyAny>>,
) -> PyResult<Geometry> {
    match (affine, spacing) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "affine, spacing: give one of them, not both",
        )),
        (None, None) => Err(PyValueError::new_err(
            "affine, spacing: the voxel size is needed; give the affine (4x4) or the spacing (3 values, mm)",
        )),
        (Some(a), None) => {
            let a = f64_2d(a, "affine")?;
            let shape = a.shape().to_vec();
            if !(shape[1] == 4 && (shape[0] == 4 || shape[0] == 3)) {
                return Err(PyValueError::new_err(format!(
                    "affine: expected a 4x4 (or 3x4) matrix, got shape ({}, {})",
                    shape[0], shape[1]
                )));
            }
            let v = slice(&a, "affine")?;
            finite("affine", v)?;
            let mut affine = [[0.0; 4]; 3];
            for (r, row) in affine.iter_mut().enumerate() {
                row.copy_from_slice(&v[r * 4..r * 4 + 4]);
            }
            Ok(Geometry { dims, affine })
        }
        (None, Some(s)) => {
            let s = f64_1d(s, "spacing")?;
            let v = slice(&s, "spacing")?;
            if v.len() != 3 {
                return Err(PyValueError::new_err(format!(
                    "spacing: expected 3 values (mm per axis), got {}",
                    v.len()
                )));
            }
            finite("spacing", v)?;
            Ok(Geometry::with_spacing(dims, [v[0], v[1], v[2]]))
        }
    }
}

/// A label map (3-D integers 0-255 indexed `[i, j, k]`) on the grid `affine` or `spacing`
/// gives.
pub fn label_volume(
    mask: &Bound<'_, PyAny>,
    affine: Option<&Bound<'_, PyAny>>,
    spacing: Option<&Bound<'_, PyAny>>,
) -> PyResult<LabelVolume> {
    let (dims, data) = mask_voxels(mask)?;
    let geometry = grid(dims, affine, spacing)?;
    Volume::new(geometry, data).map_err(errors::imaging)
}

/// A 3-D array of numbers (indexed `[i, j, k]`): its dims and its values in axis-0-fastest
/// order, as a 1-D numpy array (no copy when `obj` already is Fortran-ordered); `name` and
/// `what` name it in errors.
fn fortran_values<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    what: &str,
) -> PyResult<([usize; 3], Bound<'py, PyAny>)> {
    let np = obj.py().import("numpy")?;
    let arr = np
        .call_method1("asarray", (obj,))
        .map_err(|e| PyValueError::new_err(format!("{name}: not an array ({e})")))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 3 {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a 3-D {what}, got {ndim} dimensions"
        )));
    }
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        return Err(PyValueError::new_err(format!(
            "{name}: expected numbers, got an array of dtype {}",
            arr.getattr("dtype")?.str()?
        )));
    }
    let shape: (usize, usize, usize) = arr.getattr("shape")?.extract()?;
    // `ravel("K")` of a Fortran array is its axis-0-fastest order without a further copy.
    let fortran = np.call_method1("asfortranarray", (arr,))?;
    Ok((
        [shape.0, shape.1, shape.2],
        fortran.call_method1("ravel", ("K",))?,
    ))
}

/// A CT phase given as `(array, affine[, meta])`: HU as float32 on the affine's grid.
pub fn ct_volume(t: &Bound<'_, pyo3::types::PyTuple>, name: &str) -> PyResult<Volume<f32>> {
    if t.len() < 2 {
        return Err(PyValueError::new_err(format!(
            "{name}: a tuple must be (array, affine[, meta]), as read_volume returns"
        )));
    }
    let (dims, flat) = fortran_values(&t.get_item(0)?, name, "CT volume")?;
    let np = t.py().import("numpy")?;
    let values = np.call_method1("ascontiguousarray", (flat, np.getattr("float32")?))?;
    let values = values.cast_into::<numpy::PyArray1<f32>>()?.readonly();
    let values = values
        .as_slice()
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name}: {} at flat index {i}; values must be finite",
            values[i]
        )));
    }
    let geometry = grid(dims, Some(&t.get_item(1)?), None)?;
    Volume::new(geometry, values.to_vec()).map_err(errors::imaging)
}

/// A label map's voxels (3-D integers 0-255, indexed `[i, j, k]`) in axis-0-fastest order.
fn mask_voxels(mask: &Bound<'_, PyAny>) -> PyResult<([usize; 3], Vec<u8>)> {
    let (dims, flat) = fortran_values(mask, "mask", "label map")?;
    if let Ok(bytes) = flat.cast::<numpy::PyArray1<u8>>() {
        return Ok((dims, bytes.to_vec()?));
    }
    let np = mask.py().import("numpy")?;
    let values = np.call_method1("ascontiguousarray", (flat, np.getattr("float64")?))?;
    let values = values.cast_into::<numpy::PyArray1<f64>>()?.readonly();
    let values = values
        .as_slice()
        .map_err(|e| PyValueError::new_err(format!("mask: {e}")))?;
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
            out.push(v as u8);
        } else {
            let (a, b, c) = (
                i % dims[0],
                i / dims[0] % dims[1].max(1),
                i / (dims[0] * dims[1]).max(1),
            );
            return Err(PyValueError::new_err(format!(
                "mask: the label {v} at [{a}, {b}, {c}] is not a whole number from 0 to 255"
            )));
        }
    }
    Ok((dims, out))
}

fn shape_dict<'py>(py: Python<'py>, f: &ShapeFeatures) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    // pyradiomics names each 2D diameter after the array axis held fixed (see
    // shape-pyradiomics' README): axis 0 "Row", axis 1 "Column", axis 2 "Slice".
    d.set_item("MeshVolume", f.mesh_volume_mm3)?;
    d.set_item("VoxelVolume", f.voxel_volume_mm3)?;
    d.set_item("SurfaceArea", f.surface_area_mm2)?;
    d.set_item("SurfaceVolumeRatio", f.surface_volume_ratio)?;
    d.set_item("Sphericity", f.sphericity)?;
    d.set_item("Maximum3DDiameter", f.maximum_3d_diameter_mm)?;
    d.set_item("Maximum2DDiameterRow", f.maximum_2d_diameter_mm[0])?;
    d.set_item("Maximum2DDiameterColumn", f.maximum_2d_diameter_mm[1])?;
    d.set_item("Maximum2DDiameterSlice", f.maximum_2d_diameter_mm[2])?;
    d.set_item("MajorAxisLength", f.major_axis_length_mm)?;
    d.set_item("MinorAxisLength", f.minor_axis_length_mm)?;
    d.set_item("LeastAxisLength", f.least_axis_length_mm)?;
    d.set_item("Elongation", f.elongation)?;
    d.set_item("Flatness", f.flatness)?;
    Ok(d)
}

/// Measures a label map (kidney 1, tumor 2, cyst 3, KiTS23's; `label_map` maps others, e.g.
/// `"kidney=1,tumor=5"`) as the command line's `cohort` does. `mask` is indexed `[i, j, k]`
/// as `read_volume` returns it; `affine` (4x4) or `spacing` (mm per axis) gives the grid.
///
/// Returns a dict: `shape`, pyradiomics' 14 shape features of the whole tumour label (all
/// components pooled, pyradiomics' names, mm); `components`, one dict per 26-connected tumour
/// component, largest first (`voxels`, `axial_diameter_mm`, the largest in-plane distance
/// between voxel centres in one axial slice, `axial_diameter_slice`, `centroid_mm`, `shape`);
/// `kidney_volume_ml` (kidney, tumour and cyst), `kidney_parenchyma_ml`,
/// `tumor_kidney_ratio`, `cyst_fraction`, `voxel_counts`, `spacing_mm` and `axial_axis`.
/// Runs on `threads` threads (None: one per core); the numbers do not depend on it.
#[pyfunction]
#[pyo3(signature = (mask, affine = None, spacing = None, label_map = None, threads = None))]
pub fn measure<'py>(
    py: Python<'py>,
    mask: &Bound<'py, PyAny>,
    affine: Option<&Bound<'py, PyAny>>,
    spacing: Option<&Bound<'py, PyAny>>,
    label_map: Option<&str>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let map = parse_label_map(label_map)?;
    let mut labels = label_volume(mask, affine, spacing)?;
    if let Some(m) = &map {
        if m.names_only() {
            return Err(PyValueError::new_err(format!(
                "label_map: `{m}` names segments, but an array of labels has no segment names: give label values (e.g. tumor=2)"
            )));
        }
        m.relabel(&mut labels.data);
    }
    let m = threads::run(py, threads, || {
        renal_imaging::measure_segmentation(&labels, LabelScheme::default(), "mask")
    })?
    .map_err(errors::imaging)?;
    let d = PyDict::new(py);
    d.set_item("shape", shape_dict(py, &m.whole_tumor)?)?;
    let comps = PyList::empty(py);
    for c in &m.components {
        let cd = PyDict::new(py);
        cd.set_item("rank", c.rank)?;
        cd.set_item("voxels", c.shape.voxel_count)?;
        cd.set_item("volume_ml", c.shape.voxel_volume_ml())?;
        cd.set_item("axial_diameter_mm", c.axial_diameter_mm)?;
        cd.set_item("axial_diameter_slice", c.axial_diameter_slice)?;
        cd.set_item(
            "centroid_mm",
            (
                c.centroid_world_mm[0],
                c.centroid_world_mm[1],
                c.centroid_world_mm[2],
            ),
        )?;
        cd.set_item("shape", shape_dict(py, &c.shape)?)?;
        comps.append(cd)?;
    }
    d.set_item("components", comps)?;
    d.set_item("kidney_volume_ml", m.kidney_volume_ml)?;
    d.set_item("kidney_parenchyma_ml", m.kidney_parenchyma_ml)?;
    d.set_item("tumor_kidney_ratio", m.tumor_kidney_ratio)?;
    d.set_item("cyst_fraction", m.cyst_fraction())?;
    let counts = PyDict::new(py);
    counts.set_item("kidney", m.voxels_kidney)?;
    counts.set_item("tumor", m.voxels_tumor)?;
    counts.set_item("cyst", m.voxels_cyst)?;
    counts.set_item("cyst_touching_tumor", m.voxels_cyst_touching_tumor)?;
    counts.set_item("other", m.voxels_other)?;
    d.set_item("voxel_counts", counts)?;
    d.set_item(
        "spacing_mm",
        (m.spacing_mm[0], m.spacing_mm[1], m.spacing_mm[2]),
    )?;
    d.set_item("axial_axis", m.axial_axis)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_volume, m)?)?;
    m.add_function(wrap_pyfunction!(measure, m)?)?;
    m.add_function(wrap_pyfunction!(set_max_volume_mib, m)?)?;
    m.add_function(wrap_pyfunction!(get_max_volume_mib, m)?)?;
    Ok(())
}
