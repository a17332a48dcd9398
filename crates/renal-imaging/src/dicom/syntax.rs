//! DICOM transfer syntaxes: what each one read here says of the data set (VR, byte order,
//! deflation, pixel encoding), and their names for messages.

/// Implicit VR little endian.
pub(crate) const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR little endian.
pub(crate) const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
const JPEG_LOSSLESS: &str = "1.2.840.10008.1.2.4.57";
const JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
const JPEG_LS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
const JPEG_LS_NEAR: &str = "1.2.840.10008.1.2.4.81";
const JPEG_2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";
const JPEG_2000: &str = "1.2.840.10008.1.2.4.91";
const DEFLATED_LE: &str = "1.2.840.10008.1.2.1.99";

/// How a data set's pixel data are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pixels {
    Native,
    Rle,
    LosslessJpeg,
    /// JPEG baseline or extended (8-bit samples decoded).
    Jpeg,
    JpegLs,
    Jpeg2000,
}

/// What the transfer syntax says of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    pub explicit: bool,
    pub pixels: Pixels,
    pub big: bool,
    pub deflated: bool,
}

impl Syntax {
    fn plain(explicit: bool, pixels: Pixels) -> Syntax {
        Syntax {
            explicit,
            pixels,
            big: false,
            deflated: false,
        }
    }

    /// The syntax of a transfer syntax UID, or why it is not read.
    pub fn of(uid: &str) -> Result<Syntax, UnreadableSyntax> {
        Ok(match uid {
            EXPLICIT_LE => Syntax::plain(true, Pixels::Native),
            IMPLICIT_LE => Syntax::plain(false, Pixels::Native),
            RLE_LOSSLESS => Syntax::plain(true, Pixels::Rle),
            JPEG_LOSSLESS | JPEG_LOSSLESS_SV1 => Syntax::plain(true, Pixels::LosslessJpeg),
            JPEG_BASELINE | JPEG_EXTENDED => Syntax::plain(true, Pixels::Jpeg),
            JPEG_LS_LOSSLESS | JPEG_LS_NEAR => Syntax::plain(true, Pixels::JpegLs),
            JPEG_2000_LOSSLESS | JPEG_2000 => Syntax::plain(true, Pixels::Jpeg2000),
            EXPLICIT_BE => Syntax {
                big: true,
                ..Syntax::plain(true, Pixels::Native)
            },
            DEFLATED_LE => Syntax {
                deflated: true,
                ..Syntax::plain(true, Pixels::Native)
            },
            other => return Err(UnreadableSyntax(other.to_string())),
        })
    }
}

/// A transfer syntax this reader does not decode (the message lists those it does, and how
/// to convert).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", unreadable(.0))]
pub(crate) struct UnreadableSyntax(pub String);

/// Why a transfer syntax is not read, with those that are and how to convert.
fn unreadable(other: &str) -> String {
    format!("unreadable transfer syntax {other} ({}; read here: uncompressed {IMPLICIT_LE}, {EXPLICIT_LE}, {EXPLICIT_BE}, deflated {DEFLATED_LE}, RLE Lossless {RLE_LOSSLESS}, lossless JPEG {JPEG_LOSSLESS}, {JPEG_LOSSLESS_SV1}, 8-bit JPEG {JPEG_BASELINE}, {JPEG_EXTENDED}, JPEG-LS {JPEG_LS_LOSSLESS}, {JPEG_LS_NEAR}, JPEG 2000 {JPEG_2000_LOSSLESS}, {JPEG_2000}; decompress the series first, e.g. with dcmtk's dcmdjpeg or dcmdjpls, or gdcmconv --raw)", name(other))
}

/// A transfer syntax's name, for messages.
fn name(uid: &str) -> &'static str {
    match uid {
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.100" | "1.2.840.10008.1.2.4.101" => "MPEG-2",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            "HTJ2K"
        }
        _ => "unknown",
    }
}

/// The raw-deflated data set of the Deflated Explicit VR Little Endian syntax (at most 64
/// times its compressed size).
pub(crate) fn inflate_dataset(raw: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(raw)
        .take((raw.len() as u64).saturating_mul(64))
        .read_to_end(&mut out)?;
    Ok(out)
}
