//! `convert IN OUT.nii[.gz]`: any volume this tool reads (NIfTI, NRRD, Slicer's `.seg.nrrd`,
//! MetaImage, a DICOM series folder; with `--labels`, also a DICOM SEG or RTSTRUCT rebuilt on
//! its CT series) written as NIfTI, for inspection in any viewer: the voxels
//! and the grid as every command of this tool sees them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use renal_imaging::{dicom, read_mask, read_scalar, write_nifti, LabelMap, WriteOptions};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The volume to read (a DICOM series: its folder).
    pub input: PathBuf,
    /// The NIfTI file to write (`.nii` or `.nii.gz`).
    pub output: PathBuf,
    /// Read a segmentation: integer labels, a `.seg.nrrd`'s segments mapped to kidney 1,
    /// tumor 2, cyst 3; written as 8-bit labels (otherwise intensities, written as float32).
    #[arg(long)]
    pub labels: bool,
    /// With `--labels`: the CT series folder a DICOM SEG or RTSTRUCT is rebuilt on (default:
    /// the series it references, looked for beside it).
    #[arg(long, requires = "labels")]
    pub reference: Option<PathBuf>,
    /// With `--labels`: which labels or segments are the kidney, the tumor and the cyst
    /// (`kidney=1,tumor=2,cyst=3`, or segment names); the others are written as background.
    #[arg(long, requires = "labels")]
    pub label_map: Option<LabelMap>,
}

pub fn run(a: ConvertArgs) -> Result<ExitCode> {
    let name = a.output.to_string_lossy().to_ascii_lowercase();
    let gzip = name.ends_with(".nii.gz");
    if !gzip && !name.ends_with(".nii") {
        bail!(
            "{}: the output is written as NIfTI; name it .nii or .nii.gz",
            a.output.display()
        );
    }
    let opts = WriteOptions {
        gzip,
        ..WriteOptions::default()
    };
    let dims = if a.labels {
        let refs: Vec<PathBuf> = a.reference.iter().cloned().collect();
        let v = read_mask(&a.input, &refs, a.label_map.as_ref())
            .with_context(|| format!("reading {}", a.input.display()))?;
        write_nifti(&a.output, &v.geometry, &v.data, opts)?;
        v.geometry.dims
    } else {
        let v = if a.input.is_dir() {
            dicom::read_series(&a.input)
        } else {
            read_scalar(&a.input)
        }
        .with_context(|| format!("reading {}", a.input.display()))?;
        write_nifti(&a.output, &v.geometry, &v.data, opts)?;
        v.geometry.dims
    };
    println!(
        "{} -> {} ({} x {} x {} voxels)",
        a.input.display(),
        a.output.display(),
        dims[0],
        dims[1],
        dims[2]
    );
    Ok(ExitCode::SUCCESS)
}
