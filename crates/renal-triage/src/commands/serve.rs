//! `renal-triage serve`: a web page and a JSON API around one model bundle (see
//! [`crate::server`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::model::bundle::load_bundle;
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
}

use crate::model::image::EncoderBackend;

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let bundle = load_bundle(&args.model)?;
    serve(
        bundle,
        Config {
            addr: args.addr,
            max_upload_mib: args.max_upload_mib,
            timeout_s: args.timeout_s,
            concurrency: args.concurrency,
            encoder_per_request: false,
            encoder: args.encoder_backend,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
