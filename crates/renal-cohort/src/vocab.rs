//! Reading recorded values into features without losing patients.
//!
//! A feature value that cannot be read never excludes a case (only the fields that decide the
//! label may): it becomes missing, imputed in-fold like any missing value, and a [`ValueNote`]
//! says which case, which field, which value and why, for `cohort/warnings.csv` and the report.
//!
//! Values that say "unknown" are recognised by a rule, not a list of spellings (see
//! [`is_recorded_unknown`]): `not_found_in_emr`, `Unknown`, `N/A`, `not recorded`,
//! `missing`, `undocumented`, ... Any other string outside a field's vocabulary is
//! [`NoteKind::NotInVocabulary`]. The vocabularies themselves are in [`crate::words`].

/// Why a recorded value became missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The record says the value is unknown (`not_found_in_emr`, `unknown`, `n/a`, ...).
    RecordedUnknown,
    /// A category the field's vocabulary does not hold.
    NotInVocabulary,
    /// Text where a number was expected.
    NotANumber,
    /// A number outside the feature's plausible range (or not 0/1, or not an allowed level).
    Implausible,
}

impl NoteKind {
    pub fn name(self) -> &'static str {
        match self {
            NoteKind::RecordedUnknown => "recorded_unknown",
            NoteKind::NotInVocabulary => "not_in_vocabulary",
            NoteKind::NotANumber => "not_a_number",
            NoteKind::Implausible => "implausible",
        }
    }

    /// Whether the value deserves a warning (a recorded "unknown" is just missing).
    pub fn is_warning(self) -> bool {
        self != NoteKind::RecordedUnknown
    }
}

/// One recorded value read as missing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ValueNote {
    /// The feature it would have fed (e.g. `smoking_status`).
    pub feature: String,
    /// The source field (e.g. `smoking_history`).
    pub field: String,
    /// The value as recorded.
    pub value: String,
    pub kind: NoteKind,
}

/// The outcome of reading one recorded value: a number, missing, or missing with a reason.
pub type Reading = Result<Option<f64>, NoteKind>;

const UNKNOWN_WORDS: &[&str] = &[
    "unknown",
    "unk",
    "missing",
    "na",
    "nan",
    "null",
    "none",
    "nk",
    "nr",
    "undocumented",
    "unrecorded",
    "unavailable",
    "undetermined",
    "unspecified",
    "indeterminate",
    "declined",
    "refused",
];
const DOCUMENTATION_WORDS: &[&str] = &[
    "found",
    "recorded",
    "documented",
    "available",
    "known",
    "reported",
    "assessed",
    "obtained",
    "stated",
    "specified",
    "applicable",
    "given",
    "provided",
    "collected",
    "done",
];

/// Whether a recorded string says "unknown" rather than giving a value.
///
/// Rule: lowercased and split into words on anything but letters and digits, the value is
/// unknown when it has no word at all (`?`, `-`, `--`), when any word, or all its words
/// run together (`N/A`), is an unknown word
/// (`unknown`, `missing`, `na`, `null`, `undocumented`, `declined`, ...), or when a negation
/// (`not`, `no`, `non`) is followed later by a documentation word (`found`, `recorded`,
/// `documented`, `available`, `known`, `applicable`, ...): `not_found_in_emr`,
/// `Not recorded`, `no data available`. `never_or_not_in_the_last_3_months` is a value.
pub fn is_recorded_unknown(s: &str) -> bool {
    let lower = s.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return true;
    }
    // `N/A`, `n.k.`: the letters together.
    if UNKNOWN_WORDS.contains(&words.concat().as_str())
        || words.iter().any(|w| UNKNOWN_WORDS.contains(w))
    {
        return true;
    }
    words.iter().enumerate().any(|(i, w)| {
        matches!(*w, "not" | "no" | "non")
            && words[i + 1..]
                .iter()
                .any(|d| DOCUMENTATION_WORDS.contains(d))
    })
}

/// Reads a number from text: empty is missing, a recorded unknown or other text a note.
pub fn number_from_text(s: &str) -> Reading {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(NoteKind::Implausible),
        Err(_) if is_recorded_unknown(t) => Err(NoteKind::RecordedUnknown),
        Err(_) => Err(NoteKind::NotANumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_recognised_by_rule() {
        for s in [
            "not_found_in_emr",
            "Not recorded",
            "unknown",
            "UNK",
            "N/A",
            "na",
            "?",
            "--",
            "no data available",
            "not_applicable",
            "Undocumented",
            "patient declined",
            "missing",
        ] {
            assert!(is_recorded_unknown(s), "{s}");
        }
        for s in [
            "never_or_not_in_the_last_3_months",
            "never_smoked",
            "current_smoker",
            "two_or_less_daily",
            "quit_in_last_3_months",
            "male",
            "no",
        ] {
            assert!(!is_recorded_unknown(s), "{s}");
        }
    }

    #[test]
    fn numbers_and_notes() {
        assert_eq!(number_from_text(" 61.5 "), Ok(Some(61.5)));
        assert_eq!(number_from_text("sixty"), Err(NoteKind::NotANumber));
        assert_eq!(number_from_text("unknown"), Err(NoteKind::RecordedUnknown));
        assert_eq!(number_from_text("inf"), Err(NoteKind::Implausible));
    }
}
