//! A data set without the Part 10 preamble and file meta group (as older archives export) is
//! read as the same image: the fixture's file with its first 132 bytes and its group-0002
//! elements cut off (PS3.10 7.1: preamble, `DICM`, then the meta group, explicit VR little
//! endian), which leaves an explicit-VR little-endian data set starting at (0008,xxxx).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::Path;

#[test]
fn a_bare_data_set_reads_as_its_part10_file() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dicom/uncompressed/slice000.dcm");
    let b = std::fs::read(&src).unwrap();
    assert_eq!(&b[128..132], b"DICM");
    let mut at = 132;
    while u16::from_le_bytes([b[at], b[at + 1]]) == 0x0002 {
        // Meta elements: tag, VR, then a 2-byte length, or 2 reserved and a 4-byte length.
        let vr = &b[at + 4..at + 6];
        let long = matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT");
        at += if long {
            12 + u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize
        } else {
            8 + u16::from_le_bytes([b[at + 6], b[at + 7]]) as usize
        };
    }
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.dcm");
    std::fs::write(&bare, &b[at..]).unwrap();
    let (a, z) = (
        renal_imaging::dicom::read_slices(&src).unwrap(),
        renal_imaging::dicom::read_slices(&bare).unwrap(),
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].hu, z[0].hu);
    assert_eq!(a[0].position, z[0].position);
    // Bytes that are no data set at all are still refused by name.
    let junk = dir.path().join("junk.dcm");
    std::fs::write(&junk, b"just some text, not DICOM").unwrap();
    let e = renal_imaging::dicom::read_slices(&junk)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("junk.dcm") && e.contains("not a DICOM file"),
        "{e}"
    );
}
