//! The hospital's archive behind the server (`serve --pacs URL`): the page and the API find a
//! patient's studies (`GET /api/v1/pacs/studies?patient_id=ID`, QIDO-RS) and predict on one
//! (`study_uid` in the form or the JSON instead of uploaded images): the study's series are
//! retrieved (WADO-RS) into a folder of the request's own, removed when it is answered.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use renal_dicomweb::{tags, Client};

use crate::engine::pacs::{fetch_study, plan_study, study_series, PacsError, PhaseChoice};
use crate::model::bundle::Bundle;
use crate::model::predict::PatientInput;

use super::error::ApiError;
use super::state::AppState;

/// A study as the page lists it.
#[derive(Debug, serde::Serialize)]
struct StudyRow {
    study_uid: String,
    date: String,
    description: String,
    modalities: String,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct StudyQuery {
    #[serde(default)]
    patient_id: String,
}

fn archive_error(e: PacsError) -> ApiError {
    let status = if e.archive_down() {
        StatusCode::BAD_GATEWAY
    } else {
        match &e {
            PacsError::Archive(renal_dicomweb::DicomWebError::NotFound { .. }) => {
                StatusCode::NOT_FOUND
            }
            PacsError::Archive(_) | PacsError::Io { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    };
    // The archive's URL stays on the server: the client sees the reason only.
    let message = match &e {
        PacsError::Archive(renal_dicomweb::DicomWebError::NotFound { .. }) => {
            "the study is not in the archive".to_string()
        }
        PacsError::Archive(a) => format!("the archive: {}", without_url(&a.to_string())),
        other => other.to_string(),
    };
    ApiError {
        status,
        field: "study_uid".into(),
        message,
    }
}

/// An archive error's text less its leading `URL: `.
fn without_url(s: &str) -> String {
    match s.split_once(": ") {
        Some((head, rest)) if head.starts_with("http") => rest.to_string(),
        _ => s.to_string(),
    }
}

/// `GET /api/v1/pacs/studies?patient_id=ID`: one patient's studies (never the whole archive).
pub(super) async fn studies(
    State(state): State<Arc<AppState>>,
    Query(q): Query<StudyQuery>,
) -> Response {
    let Some(client) = state.pacs.clone() else {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            field: "server".into(),
            message: "this server is not connected to an imaging archive (serve --pacs)".into(),
        }
        .into_response();
    };
    let id = q.patient_id.trim().to_string();
    if let Err(e) = crate::model::sr::check_patient_id(&id) {
        return ApiError::bad("patient_id", e).into_response();
    }
    let job = tokio::task::spawn_blocking(move || {
        client.search(
            "studies",
            &[
                ("PatientID", id.as_str()),
                ("includefield", tags::STUDY_DESCRIPTION),
                ("includefield", tags::MODALITIES_IN_STUDY),
            ],
        )
    });
    match tokio::time::timeout(state.timeout, job).await {
        Ok(Ok(Ok(found))) => {
            let rows: Vec<StudyRow> = found
                .iter()
                .filter_map(|a| {
                    Some(StudyRow {
                        study_uid: a.text(tags::STUDY_UID)?,
                        date: a.text(tags::STUDY_DATE).unwrap_or_default(),
                        description: a.text(tags::STUDY_DESCRIPTION).unwrap_or_default(),
                        modalities: modalities(a),
                    })
                })
                .collect();
            Json(rows).into_response()
        }
        Ok(Ok(Err(e))) => archive_error(PacsError::Archive(e)).into_response(),
        _ => ApiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            field: "archive".into(),
            message: "the archive did not answer in time".into(),
        }
        .into_response(),
    }
}

fn modalities(a: &renal_dicomweb::Attributes) -> String {
    a.0.get(tags::MODALITIES_IN_STUDY)
        .and_then(|v| v.get("Value"))
        .and_then(|v| v.as_array())
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Gives `input` the images of its `study_uid`, retrieved into a new folder under `root`
/// (returned: the files live as long as it does).
pub(super) fn retrieve_study(
    client: &Client,
    bundle: &Bundle,
    input: &mut PatientInput,
    root: &std::path::Path,
) -> Result<tempfile::TempDir, ApiError> {
    let Some(study) = input.study_uid.take() else {
        return Err(ApiError::bad("study_uid", "no study given"));
    };
    if input.mask.is_some() || !input.ct.is_empty() {
        return Err(ApiError::bad(
            "study_uid",
            "give a study from the archive or uploaded images, not both",
        ));
    }
    crate::model::sr::check_uid(&study).map_err(|e| ApiError::bad("study_uid", e))?;
    let dir = tempfile::tempdir_in(root).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        field: "server".into(),
        message: format!("no folder for the study: {e}"),
    })?;
    let plan = study_series(client, &study)
        .and_then(|s| {
            plan_study(
                &study,
                s,
                bundle.manifest.ct_phases(),
                &PhaseChoice::default(),
            )
        })
        .map_err(archive_error)?;
    let local = fetch_study(client, &plan, dir.path()).map_err(archive_error)?;
    input.mask = Some(local.mask);
    input.ct = local.phases;
    Ok(dir)
}
