//! renal-triage as a library: the pieces the binary is made of (data location, cohort
//! measurement, feature tables, experiment runs), usable from tests and other tools.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod bundle;
pub mod cmd_bench;
pub mod cmd_cohort;
pub mod cmd_embed;
pub mod cmd_fetch;
pub mod cmd_reproduce;
pub mod cmd_train;
pub mod data;
pub mod encoder_run;
pub mod experiment;
pub mod features;
pub mod images;
pub mod measure;
pub mod output;
pub mod predict;
pub mod report_build;
pub mod results;
pub mod serve;
pub mod tables;
pub mod validate;

use std::path::PathBuf;

/// Logs to stderr through `tracing`, filtered by `$RENAL_TRIAGE_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RENAL_TRIAGE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// Default folder for fetched data: `$XDG_CACHE_HOME/renal-triage` or `~/.cache/renal-triage`.
pub fn cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("renal-triage");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/renal-triage"))
        .unwrap_or_else(|| PathBuf::from(".renal-triage-cache"))
}
