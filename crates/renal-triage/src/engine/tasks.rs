//! The binary tasks of the study as the learners and the statistics see them: one definition
//! (`renal_cohort::Task`: which classes are positive and which are included) and one score
//! (`renal_learn::BinaryTask::score`: the clamped sum of the positive classes' probabilities),
//! used by cross-validation (thresholds, metrics), external validation, `predict` and the
//! benchmarks alike, so a threshold learned in CV is compared with the same number it was
//! learned on.

use anyhow::{ensure, Result};
use renal_cohort::Task;
use renal_learn::BinaryTask;

/// The learner-side task for a cohort task (class indices: benign 0, indolent 1, aggressive 2).
pub fn binary_task(t: Task) -> BinaryTask {
    BinaryTask {
        name: t.name().into(),
        positive: t.positive_classes().to_vec(),
        included: t.included_classes().to_vec(),
    }
}

/// The score of `task` from class probabilities `[P(benign), P(indolent), P(aggressive)]`:
/// P(malignant) for malignant vs benign, P(aggressive) for the aggressive tasks.
pub fn score(task: Task, proba: &[f64; 3]) -> f64 {
    binary_task(task).score(proba)
}

/// The study's tasks as the learners take them (for benchmarks and tests).
pub fn study_tasks() -> Vec<BinaryTask> {
    [Task::MalignantVsBenign, Task::AggressiveVsRest]
        .into_iter()
        .map(binary_task)
        .collect()
}

/// Pairs each task with its threshold (the learners return them in task order); a count that
/// differs is an error, never a silent truncation.
pub fn task_thresholds(
    tasks: &[Task],
    thresholds: &[Option<f64>],
) -> Result<Vec<(Task, Option<f64>)>> {
    ensure!(
        tasks.len() == thresholds.len(),
        "{} thresholds for {} tasks",
        thresholds.len(),
        tasks.len()
    );
    Ok(tasks
        .iter()
        .copied()
        .zip(thresholds.iter().copied())
        .collect())
}
