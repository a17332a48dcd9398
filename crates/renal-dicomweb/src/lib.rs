//! A DICOMweb client for the archive a hospital keeps its images in: QIDO-RS (search),
//! WADO-RS (retrieve, streamed part by part with bounded memory) and STOW-RS (store), with
//! basic or bearer authentication, TLS with a CA file, timeouts, and retries with backoff on
//! connection errors and 5xx answers (none on 4xx). Typed errors in the archive's terms.
//!
//! Reference: DICOM PS3.18 (Web Services), RFC 2046 5.1 (multipart), RFC 2387
//! (multipart/related).

pub mod client;
pub mod error;
pub mod json;
pub mod multipart;

pub use client::{Auth, Client, Options, StoreReport};
pub use error::{DicomWebError, Result};
pub use json::{tags, Attributes};
pub use multipart::{MultipartError, PartSink};
