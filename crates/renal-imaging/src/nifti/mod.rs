//! NIfTI-1 and NIfTI-2 reading and writing (plain or gzip), from the raw bytes.
//!
//! We parse the header ourselves rather than trusting a library's array conversion: the scaling
//! fields are handled explicitly (`scl_slope == 0` means "no scaling" per the NIfTI-1 standard;
//! a NaN or infinite slope is an error naming the field), every integer and float datatype is
//! accepted, and the affine comes from the sform when `sform_code > 0`, else the qform when
//! `qform_code > 0`, else `pixdim` (nibabel's order of preference).
//!
//! Data are column-major on disk (axis 0 fastest), which is also our in-memory order
//! (see [`crate::volume`]).

mod header;
mod read;
#[cfg(test)]
mod tests;
mod write;

pub use header::{parse_header, DataType, NiftiHeader};
pub use read::{read_header, read_labels, read_maybe_gzip, read_scalar};
pub(crate) use write::write_atomic;
pub use write::{encode_nifti, write_nifti, NiftiValue, WriteOptions};
