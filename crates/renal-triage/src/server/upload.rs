//! Uploads of one request: size limits, multipart reading into a private folder, file
//! checks (names, CT phases against the mask's grid), deletion when the request ends.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Result;
use axum::extract::{Multipart, Request};
use axum::http::{header, StatusCode};

use crate::model::predict::PatientInput;

use super::error::ApiError;
use super::state::{AppState, UploadSpace};

/// What one request holds: its uploaded files, in a folder of its own with an unguessable
/// name (no other request can name them, so a detached data file named in an upload's header
/// can only be one of this request's own files), and every byte it buffers (files on disk,
/// text parts and JSON bodies in memory) counted against the server's in-flight budget.
/// Dropped, it removes the folder and gives its bytes back.
pub(super) struct Uploads {
    root: PathBuf,
    dir: Option<PathBuf>,
    bytes: u64,
    inflight: std::sync::Arc<std::sync::atomic::AtomicU64>,
    max_inflight: u64,
    /// Files stored so far, for their names.
    files: usize,
}

/// Largest text part of a form (a clinical record is a few hundred bytes) and largest JSON
/// body (no file travels in JSON): larger ones are refused as they arrive (413).
pub(super) const MAX_TEXT_BYTES: usize = 1 << 20;

/// 128 random bits as hex, from the operating system's generator.
fn unguessable() -> Result<String, ApiError> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            field: "server".into(),
            message: "no random numbers for an upload folder".into(),
        })?;
    Ok(renal_cohort::io::hex(&b))
}

impl Uploads {
    pub(super) fn new(space: &UploadSpace) -> Uploads {
        Uploads {
            root: space.dir.clone(),
            dir: None,
            bytes: 0,
            inflight: space.inflight.clone(),
            max_inflight: space.max_inflight,
            files: 0,
        }
    }

    /// Counts `n` more bytes against the server's in-flight budget; a 503 when over it.
    pub(super) fn take(&mut self, n: u64) -> Result<(), ApiError> {
        self.bytes += n;
        let now = self.inflight.fetch_add(n, Ordering::Relaxed) + n;
        if now <= self.max_inflight {
            Ok(())
        } else {
            Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                field: "server".into(),
                message: "too many uploads in progress; try again".into(),
            })
        }
    }

    /// A new file's path in this request's private folder (made, mode 0700, at the first).
    fn new_file(&mut self, ext: &str) -> Result<PathBuf, ApiError> {
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => {
                let d = self.root.join(format!("r-{}", unguessable()?));
                let mut b = std::fs::DirBuilder::new();
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(&d).map_err(|e| ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    field: "server".into(),
                    message: format!("cannot store the upload: {e}"),
                })?;
                self.dir = Some(d.clone());
                d
            }
        };
        self.files += 1;
        Ok(dir.join(format!("{}-{}{ext}", self.files, &unguessable()?[..16])))
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
        self.inflight.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Appends one chunk of a text part or JSON body to `buf`: at most `max` bytes in all (413
/// past it), each chunk counted against the in-flight budget before it is kept.
fn keep(
    buf: &mut Vec<u8>,
    chunk: &[u8],
    uploads: &mut Uploads,
    field: &str,
    max: usize,
) -> Result<(), ApiError> {
    if buf.len() + chunk.len() > max {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            field: field.to_string(),
            message: format!("more than {max} bytes (files go in file parts: mask, ct_<phase>)"),
        });
    }
    uploads.take(chunk.len() as u64)?;
    buf.extend_from_slice(chunk);
    Ok(())
}

/// A JSON request's body, at most [`MAX_TEXT_BYTES`], counted as it arrives.
pub(super) async fn read_json_body(
    body: axum::body::Body,
    uploads: &mut Uploads,
) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad("body", e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            keep(&mut buf, &data, uploads, "body", MAX_TEXT_BYTES)?;
        }
    }
    Ok(buf)
}

/// A form's text part, at most [`MAX_TEXT_BYTES`], counted as it arrives.
async fn read_text(
    field: &mut axum::extract::multipart::Field<'_>,
    uploads: &mut Uploads,
    name: &str,
) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| ApiError {
        status: e.status(),
        field: name.to_string(),
        message: e.body_text(),
    })? {
        keep(&mut buf, &chunk, uploads, name, MAX_TEXT_BYTES)?;
    }
    String::from_utf8(buf).map_err(|_| ApiError::bad(name, "not UTF-8 text"))
}

pub(super) fn check_file_name(field: &str, name: Option<&str>) -> Result<(), ApiError> {
    if let Some(n) = name {
        if n.contains('/') || n.contains('\\') || n.contains("..") || n.contains('\0') {
            return Err(ApiError::bad(
                field,
                format!("file name `{n}` is not a plain file name"),
            ));
        }
    }
    Ok(())
}

/// The extension an upload is stored with: the client's file name's, when it is a format the
/// readers know (NRRD, Slicer's `.seg.nrrd`, MetaImage `.mha`, NIfTI), NIfTI (gzip or plain,
/// told apart by its content) otherwise. Only these fixed strings reach the file system.
pub(super) fn stored_extension(name: Option<&str>) -> &'static str {
    let n = name.unwrap_or("").to_ascii_lowercase();
    [".seg.nrrd", ".nrrd", ".mha", ".nii.gz", ".nii"]
        .into_iter()
        .find(|e| n.ends_with(e))
        .map(|e| if e == ".nii" { ".nii.gz" } else { e })
        .unwrap_or(".nii.gz")
}

/// Refuses a request whose declared length exceeds the limit before reading any of it, so a
/// client that waits for `100 Continue` (as curl does for large uploads) never sends the body.
pub(super) fn check_length(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > state.max_body as u64 => Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            field: "body".into(),
            message: format!(
                "upload of {n} bytes exceeds the limit of {} bytes",
                state.max_body
            ),
        }),
        _ => Ok(()),
    }
}

/// Reads a multipart request into an input and saved uploads, its CT phases checked against
/// the mask's grid and attached. After a rejected field the rest of the (size-limited) body
/// is still read, so the client receives the error instead of a broken connection.
pub(super) async fn read_multipart(
    space: &UploadSpace,
    mut mp: Multipart,
) -> Result<(PatientInput, Uploads), ApiError> {
    let mut input = PatientInput::default();
    let mut uploads = Uploads::new(space);
    let mut ct = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut first_error: Option<ApiError> = None;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(first_error.unwrap_or(ApiError {
                    status: e.status(),
                    field: "body".into(),
                    message: e.body_text(),
                }))
            }
        };
        if first_error.is_some() {
            // Drain and discard.
            while let Ok(Some(_)) = field.chunk().await {}
            continue;
        }
        if let Err(e) = read_field(field, &mut input, &mut uploads, &mut ct, &mut seen).await {
            if matches!(
                e.status,
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::SERVICE_UNAVAILABLE
            ) {
                return Err(e);
            }
            first_error = Some(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    check_ct(input.mask.as_deref(), &ct)?;
    attach_ct(&mut input, ct);
    Ok((input, uploads))
}

/// Streams one file field to `path` chunk by chunk (never the whole file in memory),
/// counting its bytes against the server's in-flight budget; the bytes written.
async fn stream_to_file(
    field: &mut axum::extract::multipart::Field<'_>,
    path: &Path,
    uploads: &mut Uploads,
    name: &str,
) -> Result<u64, ApiError> {
    use tokio::io::AsyncWriteExt;
    let store = |e: std::io::Error| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        field: name.to_string(),
        message: format!("cannot store the upload: {e}"),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(store)?;
    let mut n = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| ApiError {
        status: e.status(),
        field: name.to_string(),
        message: e.body_text(),
    })? {
        n += chunk.len() as u64;
        uploads.take(chunk.len() as u64)?;
        file.write_all(&chunk).await.map_err(store)?;
    }
    file.flush().await.map_err(store)?;
    Ok(n)
}

/// Puts one clinical value into the record, refusing a name given twice (in two parts, or in
/// a part and the `clinical` JSON).
fn add_clinical(
    input: &mut PatientInput,
    name: String,
    value: serde_json::Value,
) -> Result<(), ApiError> {
    if input.clinical.contains_key(&name) {
        return Err(ApiError::bad(
            &name,
            "given twice in one request (two parts, or a part and the clinical JSON); send each value once",
        ));
    }
    input.clinical.insert(name, value);
    Ok(())
}

async fn read_field(
    mut field: axum::extract::multipart::Field<'_>,
    input: &mut PatientInput,
    uploads: &mut Uploads,
    ct: &mut Vec<(String, PathBuf)>,
    seen: &mut std::collections::BTreeSet<String>,
) -> Result<(), ApiError> {
    let name = field.name().unwrap_or("").to_string();
    // Every part name once: two masks, two `clinical` parts or an age given twice would
    // otherwise leave the last one standing without a word.
    if !seen.insert(name.clone()) {
        return Err(ApiError::bad(
            &name,
            "given twice in one request; send each field once",
        ));
    }
    if name == "mask" || name.starts_with("ct_") {
        check_file_name(&name, field.file_name())?;
        let ext = stored_extension(field.file_name());
        let path = uploads.new_file(ext)?;
        let n = stream_to_file(&mut field, &path, uploads, &name).await?;
        if n == 0 {
            return Ok(());
        }
        if name == "mask" {
            input.mask = Some(path);
        } else {
            ct.push((name, path));
        }
        return Ok(());
    }
    let text = read_text(&mut field, uploads, &name).await?;
    match name.as_str() {
        "case_id" => input.case_id = (!text.trim().is_empty()).then(|| text.trim().to_string()),
        "study_uid" => input.study_uid = (!text.trim().is_empty()).then(|| text.trim().to_string()),
        "label_map" if !text.trim().is_empty() => {
            let map = renal_imaging::LabelMap::parse(text.trim())
                .map_err(|e| ApiError::bad("label_map", e))?;
            input.label_map = Some(map);
        }
        "clinical" => {
            let m = crate::model::predict::parse_clinical_json(&text)
                .map_err(|e| ApiError::bad("clinical", e))?;
            for (k, v) in m {
                add_clinical(input, k, v)?;
            }
        }
        _ if text.trim().is_empty() => {}
        _ => add_clinical(input, name, serde_json::Value::from(text.trim()))?,
    }
    Ok(())
}

/// Gives the input its uploaded CT phases (`ct_<phase>` fields) by phase name, after
/// [`check_ct`].
fn attach_ct(input: &mut PatientInput, ct: Vec<(String, PathBuf)>) {
    input.ct = ct
        .into_iter()
        .map(|(field, path)| (field.trim_start_matches("ct_").to_string(), path))
        .collect();
}

/// Checks every CT phase against the mask's grid.
fn check_ct(mask: Option<&Path>, ct: &[(String, PathBuf)]) -> Result<(), ApiError> {
    let Some(mask) = mask else {
        if let Some((name, _)) = ct.first() {
            return Err(ApiError::bad(
                name,
                "a CT phase needs the mask it belongs to",
            ));
        }
        return Ok(());
    };
    if ct.is_empty() {
        return Ok(());
    }
    let mh =
        renal_imaging::read_geometry(mask).map_err(|e| ApiError::bad("mask", e.to_string()))?;
    for (name, p) in ct {
        let h = renal_imaging::read_geometry(p).map_err(|e| ApiError::bad(name, e.to_string()))?;
        mh.check_same_grid(&h, name, 1e-3)
            .map_err(|e| ApiError::bad(name, format!("does not match the mask: {e}")))?;
    }
    Ok(())
}

/// The answer a client would get to a bad body (`field: message`), for the fuzz target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FuzzAnswer(pub String);

/// A request's multipart path, for fuzzing (`crate::fuzz`): `body` read as `content_type`
/// declares it, as the server reads it (uploads streamed into `dir`, removed at the end),
/// then checked (file names, CT phases against the mask's grid) and turned into a clinical
/// record. Errors are the expected answers to bad bodies (returned as the field and message
/// a client would get); only a panic or a hang is a bug.
pub(crate) fn fuzz_multipart(
    dir: &Path,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), FuzzAnswer> {
    use axum::extract::FromRequest;
    thread_local! {
        static RUNTIME: Option<tokio::runtime::Runtime> =
            tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
    }
    let space = UploadSpace::new(dir.to_path_buf(), 64 << 20);
    let said = |e: ApiError| FuzzAnswer(format!("{}: {}", e.field, e.message));
    let answer = |e: &dyn std::fmt::Display| FuzzAnswer(e.to_string());
    RUNTIME.with(|rt| {
        let rt = rt.as_ref().ok_or_else(|| answer(&"no runtime"))?;
        rt.block_on(async {
            let req = Request::builder()
                .method("POST")
                .header(header::CONTENT_TYPE, content_type)
                .body(axum::body::Body::from(body))
                .map_err(|e| answer(&e))?;
            let mp = Multipart::from_request(req, &())
                .await
                .map_err(|e| answer(&e.body_text()))?;
            let (input, uploads) = read_multipart(&space, mp).await.map_err(said)?;
            let record =
                crate::model::predict::clinical_record_for(&fuzz_inputs(), &[], &input).map(|_| ());
            drop(uploads);
            record.map_err(|e| answer(&e))
        })
    })
}

/// Every input name a bundle could take (for fuzzing without a bundle).
pub(crate) fn fuzz_inputs() -> Vec<String> {
    renal_cohort::ALLOWED
        .iter()
        .map(|s| s.name.to_string())
        .chain(["sex".to_string()])
        .collect()
}
