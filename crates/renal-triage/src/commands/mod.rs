//! One module per subcommand: typed arguments (clap), the call into the engine, model, report
//! or server, and what is printed.

pub mod bench;
pub mod cohort;
pub mod embed;
pub mod fetch;
pub mod predict;
pub mod reproduce;
pub mod serve;
pub mod train;
