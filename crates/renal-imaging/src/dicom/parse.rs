//! The DICOM Part 10 parser every DICOM reader here shares: the file meta group, then the data
//! set as a tree (sequences parsed into their items, encapsulated pixel data kept as its
//! fragments), in any of the transfer syntaxes of [`crate::dicom::syntax`].
//!
//! Sequences are recognised by their VR (explicit VR), by an undefined length, by a VR of UN
//! with an undefined length (parsed as implicit VR little endian, as the standard says), and in
//! implicit VR by a value that starts with an item tag. Nesting is bounded (a hostile file
//! cannot exhaust the stack) and every length is checked against the bytes left.
//!
//! Hostile bytes arrive here first, so no panicking access is allowed in this module: every
//! read goes through `get` (the lints below are denied; the fuzzer checks the rest).
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use crate::bytes::arr;
use crate::dicom::syntax::{inflate_dataset, Syntax};
pub(crate) use crate::dicom::tags::Tag;
use crate::dicom::tags::{ITEM, ITEM_END, PIXEL_DATA, SEQ_END};
use crate::error::{ImagingError, Result};

const UNDEFINED: u32 = u32::MAX;
/// Sequences nested deeper than this are refused (real files nest a handful of levels).
const MAX_DEPTH: usize = 24;

pub(crate) fn err(path: &Path, detail: impl std::fmt::Display) -> ImagingError {
    ImagingError::Dicom {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// One element's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Bytes as stored (numbers in the data set's byte order).
    Bytes(Vec<u8>),
    /// A sequence's items.
    Seq(Vec<DataSet>),
    /// Encapsulated pixel data: the basic offset table, then the fragments.
    Fragments(Vec<u8>, Vec<Vec<u8>>),
}

/// A data set (the file's, or a sequence item's).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct DataSet {
    pub e: BTreeMap<Tag, Value>,
    /// Numbers stored big endian (the retired explicit VR big endian syntax).
    pub big: bool,
}

/// A parsed Part 10 file.
pub(crate) struct Part10 {
    pub syntax: Syntax,
    pub data: DataSet,
}

pub(crate) fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v)
        .trim_end_matches(['\0', ' '])
        .trim()
        .to_string()
}

fn tag_name(t: Tag, name: &str) -> String {
    format!("{name} ({:04X},{:04X})", t.0, t.1)
}

/// What is wrong in a DICOM file's content. It becomes an [`ImagingError::Dicom`] naming the
/// file (`err(path, fault)`); `At` says where in the file (a frame, a contour).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum Fault {
    #[error("missing element {}", tag_name(*tag, name))]
    MissingElement { tag: Tag, name: String },
    #[error("missing or empty sequence {}", tag_name(*tag, name))]
    MissingSequence { tag: Tag, name: String },
    #[error("{name}: value too short")]
    TooShort { name: String },
    #[error("{name}: `{value}` is not a list of numbers")]
    NotNumbers { name: String, value: String },
    #[error("{name}: `{value}` holds a non-finite number")]
    NonFinite { name: String, value: String },
    #[error("{name}: {got} numbers, {expected} expected")]
    Count {
        name: String,
        got: usize,
        expected: usize,
    },
    #[error("{name}: one number expected")]
    NotOne { name: String },
    #[error("{name}: {value} is not an integer")]
    NotInteger { name: String, value: f64 },
    /// A sequence or element the reading needs is not there (`no PixelData`).
    #[error("no {0}")]
    Absent(&'static str),
    /// A value or a structure that contradicts the standard or the rest of the file, in words.
    #[error("{0}")]
    Malformed(String),
    /// A fault at a place in the file (`frame 3`, `contour 2 of ROI 1`).
    #[error("{at}: {fault}")]
    At { at: String, fault: Box<Fault> },
}

impl Fault {
    /// The fault, located (`frame 3: ...`).
    pub fn at(self, at: impl std::fmt::Display) -> Fault {
        Fault::At {
            at: at.to_string(),
            fault: Box::new(self),
        }
    }
}

/// A malformed-content fault, in words.
pub(crate) fn malformed(detail: impl std::fmt::Display) -> Fault {
    Fault::Malformed(detail.to_string())
}

impl DataSet {
    pub fn bytes(&self, t: Tag) -> Option<&[u8]> {
        match self.e.get(&t) {
            Some(Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    pub fn text(&self, t: Tag) -> Option<String> {
        self.bytes(t).map(text)
    }

    /// A required text value.
    pub fn req_text(&self, t: Tag, name: &str) -> std::result::Result<String, Fault> {
        self.text(t).ok_or_else(|| Fault::MissingElement {
            tag: t,
            name: name.to_string(),
        })
    }

    /// An unsigned short (US), in the data set's byte order.
    pub fn us(&self, t: Tag, name: &str) -> std::result::Result<usize, Fault> {
        let v = self.bytes(t).ok_or_else(|| Fault::MissingElement {
            tag: t,
            name: name.to_string(),
        })?;
        let a: [u8; 2] = arr(v).ok_or_else(|| Fault::TooShort {
            name: name.to_string(),
        })?;
        Ok(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        } as usize)
    }

    /// Every number of a decimal (DS) or integer (IS) string, finite.
    pub fn numbers(&self, t: Tag, name: &str) -> std::result::Result<Vec<f64>, Fault> {
        let s = self.req_text(t, name)?;
        let v: Vec<f64> = s
            .split('\\')
            .map(|x| x.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Fault::NotNumbers {
                name: name.to_string(),
                value: short(&s),
            })?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Fault::NonFinite {
                name: name.to_string(),
                value: short(&s),
            });
        }
        Ok(v)
    }

    /// Exactly `n` numbers of a DS or IS.
    pub fn ds(&self, t: Tag, name: &str, n: usize) -> std::result::Result<Vec<f64>, Fault> {
        let v = self.numbers(t, name)?;
        if v.len() != n {
            return Err(Fault::Count {
                name: name.to_string(),
                got: v.len(),
                expected: n,
            });
        }
        Ok(v)
    }

    /// A single IS as an integer.
    pub fn int(&self, t: Tag, name: &str) -> std::result::Result<i64, Fault> {
        let &[v] = self.ds(t, name, 1)?.as_slice() else {
            return Err(Fault::NotOne {
                name: name.to_string(),
            });
        };
        if v.fract() != 0.0 || v.abs() > 1e15 {
            return Err(Fault::NotInteger {
                name: name.to_string(),
                value: v,
            });
        }
        Ok(v as i64)
    }

    /// A sequence's items (none when the element is absent).
    pub fn seq(&self, t: Tag) -> &[DataSet] {
        match self.e.get(&t) {
            Some(Value::Seq(items)) => items,
            _ => &[],
        }
    }

    /// A sequence's first item.
    pub fn item(&self, t: Tag, name: &str) -> std::result::Result<&DataSet, Fault> {
        self.seq(t).first().ok_or_else(|| Fault::MissingSequence {
            tag: t,
            name: name.to_string(),
        })
    }
}

fn short(s: &str) -> String {
    if s.len() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A functional group macro of a frame: its own, else the shared one.
pub(crate) fn group<'a>(
    per_frame: &'a DataSet,
    shared: Option<&'a DataSet>,
    t: Tag,
) -> Option<&'a DataSet> {
    per_frame
        .seq(t)
        .first()
        .or_else(|| shared.and_then(|s| s.seq(t).first()))
}

pub(crate) struct Reader<'a> {
    pub b: &'a [u8],
    pub pos: usize,
    pub path: &'a Path,
    /// Explicit VR big endian (retired, still found in old archives).
    pub big: bool,
    /// Elements and items parsed so far in this file (see [`MAX_NODES`]).
    pub nodes: &'a std::cell::Cell<usize>,
}

/// Elements and sequence items one file may hold: the parsed tree costs a few hundred bytes
/// per node whatever its bytes on disk (an 86 MiB file of 5 million empty items took 3.2 GB).
/// An enhanced CT of a thousand frames holds some 50,000; an RT structure set of 20,000
/// contours some 100,000.
pub(crate) const MAX_NODES: usize = 1 << 20;

impl Reader<'_> {
    /// Counts one more element or item, refusing past [`MAX_NODES`].
    fn node(&self) -> Result<()> {
        let n = self.nodes.get() + 1;
        self.nodes.set(n);
        if n > MAX_NODES {
            return Err(ImagingError::TooLarge {
                path: self.path.to_path_buf(),
                detail: format!(
                    "more than {MAX_NODES} elements and sequence items in one file: over the parser's limit"
                ),
            });
        }
        Ok(())
    }
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let b: &'a [u8] = self.b;
        let Some(s) = self.pos.checked_add(n).and_then(|end| b.get(self.pos..end)) else {
            return Err(err(
                self.path,
                format!("truncated: {n} bytes needed at offset {}", self.pos),
            ));
        };
        self.pos += n;
        Ok(s)
    }
    /// The next `N` bytes as an array.
    pub fn take_arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (path, pos) = (self.path, self.pos);
        arr(self.take(N)?).ok_or_else(|| err(path, format!("truncated at offset {pos}")))
    }
    fn u16(&mut self) -> Result<u16> {
        let a: [u8; 2] = self.take_arr()?;
        Ok(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }
    fn u32(&mut self) -> Result<u32> {
        let a: [u8; 4] = self.take_arr()?;
        Ok(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }
}

/// VRs whose explicit-VR header has two reserved bytes and a 4-byte length.
pub(crate) fn long_vr(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// Reads one element header: tag, VR (if explicit) and length.
pub(crate) fn header(r: &mut Reader, explicit: bool) -> Result<(Tag, Option<[u8; 2]>, u32)> {
    let tag = (r.u16()?, r.u16()?);
    // Item and delimitation tags never carry a VR.
    if tag.0 == 0xFFFE || !explicit {
        return Ok((tag, None, r.u32()?));
    }
    let vr: [u8; 2] = r.take_arr()?;
    let len = if long_vr(&vr) {
        r.take(2)?;
        r.u32()?
    } else {
        r.u16()? as u32
    };
    Ok((tag, Some(vr), len))
}

/// Encapsulated pixel data: the basic offset table and the fragments, up to the delimiter.
fn fragments(r: &mut Reader) -> Result<Value> {
    let mut table = None;
    let mut frags = Vec::new();
    loop {
        let (tag, _, len) = header(r, true)?;
        match tag {
            SEQ_END => return Ok(Value::Fragments(table.unwrap_or_default(), frags)),
            ITEM if len != UNDEFINED => {
                let v = r.take(len as usize)?.to_vec();
                if table.is_none() {
                    table = Some(v);
                } else {
                    frags.push(v);
                }
            }
            _ => return Err(err(r.path, "malformed encapsulated pixel data")),
        }
    }
}

/// A sequence's items, read from `r` until its end (defined length: the reader's end;
/// undefined: the sequence delimiter).
fn items(r: &mut Reader, explicit: bool, depth: usize) -> Result<Vec<DataSet>> {
    if depth > MAX_DEPTH {
        return Err(err(
            r.path,
            format!("sequences nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let mut out = Vec::new();
    while !r.done() {
        let (tag, _, len) = header(r, explicit)?;
        r.node()?;
        match tag {
            SEQ_END => return Ok(out),
            ITEM if len == UNDEFINED => {
                out.push(elements(r, explicit, depth + 1, true)?);
            }
            ITEM => {
                let body = r.take(len as usize)?;
                let mut sub = Reader { b: body, ..*r };
                sub.pos = 0;
                out.push(elements(&mut sub, explicit, depth + 1, false)?);
            }
            _ => {
                return Err(err(
                    r.path,
                    format!(
                        "({:04X},{:04X}) inside a sequence where an item was expected",
                        tag.0, tag.1
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// Whether a defined-length implicit-VR value looks like a sequence (starts with an item tag).
fn looks_like_items(v: &[u8], big: bool) -> bool {
    let item = if big {
        [0xFF, 0xFE, 0xE0, 0x00]
    } else {
        [0xFE, 0xFF, 0x00, 0xE0]
    };
    v.len() >= 8 && arr::<4>(v) == Some(item)
}

/// A data set's elements until the reader's end, or until an item delimiter when `in_item`.
fn elements(r: &mut Reader, explicit: bool, depth: usize, in_item: bool) -> Result<DataSet> {
    let mut ds = DataSet {
        e: BTreeMap::new(),
        big: r.big,
    };
    while !r.done() {
        let (tag, vr, len) = header(r, explicit)?;
        r.node()?;
        if tag == ITEM_END {
            if in_item {
                return Ok(ds);
            }
            continue;
        }
        let value = if len == UNDEFINED {
            if tag == PIXEL_DATA {
                fragments(r)?
            } else if vr == Some(*b"UN") {
                // An unknown-VR sequence of undefined length is implicit VR little endian.
                let mut sub = Reader {
                    big: false,
                    b: r.b,
                    pos: r.pos,
                    path: r.path,
                    nodes: r.nodes,
                };
                let v = Value::Seq(items(&mut sub, false, depth + 1)?);
                r.pos = sub.pos;
                v
            } else {
                Value::Seq(items(r, explicit, depth + 1)?)
            }
        } else {
            let body = r.take(len as usize)?;
            if vr == Some(*b"SQ") || (!explicit && looks_like_items(body, r.big)) {
                let mut sub = Reader { b: body, ..*r };
                sub.pos = 0;
                match items(&mut sub, explicit, depth + 1) {
                    Ok(v) => Value::Seq(v),
                    Err(e) if vr == Some(*b"SQ") => return Err(e),
                    Err(_) => Value::Bytes(body.to_vec()),
                }
            } else {
                Value::Bytes(body.to_vec())
            }
        };
        ds.e.insert(tag, value);
    }
    if in_item {
        return Err(err(r.path, "truncated: an item without its delimiter"));
    }
    Ok(ds)
}

/// Reads the Part 10 preamble and file meta group; leaves the reader at the data set.
fn read_meta(r: &mut Reader) -> Result<Syntax> {
    let (b, path) = (r.b, r.path);
    if b.get(128..132) != Some(&b"DICM"[..]) {
        return bare_data_set(b).ok_or_else(|| {
            err(
                path,
                "not a DICOM file (no DICM marker, and no data set starting at its first byte)",
            )
        });
    }
    r.pos = 132;
    // File meta group: always explicit VR little endian.
    let mut ts = None;
    let group = |pos: usize| b.get(pos..).and_then(arr::<2>).map(u16::from_le_bytes);
    while b.len().saturating_sub(r.pos) >= 4 && group(r.pos) == Some(0x0002) {
        let (tag, _, len) = header(r, true)?;
        let v = r.take(len as usize)?;
        if tag == (0x0002, 0x0010) {
            ts = Some(text(v));
        }
    }
    let ts = ts.ok_or_else(|| err(path, "no transfer syntax in the file meta group"))?;
    Syntax::of(&ts).map_err(|detail| err(path, detail))
}

/// The transfer syntax of a data set written without the Part 10 preamble and meta group (as
/// older archives and some toolkits export): its first element must be of group 0008 (the
/// identifying elements every image has), little endian; explicit VR when two upper-case
/// letters follow the tag, implicit VR otherwise (PS3.5 Annex A: the default).
fn bare_data_set(b: &[u8]) -> Option<Syntax> {
    let head = b.get(..8)?;
    if head.get(..2) != Some(&[0x08, 0x00][..]) {
        return None;
    }
    let explicit = head
        .get(4..6)
        .is_some_and(|vr| vr.iter().all(|c| c.is_ascii_uppercase()));
    let uid = if explicit {
        crate::dicom::syntax::EXPLICIT_LE
    } else {
        crate::dicom::syntax::IMPLICIT_LE
    };
    Syntax::of(uid).ok()
}

/// Parses a whole Part 10 file held in memory.
pub(crate) fn parse(b: &[u8], path: &Path) -> Result<Part10> {
    let nodes = std::cell::Cell::new(0);
    let mut r = Reader {
        b,
        pos: 0,
        path,
        big: false,
        nodes: &nodes,
    };
    let syntax = read_meta(&mut r)?;
    // A deflated data set: the rest of the file, inflated (at most 64 times its size).
    let inflated;
    let body: &[u8] = if syntax.deflated {
        inflated = inflate_dataset(b.get(r.pos..).unwrap_or_default())
            .map_err(|e| err(path, format!("deflated data set: {e}")))?;
        &inflated
    } else {
        b.get(r.pos..).unwrap_or_default()
    };
    let mut r = Reader {
        b: body,
        pos: 0,
        path,
        big: syntax.big,
        nodes: &nodes,
    };
    let data = elements(&mut r, syntax.explicit, 0, false)?;
    Ok(Part10 { syntax, data })
}

/// Reads and parses a Part 10 file.
pub(crate) fn read_file(path: &Path) -> Result<Part10> {
    let b = crate::limits::read_file(path)?;
    parse(&b, path)
}

/// The SOP Instance UID a Part 10 file's meta group names (Media Storage SOP Instance UID),
/// from the file's first bytes alone; `None` when they hold no meta group or it lacks one.
pub fn meta_instance_uid(head: &[u8]) -> Option<String> {
    if head.get(128..132) != Some(&b"DICM"[..]) {
        return None;
    }
    let nodes = std::cell::Cell::new(0);
    let mut r = Reader {
        b: head,
        pos: 132,
        path: Path::new(""),
        big: false,
        nodes: &nodes,
    };
    let group = |pos: usize| head.get(pos..).and_then(arr::<2>).map(u16::from_le_bytes);
    while head.len().saturating_sub(r.pos) >= 4 && group(r.pos) == Some(0x0002) {
        let (tag, _, len) = header(&mut r, true).ok()?;
        let v = r.take(len as usize).ok()?;
        if tag == (0x0002, 0x0003) {
            return Some(text(v)).filter(|u| !u.is_empty());
        }
    }
    None
}

/// The bytes of a file's start that [`meta_instance_uid`] reads (a meta group is a few
/// hundred bytes; private meta elements can make it longer).
pub const META_HEAD: usize = 64 * 1024;

/// A file's SOP Instance UID: its meta group's, read from its first bytes; for a data set
/// without a meta group, the data set's (the whole file parsed).
pub fn instance_uid(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(META_HEAD as u64).read_to_end(&mut head))
        .map_err(|source| crate::error::ImagingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if let Some(uid) = meta_instance_uid(&head) {
        return Ok(uid);
    }
    read_file(path)?
        .data
        .req_text((0x0008, 0x0018), "SOPInstanceUID")
        .map_err(|e| err(path, e))
}

/// Whether a file starts as a DICOM Part 10 file (preamble and `DICM`).
pub fn is_part10(path: &Path) -> bool {
    use std::io::Read;
    let mut b = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut b))
        .map(|_| &b[128..132] == b"DICM")
        .unwrap_or(false)
}

/// The frames of pixel data: native pixel data cut into `n` frames of `frame_bits` bits each
/// (binary segmentations pack frames without byte alignment, so a frame is returned as the bits
/// from its first), or the encapsulated fragments as frames (the basic offset table when
/// present, else one fragment per frame, else all fragments as the single frame).
pub(crate) fn frames(
    v: &Value,
    n: usize,
    frame_bytes: usize,
) -> std::result::Result<Vec<Vec<u8>>, Fault> {
    match v {
        Value::Bytes(b) => {
            let need = n
                .checked_mul(frame_bytes)
                .ok_or_else(|| malformed("pixel data size overflows"))?;
            if b.len() < need {
                return Err(malformed(format!(
                    "pixel data: {} bytes for {n} frames of {frame_bytes} bytes",
                    b.len()
                )));
            }
            Ok(b.chunks(frame_bytes.max(1))
                .take(n)
                .map(<[u8]>::to_vec)
                .collect())
        }
        Value::Fragments(table, frags) => {
            if n == 1 {
                return Ok(vec![frags.concat()]);
            }
            if !table.is_empty() {
                return split_by_table(table, frags, n);
            }
            if frags.len() == n {
                return Ok(frags.clone());
            }
            Err(malformed(format!(
                "{} fragments for {n} frames and no offset table",
                frags.len()
            )))
        }
        Value::Seq(_) => Err(malformed("pixel data is a sequence")),
    }
}

fn split_by_table(
    table: &[u8],
    frags: &[Vec<u8>],
    n: usize,
) -> std::result::Result<Vec<Vec<u8>>, Fault> {
    let offsets: Vec<usize> = table
        .chunks_exact(4)
        .filter_map(arr::<4>)
        .map(|c| u32::from_le_bytes(c) as usize)
        .collect();
    if offsets.len() != n {
        return Err(malformed(format!(
            "offset table lists {} frames, {n} expected",
            offsets.len()
        )));
    }
    // Each fragment sits at an offset (its item header of 8 bytes included).
    let mut starts = Vec::with_capacity(frags.len());
    let mut at = 0usize;
    for f in frags {
        starts.push(at);
        at += 8 + f.len();
    }
    let mut out = Vec::with_capacity(n);
    for (k, &o) in offsets.iter().enumerate() {
        let end = offsets.get(k + 1).copied().unwrap_or(usize::MAX);
        let first = starts.iter().position(|&s| s == o).ok_or_else(|| {
            malformed(format!("offset {o} is not a fragment's start"))
                .at(format!("frame {}", k + 1))
        })?;
        let mut frame = Vec::new();
        for (s, f) in starts.iter().zip(frags).skip(first) {
            if *s >= end {
                break;
            }
            frame.extend_from_slice(f);
        }
        out.push(frame);
    }
    Ok(out)
}
