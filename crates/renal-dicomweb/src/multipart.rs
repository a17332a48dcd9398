//! A streaming reader of `multipart/related` bodies (RFC 2046 5.1, as WADO-RS sends them):
//! the body is read in chunks of [`CHUNK`] bytes and each part's bytes are handed to a sink as
//! they arrive, so memory stays bounded whatever the answer's size; a part larger than its
//! limit, headers longer than [`MAX_HEADERS`], or a body that ends before the close delimiter
//! is an error.

use std::io::Read;

/// Bytes read from the stream at a time.
pub const CHUNK: usize = 256 * 1024;
/// The most bytes a part's headers may take.
pub const MAX_HEADERS: usize = 16 * 1024;
/// The most bytes before the first delimiter (the preamble, which is ignored).
pub const MAX_PREAMBLE: usize = 64 * 1024;

/// Why a body could not be read as multipart.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    #[error("{0}")]
    Malformed(String),
    #[error("a part is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the answer: {0}")]
    Io(#[from] std::io::Error),
    /// The sink refused a part (its own error, as text for the caller to wrap).
    #[error("{0}")]
    Sink(String),
}

/// Where the parts go: one `begin` per part with its headers (names lower-cased), then its
/// bytes in order, then `end`.
pub trait PartSink {
    fn begin(&mut self, headers: &[(String, String)]) -> Result<(), MultipartError>;
    fn data(&mut self, bytes: &[u8]) -> Result<(), MultipartError>;
    fn end(&mut self) -> Result<(), MultipartError>;
}

/// The `boundary` parameter of a `multipart/related` Content-Type (quoted or not).
pub fn boundary_of(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let kind = params.next().unwrap_or_default().trim();
    if !kind.eq_ignore_ascii_case("multipart/related") {
        return Err(MultipartError::Malformed(format!(
            "Content-Type `{}` is not multipart/related",
            content_type.escape_debug()
        )));
    }
    for p in params {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("boundary") {
                let b = v.trim().trim_matches('"');
                // RFC 2046: 1-70 characters, none of them a control character.
                if b.is_empty() || b.len() > 70 || b.bytes().any(|c| !(0x20..=0x7e).contains(&c)) {
                    return Err(MultipartError::Malformed(format!(
                        "boundary `{}` is not a valid boundary",
                        b.escape_debug()
                    )));
                }
                return Ok(b.to_string());
            }
        }
    }
    Err(MultipartError::Malformed(
        "Content-Type has no boundary parameter".into(),
    ))
}

/// The reader's buffer: bytes read but not yet consumed (`buf[start..end]`), refilled from
/// the stream a chunk at a time into the same allocation.
struct Buffer<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Buffer<R> {
    fn new(reader: R, first: &[u8]) -> Buffer<R> {
        let mut buf = vec![0u8; 2 * CHUNK];
        buf[..first.len()].copy_from_slice(first);
        Buffer {
            reader,
            buf,
            start: 0,
            end: first.len(),
            eof: false,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Reads up to one more chunk (several reads when the stream gives less at a time, so
    /// that the parts' bytes go on in large pieces); false at the end of the stream.
    fn fill(&mut self) -> Result<bool, MultipartError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        let target = self.end + CHUNK;
        let before = self.end;
        while self.end < target {
            match self.reader.read(&mut self.buf[self.end..target]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.end > before)
    }
}

/// Reads every part of `reader` (a body whose Content-Type gave `boundary`) into `sink`;
/// returns the number of parts. A part above `max_part` bytes stops the read.
pub fn read_parts<R: Read>(
    reader: R,
    boundary: &str,
    max_part: u64,
    sink: &mut dyn PartSink,
) -> Result<usize, MultipartError> {
    // The delimiter is CRLF "--" boundary; the stream is read as if it began with a CRLF, so
    // that a first delimiter at the very start is found like the others.
    let delim = format!("\r\n--{boundary}").into_bytes();
    let mut b = Buffer::new(reader, b"\r\n");
    let finder = memchr::memmem::Finder::new(&delim);
    // The preamble: everything before the first delimiter.
    loop {
        if let Some(i) = finder.find(b.pending()) {
            b.consume(i + delim.len());
            break;
        }
        if b.pending().len() > MAX_PREAMBLE + delim.len() || !b.fill()? {
            return Err(MultipartError::Malformed(
                "no multipart delimiter for the boundary the Content-Type gave".into(),
            ));
        }
    }
    let mut parts = 0;
    loop {
        // After a delimiter: `--` closes the body; otherwise optional padding, then CRLF.
        while b.pending().len() < 2 && b.fill()? {}
        if b.pending().starts_with(b"--") {
            return Ok(parts);
        }
        let headers = read_headers(&mut b)?;
        sink.begin(&headers)?;
        read_body(&mut b, &finder, delim.len(), max_part, sink)?;
        sink.end()?;
        parts += 1;
    }
}

/// A part's header lines, up to and including the empty line that ends them.
fn read_headers<R: Read>(b: &mut Buffer<R>) -> Result<Vec<(String, String)>, MultipartError> {
    let end = loop {
        if let Some(i) = memchr::memmem::find(b.pending(), b"\r\n\r\n") {
            break i;
        }
        if b.pending().len() > MAX_HEADERS {
            return Err(MultipartError::Malformed(format!(
                "a part's headers run over {MAX_HEADERS} bytes"
            )));
        }
        if !b.fill()? {
            return Err(MultipartError::Malformed(
                "the answer ends inside a part's headers".into(),
            ));
        }
    };
    if end > MAX_HEADERS {
        return Err(MultipartError::Malformed(format!(
            "a part's headers run over {MAX_HEADERS} bytes"
        )));
    }
    let block = &b.pending()[..end];
    let text = std::str::from_utf8(block)
        .map_err(|_| MultipartError::Malformed("a part's headers are not text".into()))?;
    let mut lines = text.split("\r\n");
    // The rest of the delimiter's line: transport padding only.
    let first = lines.next().unwrap_or_default();
    if !first.trim_matches([' ', '\t']).is_empty() {
        return Err(MultipartError::Malformed(format!(
            "text `{}` after a delimiter",
            first.escape_debug()
        )));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').ok_or_else(|| {
            MultipartError::Malformed(format!("header line `{}`", line.escape_debug()))
        })?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    b.consume(end + 4);
    Ok(headers)
}

/// A part's bytes, up to the next delimiter (consumed).
fn read_body<R: Read>(
    b: &mut Buffer<R>,
    finder: &memchr::memmem::Finder,
    delim_len: usize,
    max_part: u64,
    sink: &mut dyn PartSink,
) -> Result<(), MultipartError> {
    let mut size = 0u64;
    let mut emit = |bytes: &[u8], sink: &mut dyn PartSink| {
        size += bytes.len() as u64;
        if size > max_part {
            return Err(MultipartError::TooLarge(max_part));
        }
        sink.data(bytes)
    };
    loop {
        if let Some(i) = finder.find(b.pending()) {
            emit(&b.pending()[..i], sink)?;
            b.consume(i + delim_len);
            return Ok(());
        }
        // Everything but a tail that could start a delimiter is body.
        let safe = b.pending().len().saturating_sub(delim_len - 1);
        if safe > 0 {
            emit(&b.pending()[..safe], sink)?;
            b.consume(safe);
        }
        if !b.fill()? {
            return Err(MultipartError::Malformed(
                "the answer ends inside a part, before the closing delimiter".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = Vec<(String, String)>;

    #[derive(Default)]
    struct Collect {
        parts: Vec<(Headers, Vec<u8>)>,
        ended: usize,
    }

    impl PartSink for Collect {
        fn begin(&mut self, h: &[(String, String)]) -> Result<(), MultipartError> {
            self.parts.push((h.to_vec(), Vec::new()));
            Ok(())
        }
        fn data(&mut self, bytes: &[u8]) -> Result<(), MultipartError> {
            if let Some(p) = self.parts.last_mut() {
                p.1.extend_from_slice(bytes)
            }
            Ok(())
        }
        fn end(&mut self) -> Result<(), MultipartError> {
            self.ended += 1;
            Ok(())
        }
    }

    /// A reader that returns at most `n` bytes per read, to cut delimiters across chunks.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn body(parts: &[&[u8]], boundary: &str) -> Vec<u8> {
        let mut v = b"preamble to ignore\r\n".to_vec();
        for p in parts {
            v.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {}\r\n\r\n",
                    p.len()
                )
                .as_bytes(),
            );
            v.extend_from_slice(p);
            v.extend_from_slice(b"\r\n");
        }
        v.extend_from_slice(format!("--{boundary}--\r\nepilogue").as_bytes());
        v
    }

    #[test]
    fn parts_are_read_whole_whatever_the_chunking() {
        // Bodies that contain CRLFs, dashes and a near-miss of the boundary.
        let a: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let b = b"\r\n--bounda\r\n--boundar".to_vec();
        let c = b"".to_vec();
        let raw = body(&[&a, &b, &c], "boundary");
        for step in [1, 3, 7, 64, 4096, 1 << 20] {
            let mut sink = Collect::default();
            let n = read_parts(Trickle(&raw, step), "boundary", 1 << 30, &mut sink).unwrap();
            assert_eq!((n, sink.ended), (3, 3), "step {step}");
            assert_eq!(sink.parts[0].1, a, "step {step}");
            assert_eq!(sink.parts[1].1, b, "step {step}");
            assert_eq!(sink.parts[2].1, c, "step {step}");
            assert_eq!(
                sink.parts[0].0[0],
                ("content-type".into(), "application/dicom".into())
            );
        }
    }

    #[test]
    fn a_body_at_the_start_without_preamble_is_read() {
        let raw = b"--b1\r\n\r\nxyz\r\n--b1--".to_vec();
        let mut sink = Collect::default();
        assert_eq!(read_parts(&raw[..], "b1", 100, &mut sink).unwrap(), 1);
        assert_eq!(sink.parts[0].1, b"xyz");
        assert!(sink.parts[0].0.is_empty());
    }

    #[test]
    fn malformed_bodies_are_errors_not_parts() {
        let good = body(&[b"0123456789"], "bnd");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            // Cut before the close delimiter.
            (good[..good.len() - 20].to_vec(), "before the closing"),
            // Another boundary than the header's.
            (body(&[b"x"], "other"), "no multipart delimiter"),
            // Headers that never end.
            (
                [b"--bnd\r\n".as_slice(), &vec![b'a'; MAX_HEADERS + 10]].concat(),
                "headers run over",
            ),
            // Garbage after a delimiter.
            (
                b"--bnd junk\r\n\r\nx\r\n--bnd--".to_vec(),
                "after a delimiter",
            ),
            // A header line without a colon.
            (
                b"--bnd\r\nno colon here\r\n\r\nx\r\n--bnd--".to_vec(),
                "header line",
            ),
            (Vec::new(), "no multipart delimiter"),
        ];
        for (raw, want) in cases {
            let mut sink = Collect::default();
            let e = read_parts(&raw[..], "bnd", 1 << 20, &mut sink).unwrap_err();
            assert!(e.to_string().contains(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn a_part_over_the_limit_stops_the_read_early() {
        // An endless part: the reader stops at the limit, not at the end of the stream.
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    let h = b"--bnd\r\n\r\n";
                    out[..h.len()].copy_from_slice(h);
                    self.0 += h.len() as u64;
                    return Ok(h.len());
                }
                out.fill(b'x');
                self.0 += out.len() as u64;
                assert!(self.0 < 10 << 20, "read far past the limit");
                Ok(out.len())
            }
        }
        let mut sink = Collect::default();
        let e = read_parts(Endless(0), "bnd", 1 << 20, &mut sink).unwrap_err();
        assert!(
            matches!(e, MultipartError::TooLarge(l) if l == 1 << 20),
            "{e}"
        );
    }

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(
            boundary_of("multipart/related; type=\"application/dicom\"; boundary=abc-123").unwrap(),
            "abc-123"
        );
        assert_eq!(
            boundary_of("Multipart/Related;boundary=\"q u\"").unwrap(),
            "q u"
        );
        for bad in [
            "application/dicom+json",
            "multipart/related; type=x",
            "multipart/related; boundary=",
            "multipart/related; boundary=\"a\u{1}\"",
        ] {
            assert!(boundary_of(bad).is_err(), "{bad}");
        }
    }
}
