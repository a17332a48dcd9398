//! The three outcome classes and the binary tasks derived from them.

use crate::error::{CohortError, Result};

/// Bhindi et al. (2018) outcome class of a renal mass.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Benign,
    Indolent,
    Aggressive,
}

impl Label {
    pub const ALL: [Label; 3] = [Label::Benign, Label::Indolent, Label::Aggressive];

    /// Class index used for probability columns: benign 0, indolent 1, aggressive 2.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Label::Benign => "benign",
            Label::Indolent => "indolent",
            Label::Aggressive => "aggressive",
        }
    }

    /// Parses `benign|indolent|aggressive` (also `malignant-indolent`, `malignant-aggressive`) or
    /// `0|1|2`.
    pub fn parse(s: &str) -> Result<Label> {
        match s.trim().to_ascii_lowercase().as_str() {
            "benign" | "0" => Ok(Label::Benign),
            "indolent" | "malignant-indolent" | "malignant_indolent" | "1" => Ok(Label::Indolent),
            "aggressive" | "malignant-aggressive" | "malignant_aggressive" | "2" => {
                Ok(Label::Aggressive)
            }
            _ => Err(CohortError::InvalidLabel {
                value: s.to_string(),
            }),
        }
    }
}

/// The binary questions asked of the 3-class prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Positive: indolent or aggressive. Score: P(malignant) = 1 - P(benign).
    MalignantVsBenign,
    /// Positive: aggressive; "rest" includes benign as well as indolent cases, as in the study's
    /// code. Score: P(aggressive).
    AggressiveVsRest,
    /// Malignant cases only (benign excluded). Positive: aggressive. Score: P(aggressive).
    AggressiveVsIndolent,
}

impl Task {
    pub const ALL: [Task; 3] = [
        Task::MalignantVsBenign,
        Task::AggressiveVsRest,
        Task::AggressiveVsIndolent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::MalignantVsBenign => "malignant_vs_benign",
            Task::AggressiveVsRest => "aggressive_vs_rest",
            Task::AggressiveVsIndolent => "aggressive_vs_indolent",
        }
    }

    /// The binary target of a case, or `None` when the case is not part of this task.
    pub fn target(self, label: Label) -> Option<bool> {
        match (self, label) {
            (Task::MalignantVsBenign, l) => Some(l != Label::Benign),
            (Task::AggressiveVsRest, l) => Some(l == Label::Aggressive),
            (Task::AggressiveVsIndolent, Label::Benign) => None,
            (Task::AggressiveVsIndolent, l) => Some(l == Label::Aggressive),
        }
    }

    /// The task's score from class probabilities `[P(benign), P(indolent), P(aggressive)]`.
    pub fn score(self, proba: [f64; 3]) -> f64 {
        match self {
            Task::MalignantVsBenign => 1.0 - proba[0],
            Task::AggressiveVsRest | Task::AggressiveVsIndolent => proba[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_indices() {
        assert_eq!(Label::parse("Benign").unwrap(), Label::Benign);
        assert_eq!(Label::parse("1").unwrap(), Label::Indolent);
        assert_eq!(Label::parse(" aggressive ").unwrap(), Label::Aggressive);
        let e = Label::parse("malignant").unwrap_err().to_string();
        assert!(e.contains("`malignant`"), "{e}");
    }

    #[test]
    fn tasks_targets_and_scores() {
        assert_eq!(Task::MalignantVsBenign.target(Label::Indolent), Some(true));
        assert_eq!(Task::AggressiveVsRest.target(Label::Benign), Some(false));
        assert_eq!(Task::AggressiveVsIndolent.target(Label::Benign), None);
        let p = [0.2, 0.5, 0.3];
        assert!((Task::MalignantVsBenign.score(p) - 0.8).abs() < 1e-15);
        assert_eq!(Task::AggressiveVsRest.score(p), 0.3);
    }
}
