//! The clinical vocabulary: every allow-listed field's name in words, and every categorical or
//! ordinal field's named values (the numeric codes stay accepted).
//!
//! One vocabulary serves people and loaders alike: `predict --set smoking_status=former`, the
//! API's `"smoking_status": "former"`, the web form's choices, and the cohort loaders reading
//! a recorded `previous_smoker` or `current daily user`. Reading a text, in order:
//! 1. empty, or a recorded "unknown" (see [`crate::vocab::is_recorded_unknown`]): missing;
//! 2. a level's word, one of its synonyms, or its code, compared case-insensitively with
//!    spaces and hyphens read as underscores;
//! 3. a level's cue word among the text's words, when the cues of exactly one level occur
//!    (`current daily user` is *current*, `quit 2 years ago` is *former*);
//! 4. anything else is not in the field's vocabulary (an error for a person, a note and a
//!    missing value for a loader).

use crate::fields::{spec, Kind, RADIOGRAPHIC_SIZE_CM};
use crate::vocab::{is_recorded_unknown, NoteKind, Reading};

/// One named value of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// The value as the field's code.
    pub code: f64,
    /// The word the tool prints and the form sends.
    pub word: &'static str,
    /// What it means, for a person.
    pub meaning: &'static str,
    /// Other spellings accepted as this value (source data's, common ones).
    pub synonyms: &'static [&'static str],
    /// Words that, alone among the levels, mark a free text as this value.
    pub cues: &'static [&'static str],
}

const fn level(
    code: f64,
    word: &'static str,
    meaning: &'static str,
    synonyms: &'static [&'static str],
    cues: &'static [&'static str],
) -> Level {
    Level {
        code,
        word,
        meaning,
        synonyms,
        cues,
    }
}

/// Yes/no fields.
pub const YES_NO: &[Level] = &[
    level(
        0.0,
        "no",
        "no",
        &["false", "n", "absent", "negative", "none"],
        &["never", "absent", "negative"],
    ),
    level(
        1.0,
        "yes",
        "yes",
        &["true", "y", "present", "positive"],
        &["current", "currently", "present", "positive"],
    ),
];

/// `sex_male`, entered as `sex`.
pub const SEX: &[Level] = &[
    level(0.0, "female", "female", &["f", "woman"], &[]),
    level(1.0, "male", "male", &["m", "man"], &[]),
];

pub const SMOKING: &[Level] = &[
    level(
        0.0,
        "never",
        "never smoked",
        &["never_smoked", "never_smoker", "non_smoker", "nonsmoker"],
        &["never"],
    ),
    level(
        1.0,
        "former",
        "former smoker",
        &[
            "previous_smoker",
            "former_smoker",
            "ex_smoker",
            "previous",
            "ex",
        ],
        &["former", "previous", "quit", "ex", "stopped"],
    ),
    level(
        2.0,
        "current",
        "current smoker",
        &["current_smoker", "smoker"],
        &["current", "currently", "daily"],
    ),
];

/// "Never, or not in the last 3 months" and "quit in the last 3 months", as KiTS23 records
/// tobacco chewing and alcohol.
const NOT_RECENTLY: Level = level(
    0.0,
    "never",
    "never, or not in the last 3 months",
    &["never_or_not_in_the_last_3_months", "none"],
    &["never"],
);
const QUIT_RECENTLY: Level = level(
    1.0,
    "quit_recently",
    "quit in the last 3 months",
    &["quit_in_last_3_months", "quit_in_the_last_3_months", "quit"],
    &["quit", "stopped"],
);

pub const CHEWING_TOBACCO: &[Level] = &[
    NOT_RECENTLY,
    QUIT_RECENTLY,
    level(
        2.0,
        "current",
        "currently chews tobacco",
        &["currently_chews", "current_user"],
        &["current", "currently", "daily"],
    ),
];

pub const ALCOHOL: &[Level] = &[
    NOT_RECENTLY,
    QUIT_RECENTLY,
    level(
        2.0,
        "up_to_2_daily",
        "2 drinks a day or fewer",
        &["two_or_less_daily", "moderate", "light"],
        &["moderate", "light"],
    ),
    level(
        3.0,
        "more_than_2_daily",
        "more than 2 drinks a day",
        &["more_than_two_daily", "heavy"],
        &["heavy"],
    ),
];

/// The named values of a field, for categorical and ordinal fields (None for measurements).
pub fn levels(name: &str) -> Option<&'static [Level]> {
    match name {
        "sex_male" | "sex" => Some(SEX),
        "smoking_status" => Some(SMOKING),
        "chewing_tobacco" => Some(CHEWING_TOBACCO),
        "alcohol_use" => Some(ALCOHOL),
        _ => match spec(name)?.kind {
            Kind::Binary => Some(YES_NO),
            _ => None,
        },
    }
}

/// The word of a field's code (`smoking_status` 1 is "former"), when it has a vocabulary.
pub fn word_of(name: &str, code: f64) -> Option<&'static str> {
    levels(name)?
        .iter()
        .find(|l| l.code == code)
        .map(|l| l.word)
}

/// A field's name in words ("Smoking", "eGFR before surgery").
pub fn label(name: &str) -> String {
    let explicit = match name {
        "age" => "Age",
        "bmi" => "Body-mass index",
        "sex_male" | "sex" => "Sex",
        "diabetes" => "Diabetes",
        "symptoms" => "Symptoms at presentation (flank pain, hematuria, palpable mass)",
        "smoking_status" => "Smoking",
        "chewing_tobacco" => "Chewing tobacco",
        "alcohol_use" => "Alcohol use",
        "preop_egfr" => "eGFR before surgery",
        "pack_years" => "Pack-years smoked",
        RADIOGRAPHIC_SIZE_CM => "Tumor size on the radiology report",
        _ => "",
    };
    if !explicit.is_empty() {
        return explicit.into();
    }
    let text = spec(name).map_or(name, |s| s.description);
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A field's unit, for measurements.
pub fn unit(name: &str) -> Option<&'static str> {
    match spec(name)?.kind {
        Kind::Numeric { unit, .. } => Some(unit),
        _ => None,
    }
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase().replace([' ', '-'], "_")
}

/// Reads a recorded or typed text through a vocabulary (see the module's rules).
pub fn read_level(table: &[Level], text: &str) -> Reading {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let norm = normalise(t);
    if let Ok(v) = t.parse::<f64>() {
        return match table.iter().find(|l| l.code == v) {
            Some(l) => Ok(Some(l.code)),
            None => Err(NoteKind::Implausible),
        };
    }
    if let Some(l) = table
        .iter()
        .find(|l| l.word == norm || l.synonyms.contains(&norm.as_str()))
    {
        return Ok(Some(l.code));
    }
    if is_recorded_unknown(t) {
        return Err(NoteKind::RecordedUnknown);
    }
    let words: Vec<&str> = norm
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let cued: Vec<&Level> = table
        .iter()
        .filter(|l| l.cues.iter().any(|c| words.contains(c)))
        .collect();
    match cued.as_slice() {
        [one] => Ok(Some(one.code)),
        _ => Err(NoteKind::NotInVocabulary),
    }
}

/// What a field accepts, in words, for error messages and listings.
pub fn accepted(name: &str) -> String {
    match (levels(name), spec(name).map(|s| s.kind)) {
        (Some(ls), _) => {
            let words: Vec<String> = ls
                .iter()
                .map(|l| {
                    let mut s = format!("{} ({}; code {}", l.word, l.meaning, l.code);
                    if !l.synonyms.is_empty() {
                        s.push_str(&format!("; also {}", l.synonyms.join(", ")));
                    }
                    s.push(')');
                    s
                })
                .collect();
            format!("{}; or unknown", words.join(", "))
        }
        (None, Some(Kind::Numeric { min, max, unit })) => {
            format!("a number from {min} to {max} {unit}; or unknown")
        }
        _ => "a value".into(),
    }
}

/// Reads a value a person typed for field `name` (`--set`, the API, the form): a number for a
/// measurement, a word, synonym or code for a category; empty or "unknown" is missing. The
/// error says what the field accepts.
pub fn parse_input(name: &str, text: &str) -> Result<Option<f64>, crate::InputError> {
    let t = text.trim();
    let reading = match levels(name) {
        Some(table) => read_level(table, t),
        None => crate::vocab::number_from_text(t),
    };
    match reading {
        Ok(v) => Ok(v),
        Err(NoteKind::RecordedUnknown) => Ok(None),
        Err(_) => Err(crate::InputError {
            text: t.escape_debug().to_string(),
            field: name.to_string(),
            label: label(name),
            accepted: accepted(name),
        }),
    }
}

/// Edit distance (Levenshtein), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != *cb) as usize)
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to a mistyped `name`: one containing it or contained in it
/// (`egfr` -> `preop_egfr`), else one within an edit distance of a third of its length.
pub fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let n = normalise(name);
    if n.len() >= 3 {
        if let Some(c) = candidates
            .iter()
            .filter(|c| c.contains(n.as_str()) || n.contains(*c))
            .min_by_key(|c| c.len().abs_diff(n.len()))
        {
            return Some(c);
        }
    }
    candidates
        .iter()
        .map(|c| (distance(&n, c), *c))
        .filter(|(d, _)| *d <= (n.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_synonyms_and_codes_read_the_same() {
        for (text, code) in [
            ("former", 1.0),
            ("Former smoker", 1.0),
            ("previous_smoker", 1.0),
            ("1", 1.0),
            ("never", 0.0),
            ("never_smoked", 0.0),
            ("CURRENT", 2.0),
            ("current daily user", 2.0),
            ("quit 2 years ago", 1.0),
        ] {
            assert_eq!(read_level(SMOKING, text), Ok(Some(code)), "{text}");
        }
        assert_eq!(
            read_level(SMOKING, "not_found_in_emr"),
            Err(NoteKind::RecordedUnknown)
        );
        assert_eq!(read_level(SMOKING, "3"), Err(NoteKind::Implausible));
        assert_eq!(
            read_level(SMOKING, "occasionally"),
            Err(NoteKind::NotInVocabulary)
        );
        // Cues of two levels: neither.
        assert_eq!(
            read_level(SMOKING, "never, now current"),
            Err(NoteKind::NotInVocabulary)
        );
        assert_eq!(read_level(YES_NO, "Yes"), Ok(Some(1.0)));
        assert_eq!(read_level(YES_NO, "current user"), Ok(Some(1.0)));
        assert_eq!(read_level(CHEWING_TOBACCO, "current user"), Ok(Some(2.0)));
        assert_eq!(read_level(ALCOHOL, "two_or_less_daily"), Ok(Some(2.0)));
    }

    #[test]
    fn every_categorical_field_has_a_vocabulary_with_distinct_words_and_codes() {
        for s in crate::fields::ALLOWED {
            let Some(ls) = levels(s.name) else {
                assert!(matches!(s.kind, Kind::Numeric { .. }), "{}", s.name);
                continue;
            };
            let max = match s.kind {
                Kind::Binary => 1.0,
                Kind::Ordinal { max } => max,
                Kind::Numeric { .. } => panic!("{} is numeric", s.name),
            };
            assert_eq!(ls.len() as f64, max + 1.0, "{}", s.name);
            for (i, l) in ls.iter().enumerate() {
                assert_eq!(l.code, i as f64, "{}", s.name);
                assert_eq!(read_level(ls, l.word), Ok(Some(l.code)));
                for syn in l.synonyms {
                    assert_eq!(read_level(ls, syn), Ok(Some(l.code)), "{} {syn}", s.name);
                }
            }
            assert!(!label(s.name).contains('_'), "{}", label(s.name));
        }
    }

    #[test]
    fn typed_values_and_their_errors() {
        assert_eq!(parse_input("diabetes", "yes"), Ok(Some(1.0)));
        assert_eq!(parse_input("diabetes", "unknown"), Ok(None));
        assert_eq!(parse_input("age", "61"), Ok(Some(61.0)));
        assert_eq!(parse_input("age", ""), Ok(None));
        let e = parse_input("smoking_status", "sometimes")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("never") && e.contains("former") && e.contains("current"),
            "{e}"
        );
        assert!(parse_input("age", "old")
            .unwrap_err()
            .to_string()
            .contains("a number from 0 to 120"));
    }

    #[test]
    fn did_you_mean_by_containment_and_distance() {
        let c = ["preop_egfr", "age", "smoking_status", "bmi"];
        assert_eq!(did_you_mean("egfr", &c), Some("preop_egfr"));
        assert_eq!(did_you_mean("smoking", &c), Some("smoking_status"));
        assert_eq!(did_you_mean("agee", &c), Some("age"));
        assert_eq!(did_you_mean("favourite_colour", &c), None);
    }
}
