//! `renal-triage serve`: a web page and a JSON API around one model bundle (see
//! [`crate::server`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::server::{serve, Config};

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
    /// Who runs an image model's encoder: the libtorch encoder process, kept alive (the
    /// default: faster per request once warm), or the network in plain Rust in the server's
    /// process (docs/bench/README.md compares them).
    #[arg(long, value_enum, default_value_t = EncoderBackend::Libtorch)]
    pub encoder_backend: EncoderBackend,
    /// Bearer tokens accepted, one `sha256:<hex>` per line (the tokens' sha256: `printf %s
    /// TOKEN | sha256sum`); every route but `/healthz` then needs `Authorization: Bearer
    /// TOKEN`. Required when `--addr` is not a loopback address.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub trust: super::BundleTrust,
    /// Serve a bundle whose cross-validated AUC is below the floor (0.6) anyway.
    #[arg(long)]
    pub allow_weak_model: bool,
    /// Time allowed to receive one request's body (s): a client that sends slower is cut off.
    #[arg(long, default_value_t = 120)]
    pub body_timeout_s: u64,
    /// Upload bytes all requests in flight may hold on disk at once (MiB); beyond it a
    /// request is answered 503.
    #[arg(long, default_value_t = 4096)]
    pub max_inflight_mib: usize,
    /// Open connections at most (beyond: closed at once).
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Time a client has to send a request's header, and to start the next request on a
    /// kept-alive connection (s).
    #[arg(long, default_value_t = 10)]
    pub header_timeout_s: u64,
    /// Requests per minute from one client address (all routes but `/healthz`; 0: no limit).
    #[arg(long, default_value_t = 600)]
    pub rate_per_minute: u32,
    /// TLS: the certificate chain (PEM); with `--tls-key`, the server speaks HTTPS only.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS: the certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The hospital's DICOMweb archive (e.g. `http://pacs:8042/dicom-web`): the page finds a
    /// patient's studies and predicts on one instead of an upload.
    #[arg(long)]
    pub pacs: Option<String>,
    /// The archive's user (password from --pacs-password-file or RENAL_TRIAGE_PACS_PASSWORD).
    #[arg(long, requires = "pacs")]
    pub pacs_user: Option<String>,
    #[arg(long, requires = "pacs_user")]
    pub pacs_password_file: Option<PathBuf>,
    /// A file holding the archive's bearer token (or RENAL_TRIAGE_PACS_TOKEN).
    #[arg(long, requires = "pacs", conflicts_with = "pacs_user")]
    pub pacs_token_file: Option<PathBuf>,
    /// PEM file of the certificate authorities trusted for an https archive.
    #[arg(long, requires = "pacs")]
    pub pacs_ca_file: Option<PathBuf>,
}

use crate::model::image::EncoderBackend;

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let bundle = args.trust.load(&args.model)?;
    let weak =
        crate::model::bundle::weak_tasks(&bundle.manifest, crate::model::bundle::WEAK_AUC_FLOOR);
    if !weak.is_empty() && !args.allow_weak_model {
        anyhow::bail!(
            "refusing to serve a model that discriminates poorly in cross-validation: {} (below {}). Pass --allow-weak-model to serve it anyway",
            weak.join(", "),
            crate::model::bundle::WEAK_AUC_FLOOR
        );
    }
    let pacs = match &args.pacs {
        Some(url) => Some(
            super::pacs::ArchiveArgs {
                url: url.clone(),
                user: args.pacs_user.clone(),
                password_file: args.pacs_password_file.clone(),
                token_file: args.pacs_token_file.clone(),
                ca_file: args.pacs_ca_file.clone(),
                timeout: args.timeout_s.max(1),
                retries: 2,
            }
            .client(args.concurrency.max(1))?,
        ),
        None => None,
    };
    let tokens = args
        .token_file
        .as_deref()
        .map(crate::server::guard::Tokens::load)
        .transpose()?;
    serve(
        bundle,
        Config {
            addr: args.addr,
            max_upload_mib: args.max_upload_mib,
            timeout_s: args.timeout_s,
            concurrency: args.concurrency,
            encoder_per_request: false,
            encoder: args.encoder_backend,
            tokens,
            body_timeout_s: args.body_timeout_s,
            max_inflight_mib: args.max_inflight_mib,
            max_connections: args.max_connections,
            header_timeout_s: args.header_timeout_s,
            rate_per_minute: args.rate_per_minute,
            tls: args.tls_cert.zip(args.tls_key),
            pacs,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
