//! DICOM Structured Report writing: a Comprehensive SR document (explicit VR little endian)
//! from a content tree of containers, numeric measurements, codes and texts, shaped as a
//! TID 1500 measurement report by the caller. Only what a report needs is written: the SR
//! document's identifiers, its general and content modules, the tree, and the evidence it
//! was made from (the Current Requested Procedure Evidence Sequence: the studies, series and
//! instances of the input images, read by [`evidence`]), in whose study and patient it files.
//!
//! Reference: DICOM PS3.3 C.17 (SR Document modules) and PS3.16 TID 1500.

use std::path::Path;

use crate::dicom::tags::{ITEM, ITEM_END, SEQ_END};
use crate::dicom::{ds_text, part10, push_element, Tag};
use crate::error::Result;

/// Comprehensive SR Storage.
pub const COMPREHENSIVE_SR: &str = "1.2.840.10008.5.1.4.1.1.88.33";

/// A coded concept: value, coding scheme designator, meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

impl Code {
    pub fn new(value: &str, scheme: &str, meaning: &str) -> Code {
        Code {
            value: value.into(),
            scheme: scheme.into(),
            meaning: meaning.into(),
        }
    }
}

/// A content item's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Container(Vec<Item>),
    /// A number and its UCUM unit.
    Num(f64, Code),
    Code(Code),
    Text(String),
}

/// A content item: its relationship to its parent (`CONTAINS`, `HAS CONCEPT MOD`, ...), its
/// concept name and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub relationship: &'static str,
    pub concept: Code,
    pub value: Value,
}

/// A series the document was made from, and the patient its files name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evidence {
    pub study_uid: String,
    pub series_uid: String,
    /// (SOP Class UID, SOP Instance UID) of each file.
    pub instances: Vec<(String, String)>,
    /// Patient's Name, ID, Birth Date and Sex as the first file has them.
    pub patient: [String; 4],
}

/// The evidence of a DICOM input: a series folder (every file) or one file (an enhanced
/// multi-frame image, a SEG, an RTSTRUCT). Files of another series in a folder are an error.
pub fn evidence(path: &Path) -> Result<Evidence> {
    let files = if path.is_dir() {
        crate::dicom::series_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut ev = Evidence::default();
    for (k, f) in files.iter().enumerate() {
        let d = crate::dicom::parse::read_file(f)?.data;
        let get = |t: Tag, name: &str| {
            d.req_text(t, name)
                .map_err(|e| crate::dicom::parse::err(f, e))
        };
        let (study, series) = (
            get((0x0020, 0x000D), "StudyInstanceUID")?,
            get((0x0020, 0x000E), "SeriesInstanceUID")?,
        );
        if k == 0 {
            ev.study_uid = study;
            ev.series_uid = series;
            ev.patient = [
                (0x0010, 0x0010),
                (0x0010, 0x0020),
                (0x0010, 0x0030),
                (0x0010, 0x0040),
            ]
            .map(|t| d.text(t).unwrap_or_default());
        } else if series != ev.series_uid {
            return Err(crate::dicom::parse::err(
                f,
                format!("series {series}, not the folder's {}", ev.series_uid),
            ));
        }
        ev.instances.push((
            get((0x0008, 0x0016), "SOPClassUID")?,
            get((0x0008, 0x0018), "SOPInstanceUID")?,
        ));
    }
    Ok(ev)
}

/// The document's identifiers and the root container.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Patient's Name, ID, Birth Date and Sex (empty when unknown).
    pub patient: [String; 4],
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    /// `YYYYMMDD` and `HHMMSS`.
    pub date: String,
    pub time: String,
    pub series_description: String,
    /// The root container's concept and template (`DCMR` identifier, e.g. `1500`).
    pub title: Code,
    pub template: String,
    pub content: Vec<Item>,
    /// The inputs' studies, series and instances (none when the inputs were not DICOM).
    pub evidence: Vec<Evidence>,
}

/// The Current Requested Procedure Evidence Sequence: one item per study, its series and
/// their instances.
fn evidence_sequence(out: &mut Vec<u8>, ev: &[Evidence]) {
    let mut studies: Vec<&str> = ev.iter().map(|e| e.study_uid.as_str()).collect();
    studies.dedup();
    let items: Vec<Vec<u8>> = studies
        .iter()
        .map(|study| {
            let series: Vec<Vec<u8>> = ev
                .iter()
                .filter(|e| e.study_uid == *study)
                .map(|e| {
                    let sops: Vec<Vec<u8>> = e
                        .instances
                        .iter()
                        .map(|(class, inst)| {
                            let mut o = Vec::new();
                            push_element(&mut o, (0x0008, 0x1150), b"UI", class.as_bytes());
                            push_element(&mut o, (0x0008, 0x1155), b"UI", inst.as_bytes());
                            o
                        })
                        .collect();
                    let mut o = Vec::new();
                    sequence(&mut o, (0x0008, 0x1199), &sops);
                    push_element(&mut o, (0x0020, 0x000E), b"UI", e.series_uid.as_bytes());
                    o
                })
                .collect();
            let mut o = Vec::new();
            sequence(&mut o, (0x0008, 0x1115), &series);
            push_element(&mut o, (0x0020, 0x000D), b"UI", study.as_bytes());
            o
        })
        .collect();
    sequence(out, (0x0040, 0xA375), &items);
}

fn tag_bytes(out: &mut Vec<u8>, t: Tag) {
    out.extend_from_slice(&t.0.to_le_bytes());
    out.extend_from_slice(&t.1.to_le_bytes());
}

/// A sequence of undefined length holding `items` (each an encoded data set).
fn sequence(out: &mut Vec<u8>, t: Tag, items: &[Vec<u8>]) {
    tag_bytes(out, t);
    out.extend_from_slice(b"SQ\0\0");
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    for it in items {
        tag_bytes(out, ITEM);
        out.extend_from_slice(&u32::MAX.to_le_bytes());
        out.extend_from_slice(it);
        tag_bytes(out, ITEM_END);
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    tag_bytes(out, SEQ_END);
    out.extend_from_slice(&0u32.to_le_bytes());
}

fn code_item(c: &Code) -> Vec<u8> {
    let mut o = Vec::new();
    push_element(&mut o, (0x0008, 0x0100), b"SH", c.value.as_bytes());
    push_element(&mut o, (0x0008, 0x0102), b"SH", c.scheme.as_bytes());
    push_element(&mut o, (0x0008, 0x0104), b"LO", c.meaning.as_bytes());
    o
}

/// The Content Sequence of a container.
fn content_sequence(out: &mut Vec<u8>, items: &[Item]) {
    let kids: Vec<Vec<u8>> = items.iter().map(content_item).collect();
    sequence(out, (0x0040, 0xA730), &kids);
}

/// One content item's data set (elements in ascending tag order).
fn content_item(it: &Item) -> Vec<u8> {
    let mut o = Vec::new();
    let vt: &[u8] = match &it.value {
        Value::Container(_) => b"CONTAINER",
        Value::Num(..) => b"NUM",
        Value::Code(_) => b"CODE",
        Value::Text(_) => b"TEXT",
    };
    push_element(&mut o, (0x0040, 0xA010), b"CS", it.relationship.as_bytes());
    push_element(&mut o, (0x0040, 0xA040), b"CS", vt);
    sequence(&mut o, (0x0040, 0xA043), &[code_item(&it.concept)]);
    match &it.value {
        Value::Container(children) => {
            push_element(&mut o, (0x0040, 0xA050), b"CS", b"SEPARATE");
            content_sequence(&mut o, children);
        }
        Value::Code(c) => sequence(&mut o, (0x0040, 0xA168), &[code_item(c)]),
        Value::Text(t) => push_element(&mut o, (0x0040, 0xA160), b"UT", t.as_bytes()),
        Value::Num(v, unit) => {
            let mut m = Vec::new();
            sequence(&mut m, (0x0040, 0x08EA), &[code_item(unit)]);
            push_element(&mut m, (0x0040, 0xA30A), b"DS", &ds_text(&[*v]));
            sequence(&mut o, (0x0040, 0xA300), &[m]);
        }
    }
    o
}

/// The document's data set.
fn dataset(d: &Document) -> Vec<u8> {
    let mut o = Vec::new();
    let mut e = |t: Tag, vr: &[u8; 2], v: &[u8]| push_element(&mut o, t, vr, v);
    e((0x0008, 0x0016), b"UI", COMPREHENSIVE_SR.as_bytes());
    e((0x0008, 0x0018), b"UI", d.sop_uid.as_bytes());
    e((0x0008, 0x0020), b"DA", d.date.as_bytes());
    e((0x0008, 0x0023), b"DA", d.date.as_bytes());
    e((0x0008, 0x0030), b"TM", d.time.as_bytes());
    e((0x0008, 0x0033), b"TM", d.time.as_bytes());
    e((0x0008, 0x0050), b"SH", b"");
    e((0x0008, 0x0060), b"CS", b"SR");
    e((0x0008, 0x0070), b"LO", b"renal-triage");
    e((0x0008, 0x0090), b"PN", b"");
    e((0x0008, 0x103E), b"LO", d.series_description.as_bytes());
    sequence(&mut o, (0x0008, 0x1111), &[]);
    let mut e = |t: Tag, vr: &[u8; 2], v: &[u8]| push_element(&mut o, t, vr, v);
    e((0x0010, 0x0010), b"PN", d.patient[0].as_bytes());
    e((0x0010, 0x0020), b"LO", d.patient[1].as_bytes());
    e((0x0010, 0x0030), b"DA", d.patient[2].as_bytes());
    e((0x0010, 0x0040), b"CS", d.patient[3].as_bytes());
    e((0x0020, 0x000D), b"UI", d.study_uid.as_bytes());
    e((0x0020, 0x000E), b"UI", d.series_uid.as_bytes());
    e((0x0020, 0x0010), b"SH", b"");
    e((0x0020, 0x0011), b"IS", b"1");
    e((0x0020, 0x0013), b"IS", b"1");
    e((0x0040, 0xA040), b"CS", b"CONTAINER");
    sequence(&mut o, (0x0040, 0xA043), &[code_item(&d.title)]);
    push_element(&mut o, (0x0040, 0xA050), b"CS", b"SEPARATE");
    sequence(&mut o, (0x0040, 0xA372), &[]);
    if !d.evidence.is_empty() {
        evidence_sequence(&mut o, &d.evidence);
    }
    push_element(&mut o, (0x0040, 0xA491), b"CS", b"COMPLETE");
    push_element(&mut o, (0x0040, 0xA493), b"CS", b"UNVERIFIED");
    let mut tpl = Vec::new();
    push_element(&mut tpl, (0x0008, 0x0105), b"CS", b"DCMR");
    push_element(&mut tpl, (0x0040, 0xDB00), b"CS", d.template.as_bytes());
    sequence(&mut o, (0x0040, 0xA504), &[tpl]);
    content_sequence(&mut o, &d.content);
    // Text beyond ASCII (a case id, a model name): declare UTF-8, the first element.
    if o.iter().any(|&b| b >= 0x80) {
        let mut cs = Vec::new();
        push_element(&mut cs, (0x0008, 0x0005), b"CS", b"ISO_IR 192");
        cs.extend_from_slice(&o);
        return cs;
    }
    o
}

/// Writes the document as a DICOM Part 10 file, atomically (a temporary file in the same
/// folder, then a rename).
pub fn write_sr(path: &Path, d: &Document) -> Result<()> {
    let bytes = part10(COMPREHENSIVE_SR, &d.sop_uid, false, &dataset(d));
    crate::nifti::write_atomic(path, &bytes)
}
