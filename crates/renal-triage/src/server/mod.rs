//! `renal-triage serve`: a small web page and a JSON API around one model bundle.
//!
//! Routes: `GET /` (form), `POST /predict` (form submission, HTML answer), `POST
//! /api/v1/predict` (multipart: `clinical` JSON or one field per value, `mask` file, optional
//! `ct_<phase>` files; or a JSON body without images), `GET /api/v1/model`, `GET /healthz`,
//! `GET /openapi.json`. Limits: upload size, a timeout per prediction, a bound on concurrent
//! predictions. Uploads go to a private temporary folder and are deleted after use; logs carry
//! no patient value. Errors are JSON (or HTML for the form) with a 4xx code naming the field.

mod api;
mod archive;
mod error;
mod form;
pub mod guard;
pub mod listen;
mod openapi;
mod page;
pub use page::patient_report;
mod state;
mod upload;
pub(crate) use upload::{fuzz_inputs, fuzz_multipart};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;

use crate::model::bundle::Bundle;
use crate::model::image::{Embedder, EncoderBackend, InProcess, KeptAlive};

use api::{api_predict, health, model_info};
use openapi::openapi_doc;
use page::{form_predict, index};
use state::{AppState, UploadSpace};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub addr: String,
    /// Largest accepted request body (MiB).
    pub max_upload_mib: usize,
    /// Time allowed for one prediction (s).
    pub timeout_s: u64,
    /// Predictions running at once (others wait).
    pub concurrency: usize,
    /// An image model's encoder started for each request instead of kept alive (for
    /// comparison: `bench load --encoder-per-request`).
    pub encoder_per_request: bool,
    /// Who runs an image model's encoder.
    pub encoder: EncoderBackend,
    /// Accepted bearer tokens (hashed); required by every route but `/healthz` when set.
    pub tokens: Option<guard::Tokens>,
    /// Time allowed to receive one request's body (s).
    pub body_timeout_s: u64,
    /// Upload bytes held on disk by all requests in flight at once (MiB).
    pub max_inflight_mib: usize,
    /// Open connections at most.
    pub max_connections: usize,
    /// Time to send a request's header (s).
    pub header_timeout_s: u64,
    /// Requests per minute from one client address (all routes but `/healthz`).
    pub rate_per_minute: u32,
    /// TLS certificate chain and private key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The hospital's archive: the page and the API may predict on one of its studies.
    pub pacs: Option<renal_dicomweb::Client>,
}

/// Cancelled when the server shuts down: every request's work is under it.
fn shutdown_token() -> &'static renal_imaging::cancel::Cancel {
    static STOP: std::sync::OnceLock<renal_imaging::cancel::Cancel> = std::sync::OnceLock::new();
    STOP.get_or_init(renal_imaging::cancel::Cancel::new)
}

/// How long shutdown waits for cancelled work to reach its next check and stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

const UPLOADS_PREFIX: &str = "renal-triage-uploads-";

/// Removes the upload folders that servers no longer running left behind (a crash, a kill).
fn sweep_stale_uploads() {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix(UPLOADS_PREFIX) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !crate::output::alive(pid) {
            tracing::info!(folder = %name, "removing a stale upload folder");
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn upload_dir() -> PathBuf {
    std::env::temp_dir().join(format!("{UPLOADS_PREFIX}{}", std::process::id()))
}

fn private_upload_dir() -> Result<PathBuf> {
    let dir = upload_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Builds the router (used by `serve` and by tests).
pub fn router(bundle: Bundle, args: &Config) -> Result<Router> {
    let encoder: Option<Box<dyn Embedder + Send>> = match &bundle.manifest.image {
        None => None,
        Some(_) if args.encoder_per_request => None,
        Some(_) => Some(match args.encoder {
            EncoderBackend::Libtorch => {
                Box::new(KeptAlive::start(&bundle).context("starting the encoder worker")?)
            }
            EncoderBackend::Rust => {
                Box::new(InProcess::new(&bundle).context("loading the encoder")?)
            }
        }),
    };
    let uploads = private_upload_dir()?;
    let bundle_digest = bundle.digest.clone();
    let state = Arc::new(AppState {
        encoder,
        bundle,
        bundle_digest,
        max_body: args.max_upload_mib * 1024 * 1024,
        permits: Arc::new(Semaphore::new(args.concurrency.max(1))),
        stop: shutdown_token().child(),
        timeout: Duration::from_secs(args.timeout_s.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout_s.max(1)),
        uploads: UploadSpace::new(uploads.clone(), (args.max_inflight_mib as u64) << 20),
        pacs: args.pacs.clone(),
    });
    let g = Arc::new(guard::Guard {
        tokens: args.tokens.clone(),
        uploads,
        rate: guard::RateLimit::new(args.rate_per_minute),
    });
    Ok(Router::new()
        .route("/", get(index))
        .route("/predict", post(form_predict))
        .route("/api/v1/predict", post(api_predict))
        .route("/api/v1/model", get(model_info))
        .route("/api/v1/pacs/studies", get(archive::studies))
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_doc))
        .layer(DefaultBodyLimit::max(args.max_upload_mib * 1024 * 1024))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(g, guard::guard)))
}

/// Serves `bundle` until interrupted.
pub fn serve(bundle: Bundle, args: Config) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = rt.block_on(async move {
        let addr: SocketAddr = args
            .addr
            .parse()
            .with_context(|| format!("--addr {}", args.addr))?;
        if !addr.ip().is_loopback() && args.tokens.is_none() {
            anyhow::bail!(
                "--addr {addr} is reachable from the network: give --token-file (bearer tokens, stored hashed) to serve beyond this machine"
            );
        }
        sweep_stale_uploads();
        let app = router(bundle, &args)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        let tls = match &args.tls {
            Some((cert, key)) => Some(Arc::new(listen::tls_acceptor(cert, key)?)),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("listening on {scheme}://{local}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let uploads = upload_dir();
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {},
                        _ = term.recv() => {},
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutting down: removing the upload folder");
        };
        let limits = listen::Limits {
            max_connections: args.max_connections,
            header_timeout: Duration::from_secs(args.header_timeout_s.max(1)),
            handshake_timeout: Duration::from_secs(10),
            tls,
        };
        let r = listen::serve(listener, app, limits, shutdown).await;
        // Work still running is given up: it stops at its next check.
        shutdown_token().cancel();
        r?;
        anyhow::Ok(uploads)
    });
    // Without a bound, dropping the runtime would wait for every blocking task to finish.
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    let uploads = served?;
    let _ = std::fs::remove_dir_all(uploads);
    Ok(())
}
