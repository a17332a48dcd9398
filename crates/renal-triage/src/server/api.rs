//! The JSON API: `POST /api/v1/predict`, `GET /api/v1/model`, `GET /healthz`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::model::predict::{predict, predict_with, PatientInput, Prediction};

use super::error::ApiError;
use super::state::AppState;
use super::upload::{check_length, read_json_body, read_multipart, Uploads};

/// Cancels a request's work when dropped: at its end, at its time limit, or when the client
/// goes away and the request's future is dropped.
struct CancelOnDrop(renal_imaging::cancel::Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Runs one prediction on the blocking pool under the concurrency limit and the time limit.
/// The permit is held by the work itself, not by the request, so a request answered 504 still
/// counts against the limit until its work has stopped; and its work is cancelled (the readers
/// and measurements stop at their next check, and its memory is freed) as it is answered.
pub(super) async fn run_prediction(
    state: Arc<AppState>,
    mut input: PatientInput,
) -> Result<Prediction, ApiError> {
    let permit = tokio::time::timeout(state.timeout, state.permits.clone().acquire_owned())
        .await
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            field: "server".into(),
            message: "too many predictions in progress; try again".into(),
        })?
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            field: "server".into(),
            message: "shutting down".into(),
        })?;
    let cancel = state.stop.child();
    let _cancel_at_end = CancelOnDrop(cancel.clone());
    let st = state.clone();
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _entered = cancel.enter();
        // A study from the archive: its files in a folder of this request's, removed with it.
        let _study = match (&st.pacs, input.study_uid.is_some()) {
            (Some(client), true) => Some(super::archive::retrieve_study(
                client,
                &st.bundle,
                &mut input,
                &st.uploads.dir,
            )?),
            _ => None,
        };
        match &st.encoder {
            Some(worker) => predict_with(&st.bundle, &input, worker.as_ref()),
            None => predict(&st.bundle, &input),
        }
        .map_err(ApiError::from)
    });
    match tokio::time::timeout(state.timeout, job).await {
        Err(_) => Err(ApiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            field: "server".into(),
            message: format!(
                "the prediction took longer than {} s",
                state.timeout.as_secs()
            ),
        }),
        // A panic in the prediction, contained by its task: a generic 500 (the guard logs
        // the details under the request id; the response shows none).
        Ok(Err(e)) => Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            field: "server".into(),
            message: format!("internal error: {e}"),
        }),
        Ok(Ok(r)) => r,
    }
}

/// Reads a request's body parts within the body timeout (a client that sends too slowly is
/// answered 408 and its uploads removed).
pub(super) async fn within_body_timeout<T>(
    state: &AppState,
    f: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(state.body_timeout, f)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                field: "body".into(),
                message: format!(
                    "the request body did not arrive within {} s",
                    state.body_timeout.as_secs()
                ),
            })
        })
}

/// Who sent a request: its id and the client's address.
pub(super) struct Who {
    id: String,
    client: String,
}

impl Who {
    pub(super) fn of(req: &Request) -> Who {
        Who {
            id: req
                .extensions()
                .get::<super::guard::RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            client: req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "-".into()),
        }
    }

    /// One audit line per prediction: time (the log's), request id, client, bundle digest,
    /// outcome; never an input value.
    pub(super) fn audit(&self, state: &AppState, r: &Result<Prediction, ApiError>) {
        let (outcome, status) = match r {
            Ok(_) => ("answered".to_string(), 200),
            Err(e) => (
                format!("refused ({})", super::guard::log_safe(&e.field)),
                e.status.as_u16(),
            ),
        };
        tracing::info!(target: "audit", request_id = %self.id, client = %self.client, bundle = %state.bundle_digest, %outcome, status, "prediction");
    }
}

pub(super) async fn api_predict(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let t0 = Instant::now();
    let who = Who::of(&req);
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let result: Result<Prediction, ApiError> = async {
        check_length(&state, &req)?;
        let (input, uploads) = if ctype.starts_with("multipart/form-data") {
            let mp = Multipart::from_request(req, &())
                .await
                .map_err(|e| ApiError::bad("body", e.body_text()))?;
            within_body_timeout(&state, read_multipart(&state.uploads, mp)).await?
        } else if ctype.starts_with("application/json") {
            let mut held = Uploads::new(&state.uploads);
            let bytes =
                within_body_timeout(&state, read_json_body(req.into_body(), &mut held)).await?;
            let input: PatientInput = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad("body", format!("malformed JSON: {e}")))?;
            drop(bytes);
            if input.mask.is_some() {
                return Err(ApiError::bad(
                    "mask",
                    "send the mask as a multipart file upload, not as a path",
                ));
            }
            if let Some(name) = input.ct.keys().next() {
                return Err(ApiError::bad(
                    &format!("ct_{name}"),
                    "send CT phases as multipart file uploads (ct_<phase>), not as paths",
                ));
            }
            (input, held)
        } else {
            return Err(ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                field: "content-type".into(),
                message: format!("expected multipart/form-data or application/json, got `{ctype}`"),
            });
        };
        let r = run_prediction(state.clone(), input).await;
        drop(uploads);
        r
    }
    .await;
    who.audit(&state, &result);
    match result {
        Ok(p) => {
            tracing::info!(
                status = 200,
                ms = t0.elapsed().as_millis() as u64,
                "predict"
            );
            Json(p).into_response()
        }
        Err(e) => {
            tracing::info!(status = e.status.as_u16(), field = %super::guard::log_safe(&e.field), ms = t0.elapsed().as_millis() as u64, "predict rejected");
            e.into_response()
        }
    }
}

/// The bundle's self-description, less where its training data lay on the training machine
/// (only the folder's name is shown), and its digest.
pub(super) async fn model_info(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let mut v = serde_json::to_value(&state.bundle.manifest).unwrap_or_default();
    let source = std::path::Path::new(&state.bundle.manifest.training.source)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    v["training"]["source"] = serde_json::Value::from(source);
    v["digest"] = serde_json::Value::from(state.bundle_digest.clone());
    v["fields"] =
        serde_json::to_value(crate::model::fields::field_table(&state.bundle)).unwrap_or_default();
    Json(v)
}

pub(super) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}
