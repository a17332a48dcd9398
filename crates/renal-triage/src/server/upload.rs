//! Uploads of one request: size limits, multipart reading into a private folder, file
//! checks (names, CT phases against the mask's grid), deletion when the request ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Result;
use axum::extract::{Multipart, Request};
use axum::http::{header, StatusCode};

use crate::model::predict::PatientInput;

use super::error::ApiError;
use super::state::AppState;

/// Uploaded files of one request, deleted when dropped.
pub(super) struct Uploads(pub(super) Vec<PathBuf>);

impl Drop for Uploads {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
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

/// Reads a multipart request into an input and saved uploads. After a rejected field the rest
/// of the (size-limited) body is still read, so the client receives the error instead of a
/// broken connection.
pub(super) async fn read_multipart(
    state: &AppState,
    mut mp: Multipart,
) -> Result<(PatientInput, Uploads, Vec<(String, PathBuf)>), ApiError> {
    let mut input = PatientInput::default();
    let mut uploads = Uploads(Vec::new());
    let mut ct = Vec::new();
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
        if let Err(e) = read_field(state, field, &mut input, &mut uploads, &mut ct).await {
            if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                return Err(e);
            }
            first_error = Some(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok((input, uploads, ct)),
    }
}

pub(super) async fn read_field(
    state: &AppState,
    field: axum::extract::multipart::Field<'_>,
    input: &mut PatientInput,
    uploads: &mut Uploads,
    ct: &mut Vec<(String, PathBuf)>,
) -> Result<(), ApiError> {
    let name = field.name().unwrap_or("").to_string();
    if name == "mask" || name.starts_with("ct_") {
        let bad_name = check_file_name(&name, field.file_name()).err();
        let ext = stored_extension(field.file_name());
        let bytes = field.bytes().await.map_err(|e| ApiError {
            status: e.status(),
            field: name.clone(),
            message: e.body_text(),
        })?;
        if let Some(e) = bad_name {
            return Err(e);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let id = state.counter.fetch_add(1, Ordering::Relaxed);
        let path = state
            .uploads
            .join(format!("upload-{}-{id}{ext}", std::process::id()));
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                field: name.clone(),
                message: format!("cannot store the upload: {e}"),
            })?;
        uploads.0.push(path.clone());
        if name == "mask" {
            input.mask = Some(path);
        } else {
            ct.push((name, path));
        }
        return Ok(());
    }
    let text = field.text().await.map_err(|e| ApiError {
        status: e.status(),
        field: name.clone(),
        message: e.body_text(),
    })?;
    match name.as_str() {
        "case_id" => input.case_id = (!text.trim().is_empty()).then(|| text.trim().to_string()),
        "clinical" => {
            let m: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| ApiError::bad("clinical", format!("malformed JSON: {e}")))?;
            input.clinical.extend(m);
        }
        _ if text.trim().is_empty() => {}
        _ => {
            input
                .clinical
                .insert(name, serde_json::Value::from(text.trim()));
        }
    }
    Ok(())
}

/// Gives the input its uploaded CT phases (`ct_<phase>` fields) by phase name, after
/// [`check_ct`].
pub(super) fn attach_ct(input: &mut PatientInput, ct: Vec<(String, PathBuf)>) {
    input.ct = ct
        .into_iter()
        .map(|(field, path)| (field.trim_start_matches("ct_").to_string(), path))
        .collect();
}

/// Checks every CT phase against the mask's grid.
pub(super) fn check_ct(mask: Option<&Path>, ct: &[(String, PathBuf)]) -> Result<(), ApiError> {
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
