//! Slurm planning, below the `slurm` command: the sbatch scripts of a cohort's per-case work
//! (an array job of shards, the merge, the encoder's GPU job, the analysis), their
//! submission with `afterok` dependencies, and a work folder's status with its jobs' states
//! from `squeue`. The command reads its arguments into a [`SlurmPlan`] and prints what these
//! return; nothing here prints.

mod plan;
mod submit;

pub use plan::{write_plan, SlurmPlan};
pub use submit::{status, submit, Status, Submitted};
