//! DICOM: the Part 10 parser every reader shares (`parse.rs`, over the transfer syntaxes of
//! `syntax.rs` and one tag dictionary, `tags.rs`), the pixel codecs (`codecs/`), the CT series
//! reader and writer (`series.rs`), masks stored as DICOM (`mask.rs`: SEG in `seg.rs`, RT
//! Structure Sets in `rtstruct.rs`) and the Structured Report writer (`sr.rs`).

pub(crate) mod codecs;
pub mod mask;
pub(crate) mod parse;
pub(crate) mod rtstruct;
pub(crate) mod seg;
mod series;
pub mod sr;
pub(crate) mod syntax;
pub(crate) mod tags;

pub use parse::{instance_uid, meta_instance_uid, META_HEAD};
pub use series::*;
