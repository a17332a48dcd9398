//! `renal-triage serve`: a small web page and a JSON API around one model bundle.
//!
//! Routes: `GET /` (form), `POST /predict` (form submission, HTML answer), `POST
//! /api/v1/predict` (multipart: `clinical` JSON or one field per value, `mask` file, optional
//! `ct_<phase>` files; or a JSON body without images), `GET /api/v1/model`, `GET /healthz`,
//! `GET /openapi.json`. Limits: upload size, a timeout per prediction, a bound on concurrent
//! predictions. Uploads go to a private temporary folder and are deleted after use; logs carry
//! no patient value. Errors are JSON (or HTML for the form) with a 4xx code naming the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::bundle::{load_bundle, Bundle};
use crate::predict::{predict, PatientInput, PredictError, Prediction};

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Largest accepted request body (MiB).
    #[arg(long, default_value_t = 512)]
    pub max_upload_mib: usize,
    /// Time allowed for one prediction (s).
    #[arg(long, default_value_t = 60)]
    pub timeout_s: u64,
    /// Predictions running at once (others wait).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

struct AppState {
    bundle: Bundle,
    /// Largest accepted body, bytes.
    max_body: usize,
    permits: Semaphore,
    timeout: Duration,
    uploads: PathBuf,
    counter: AtomicU64,
}

/// A client or server error with the field it concerns.
struct ApiError {
    status: StatusCode,
    field: String,
    message: String,
}

impl ApiError {
    fn bad(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(
                json!({"error": self.message, "field": self.field, "status": self.status.as_u16()}),
            ),
        )
            .into_response()
    }
}

impl From<PredictError> for ApiError {
    fn from(e: PredictError) -> Self {
        match e {
            PredictError::Input(i) => ApiError::bad(&i.field, i.message),
            PredictError::Model(m) => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                field: "model".into(),
                message: m,
            },
        }
    }
}

/// Uploaded files of one request, deleted when dropped.
struct Uploads(Vec<PathBuf>);

impl Drop for Uploads {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn check_file_name(field: &str, name: Option<&str>) -> Result<(), ApiError> {
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

/// Refuses a request whose declared length exceeds the limit before reading any of it, so a
/// client that waits for `100 Continue` (as curl does for large uploads) never sends the body.
fn check_length(state: &AppState, req: &Request) -> Result<(), ApiError> {
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
async fn read_multipart(
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

async fn read_field(
    state: &AppState,
    field: axum::extract::multipart::Field<'_>,
    input: &mut PatientInput,
    uploads: &mut Uploads,
    ct: &mut Vec<(String, PathBuf)>,
) -> Result<(), ApiError> {
    let name = field.name().unwrap_or("").to_string();
    if name == "mask" || name.starts_with("ct_") {
        let bad_name = check_file_name(&name, field.file_name()).err();
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
            .join(format!("upload-{}-{id}.nii.gz", std::process::id()));
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
    let mh = renal_imaging::nifti::read_header(mask)
        .map_err(|e| ApiError::bad("mask", e.to_string()))?;
    for (name, p) in ct {
        let h =
            renal_imaging::nifti::read_header(p).map_err(|e| ApiError::bad(name, e.to_string()))?;
        mh.geometry
            .check_same_grid(&h.geometry, name, 1e-3)
            .map_err(|e| ApiError::bad(name, format!("does not match the mask: {e}")))?;
    }
    Ok(())
}

async fn run_prediction(state: Arc<AppState>, input: PatientInput) -> Result<Prediction, ApiError> {
    let _permit = tokio::time::timeout(state.timeout, state.permits.acquire())
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
    let st = state.clone();
    let job = tokio::task::spawn_blocking(move || predict(&st.bundle, &input));
    match tokio::time::timeout(state.timeout, job).await {
        Err(_) => Err(ApiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            field: "server".into(),
            message: format!(
                "the prediction took longer than {} s",
                state.timeout.as_secs()
            ),
        }),
        Ok(Err(e)) => Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            field: "server".into(),
            message: e.to_string(),
        }),
        Ok(Ok(r)) => r.map_err(ApiError::from),
    }
}

async fn api_predict(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let t0 = Instant::now();
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let result: Result<Prediction, ApiError> = async {
        check_length(&state, &req)?;
        let (input, uploads, ct) = if ctype.starts_with("multipart/form-data") {
            let mp = Multipart::from_request(req, &())
                .await
                .map_err(|e| ApiError::bad("body", e.body_text()))?;
            read_multipart(&state, mp).await?
        } else if ctype.starts_with("application/json") {
            let bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
                .await
                .map_err(|e| ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    field: "body".into(),
                    message: e.to_string(),
                })?;
            let input: PatientInput = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad("body", format!("malformed JSON: {e}")))?;
            if input.mask.is_some() {
                return Err(ApiError::bad(
                    "mask",
                    "send the mask as a multipart file upload, not as a path",
                ));
            }
            (input, Uploads(Vec::new()), Vec::new())
        } else {
            return Err(ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                field: "content-type".into(),
                message: format!("expected multipart/form-data or application/json, got `{ctype}`"),
            });
        };
        check_ct(input.mask.as_deref(), &ct)?;
        let r = run_prediction(state.clone(), input).await;
        drop(uploads);
        r
    }
    .await;
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
            tracing::info!(status = e.status.as_u16(), field = %e.field, ms = t0.elapsed().as_millis() as u64, "predict rejected");
            e.into_response()
        }
    }
}

fn esc(s: &str) -> String {
    renal_report::escape(s)
}

const PAGE_CSS: &str = "body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em}label{display:block;margin:.4em 0}\
input,select{margin-left:.5em}fieldset{margin:1em 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}.err{color:#a00;font-weight:600}\
.card{background:#f6f6f6;padding:1em;margin:1em 0}";

fn model_card(b: &Bundle) -> String {
    let m = &b.manifest;
    let cv: Vec<String> =
        m.cv.iter()
            .map(|c| {
                format!(
                    "<li>{}: AUC {:.3} (95% CI {:.3}-{:.3}), Brier {:.3}</li>",
                    c.task.name(),
                    c.auc,
                    c.auc_ci95[0],
                    c.auc_ci95[1],
                    c.brier
                )
            })
            .collect();
    format!(
        "<div class=\"card\" id=\"model-card\"><h2>Model card</h2><p><b>{}</b>, trained on {} cases ({} benign / {} indolent / {} aggressive) from {}.</p><p>Cross-validated performance:</p><ul>{}</ul><p>Research use only: not a medical device. Probabilities come from one development cohort; check them against your own population.</p></div>",
        esc(&m.model_name), m.training.cases, m.training.class_counts[0], m.training.class_counts[1], m.training.class_counts[2], esc(&m.training.source), cv.join("")
    )
}

async fn index(State(state): State<Arc<AppState>>) -> Html<String> {
    let m = &state.bundle.manifest;
    let mut fields = String::new();
    for f in m.features.iter().filter(|f| f.kind == "clinical") {
        if f.name == "sex_male" {
            fields.push_str("<label>sex<select name=\"sex\" id=\"sex\"><option value=\"\">unknown</option><option value=\"male\">male</option><option value=\"female\">female</option></select></label>");
            continue;
        }
        let range = match (f.train_min, f.train_max) {
            (Some(a), Some(b)) => format!(" (training range {a}-{b})"),
            _ => String::new(),
        };
        fields.push_str(&format!(
            "<label>{0}{1}<input type=\"text\" name=\"{0}\" id=\"{0}\"></label>",
            esc(&f.name),
            esc(&range)
        ));
    }
    let needs_mask = m.features.iter().any(|f| f.kind == "size");
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage</title><style>{PAGE_CSS}</style></head><body><h1>Renal mass triage</h1>\
<form action=\"/predict\" method=\"post\" enctype=\"multipart/form-data\" id=\"predict-form\"><fieldset><legend>Patient</legend><label>case id<input type=\"text\" name=\"case_id\" id=\"case_id\"></label>{fields}</fieldset>\
<fieldset><legend>Images</legend><label>tumor mask or segmentation (NIfTI){}<input type=\"file\" name=\"mask\" id=\"mask\"></label></fieldset><button type=\"submit\" id=\"submit\">Predict</button></form>{}</body></html>",
        if needs_mask { " (required)" } else { "" },
        model_card(&state.bundle)
    ))
}

fn result_page(state: &AppState, r: Result<Prediction, ApiError>) -> Response {
    let body = match &r {
        Ok(p) => {
            let rows: Vec<String> = [
                ("benign", p.p_benign),
                ("malignant-indolent", p.p_indolent),
                ("malignant-aggressive", p.p_aggressive),
                ("malignant (any)", p.p_malignant),
            ]
            .iter()
            .map(|(k, v)| {
                format!(
                    "<tr><td>{k}</td><td id=\"p-{}\">{v:.3}</td></tr>",
                    k.replace([' ', '(', ')'], "")
                )
            })
            .collect();
            let dec: Vec<String> = p
                .decisions
                .iter()
                .map(|d| format!("<li>{}</li>", esc(&d.statement)))
                .collect();
            format!(
                "<h2>Result{}</h2><table id=\"result\"><tr><th>class</th><th>probability</th></tr>{}</table><p>Tumor size measured: {}</p><ul id=\"decisions\">{}</ul><p id=\"summary\">{}</p>",
                p.case_id.as_deref().map(|c| format!(" for {}", esc(c))).unwrap_or_default(),
                rows.join(""),
                p.tumor_size_mm.map(|s| format!("{s:.1} mm")).unwrap_or_else(|| "-".into()),
                dec.join(""),
                esc(&p.summary)
            )
        }
        Err(e) => format!(
            "<p class=\"err\" id=\"error\">{}: {}</p>",
            esc(&e.field),
            esc(&e.message)
        ),
    };
    let status = r
        .as_ref()
        .map(|_| StatusCode::OK)
        .unwrap_or_else(|e| e.status);
    let html = format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage result</title><style>{PAGE_CSS}</style></head><body><h1>Renal mass triage</h1>{body}<p><a href=\"/\">New prediction</a></p>{}</body></html>", model_card(&state.bundle));
    (status, Html(html)).into_response()
}

async fn form_predict(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let r = async {
        check_length(&state, &req)?;
        let mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad("form", e.body_text()))?;
        let (input, uploads, ct) = read_multipart(&state, mp).await?;
        check_ct(input.mask.as_deref(), &ct)?;
        let r = run_prediction(state.clone(), input).await;
        drop(uploads);
        r
    }
    .await;
    tracing::info!(
        status = r
            .as_ref()
            .map(|_| 200)
            .unwrap_or_else(|e| e.status.as_u16()),
        "form predict"
    );
    result_page(&state, r)
}

async fn model_info(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&state.bundle.manifest).unwrap_or_default())
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The OpenAPI 3 description of the JSON API.
pub fn openapi() -> serde_json::Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "renal-triage", "version": env!("CARGO_PKG_VERSION"), "description": "Benign / indolent / aggressive renal mass probabilities for one patient."},
        "paths": {
            "/api/v1/predict": {"post": {
                "summary": "Predict for one patient",
                "requestBody": {"required": true, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "case_id": {"type": "string"},
                        "clinical": {"type": "string", "description": "JSON object of pre-operative values by feature name; or send each value as its own field"},
                        "mask": {"type": "string", "format": "binary", "description": "NIfTI segmentation or tumor mask"}
                    }}},
                    "application/json": {"schema": {"type": "object", "properties": {"case_id": {"type": "string"}, "clinical": {"type": "object"}}}}
                }},
                "responses": {
                    "200": {"description": "Probabilities, decisions at the CV thresholds, warnings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Prediction"}}}},
                    "400": {"description": "Invalid input; `field` names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "413": {"description": "Upload too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "415": {"description": "Unsupported content type"},
                    "503": {"description": "Too many predictions in progress"}
                }
            }},
            "/api/v1/model": {"get": {"summary": "The model card and bundle manifest", "responses": {"200": {"description": "Manifest"}}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "field", "status"], "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "status": {"type": "integer"}}},
            "Prediction": {"type": "object", "properties": {
                "p_benign": {"type": "number"}, "p_indolent": {"type": "number"}, "p_aggressive": {"type": "number"},
                "p_malignant": {"type": "number"}, "p_aggressive_vs_rest": {"type": "number"}, "tumor_size_mm": {"type": "number", "nullable": true},
                "decisions": {"type": "array", "items": {"type": "object"}}, "imputed": {"type": "array", "items": {"type": "string"}},
                "out_of_range": {"type": "array", "items": {"type": "object"}}, "cv": {"type": "array", "items": {"type": "object"}}, "summary": {"type": "string"}
            }}
        }}
    })
}

async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi())
}

fn private_upload_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("renal-triage-uploads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Builds the router (used by `serve` and by tests).
pub fn router(bundle: Bundle, args: &ServeArgs) -> Result<Router> {
    let state = Arc::new(AppState {
        bundle,
        max_body: args.max_upload_mib * 1024 * 1024,
        permits: Semaphore::new(args.concurrency.max(1)),
        timeout: Duration::from_secs(args.timeout_s.max(1)),
        uploads: private_upload_dir()?,
        counter: AtomicU64::new(0),
    });
    Ok(Router::new()
        .route("/", get(index))
        .route("/predict", post(form_predict))
        .route("/api/v1/predict", post(api_predict))
        .route("/api/v1/model", get(model_info))
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_doc))
        .layer(DefaultBodyLimit::max(args.max_upload_mib * 1024 * 1024))
        .with_state(state))
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let bundle = load_bundle(&args.model)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = router(bundle, &args)?;
        let addr: SocketAddr = args
            .addr
            .parse()
            .with_context(|| format!("--addr {}", args.addr))?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        println!("listening on http://{local}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let uploads =
            std::env::temp_dir().join(format!("renal-triage-uploads-{}", std::process::id()));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = std::fs::remove_dir_all(uploads);
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
