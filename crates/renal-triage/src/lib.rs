//! renal-triage as a library: the pieces the binary is made of, usable from tests and other
//! tools. Layers, each depending only on those after it (see `docs/architecture.md`):
//!
//! - [`commands`]: one module per subcommand (typed arguments, printing);
//! - [`server`]: the HTTP layer of `serve` (router, API, form, upload);
//! - [`report`]: renders an engine [`engine::reproduce::Outcome`] as HTML with figures;
//! - [`model`]: model bundles and prediction for one patient;
//! - [`engine`]: the computation (no clap, no HTTP, no printing);
//! - [`output`], [`progress`]: atomic file writing and progress bars.

// The public surface: what the binary (`commands`), the integration tests (the engine steps
// they drive directly), the fuzz targets (`fuzz`) and the Python package (`model`: bundles
// and prediction for one patient) use; everything else is crate-private,
// so the compiler reports what nothing uses. `tests/architecture.rs` holds it to this list.
pub mod commands;
pub mod engine;
pub mod fuzz;
pub mod model;
pub(crate) mod output;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod server;

use std::path::PathBuf;

/// Logs to stderr through `tracing`, filtered by `$RENAL_TRIAGE_LOG` (default `info`, with
/// the JPEG 2000 decoder's per-codestream progress messages at `warn`).
pub fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RENAL_TRIAGE_LOG")
                .unwrap_or_else(|_| "info,jpeg2k=warn,openjp2=warn".into()),
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
