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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Positive: indolent or aggressive. Score: P(malignant) = P(indolent) + P(aggressive)
    /// (= 1 - P(benign)); the score itself is computed in one place, by the learners' task.
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

    /// The task in words, for people (files keep [`Task::name`]).
    pub fn words(self) -> &'static str {
        match self {
            Task::MalignantVsBenign => "malignant vs benign",
            Task::AggressiveVsRest => "aggressive vs the rest (benign or indolent)",
            Task::AggressiveVsIndolent => "aggressive vs indolent (malignant masses only)",
        }
    }

    /// Class indices (benign 0, indolent 1, aggressive 2) counted as positive.
    pub fn positive_classes(self) -> &'static [usize] {
        match self {
            Task::MalignantVsBenign => &[1, 2],
            Task::AggressiveVsRest | Task::AggressiveVsIndolent => &[2],
        }
    }

    /// Class indices of the cases that take part in this task.
    pub fn included_classes(self) -> &'static [usize] {
        match self {
            Task::MalignantVsBenign | Task::AggressiveVsRest => &[0, 1, 2],
            Task::AggressiveVsIndolent => &[1, 2],
        }
    }

    /// The binary target of a case, or `None` when the case is not part of this task.
    pub fn target(self, label: Label) -> Option<bool> {
        let c = label.index();
        self.included_classes()
            .contains(&c)
            .then(|| self.positive_classes().contains(&c))
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
    fn tasks_targets() {
        use Label::*;
        let t = |task: Task| [Benign, Indolent, Aggressive].map(|l| task.target(l));
        assert_eq!(
            t(Task::MalignantVsBenign),
            [Some(false), Some(true), Some(true)]
        );
        assert_eq!(
            t(Task::AggressiveVsRest),
            [Some(false), Some(false), Some(true)]
        );
        // Aggressive vs indolent: malignant cases only.
        assert_eq!(
            t(Task::AggressiveVsIndolent),
            [None, Some(false), Some(true)]
        );
    }
}
