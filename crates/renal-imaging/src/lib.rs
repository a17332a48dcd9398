//! Medical volumes and tumor measurements for renal-triage.
//!
//! - [`dicom`]: CT series from DICOM (uncompressed either byte order, deflated, RLE Lossless, lossless
//!   JPEG; reader, writer, series assembly);
//! - [`nifti`]: NIfTI-1/2 reading and writing (gzip or plain), every datatype, explicit scaling;
//! - [`formats`]: a volume from NIfTI, NRRD (Slicer's `.seg.nrrd` included) or MetaImage, by name,
//!   and masks from those or DICOM SEG / RTSTRUCT ([`dicom::mask`]), with a [`labelmap`] saying which
//!   label is the kidney, the tumor and the cyst;
//! - [`volume`]: grids with their affine (axis order and orientation conventions documented there);
//! - [`mask`]: binary masks cropped to their bounding box and 26-connected components;
//! - [`shape`], [`mesh`], [`hull`]: pyradiomics-compatible shape features and exact diameters;
//! - [`measure`]: per-case tumor and kidney measurements from a label map;
//! - [`preprocess`]: resampling, HU window, centroid slices and channel stacking (the study's image input);
//! - [`sr`]: DICOM Comprehensive SR documents (a TID 1500-style measurement report out);
//! - [`phantom`]: synthetic multi-phase CT around a label map, for tests and benchmarks.

mod bytes;
pub mod cancel;
pub mod dicom;
pub mod error;
pub mod formats;
#[doc(hidden)]
pub mod fuzzing;
pub mod hull;
pub mod labelmap;
pub mod limits;
pub mod mask;
pub mod measure;
pub mod mesh;
pub mod nifti;
pub mod phantom;
pub mod png;
pub mod preprocess;
pub mod shape;
pub mod volume;

pub use error::{ImagingError, Result};
pub use formats::{read_geometry, read_labels, read_mask, read_scalar};
pub use labelmap::{LabelMap, LabelMapError};
pub use mask::{components_26, BinaryMask};
pub use measure::{measure_segmentation, CaseMeasurements, LabelScheme, TumorComponent};
pub use nifti::{write_nifti, WriteOptions};
pub use phantom::{PhantomConfig, Phase};
pub use preprocess::{case_image, label_channels, CaseImage, Interpolation, Preprocess, Window};
pub use shape::{shape_features, ShapeFeatures};
pub use volume::{Geometry, LabelVolume, Volume};
