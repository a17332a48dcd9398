//! Ground truth from histology: benign / malignant-indolent / malignant-aggressive.
//!
//! The rules of Bhindi et al. (2018), as used by the study (Aminy et al.), applied in order:
//!
//! | rule | condition | class |
//! |---|---|---|
//! | `B1 benign` | `malignant == false` | benign |
//! | `A1 high-grade ccRCC/pRCC` | clear-cell or papillary RCC with ISUP grade 3 or 4 | aggressive |
//! | `A2 aggressive subtype` | collecting duct, MiT translocation, HLRCC (FH-deficient), unclassified RCC, or a malignant non-RCC tumor (urothelial, Wilms, malignant spindle cell) | aggressive |
//! | `A3 necrosis/sarcomatoid` | coagulative necrosis or sarcomatoid features, except low-grade (ISUP 1-2) papillary RCC | aggressive |
//! | `A4 stage and size` | pathologic T stage above T1a and pathologic size above 4 cm | aggressive |
//! | `I1 other malignant` | any other malignant tumor | indolent |
//!
//! A record is never guessed: when the class depends on a field that is missing (say the ISUP
//! grade of a clear-cell RCC with no necrosis), or the histology string is unknown, the case
//! is excluded with the reason. An aggressive rule that fires settles the class even when other
//! fields are missing.
//!
//! # References
//! Bhindi B, Thompson RH, Lohse CM, et al. (2018). The probability of aggressive versus indolent
//! histology based on renal tumor size: implications for surveillance and treatment.
//! European Urology 74(4):489-497.

use crate::label::Label;

/// Histologic subtypes, with the spellings accepted for each (KiTS23's first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Subtype {
    ClearCell,
    Papillary,
    Chromophobe,
    ClearCellPapillary,
    MultilocularCystic,
    CollectingDuct,
    Translocation,
    Hlrcc,
    Unclassified,
    Urothelial,
    Wilms,
    SpindleCell,
    Oncocytoma,
    Angiomyolipoma,
    Mest,
    PapillaryAdenoma,
    /// "other" in KiTS23: a tumor outside the listed types.
    Other,
}

const SUBTYPE_NAMES: &[(Subtype, &[&str])] = &[
    (
        Subtype::ClearCell,
        &["clear_cell_rcc", "ccrcc", "clear_cell"],
    ),
    (Subtype::Papillary, &["papillary_rcc", "prcc", "papillary"]),
    (
        Subtype::Chromophobe,
        &["chromophobe_rcc", "chrcc", "chromophobe"],
    ),
    (
        Subtype::ClearCellPapillary,
        &["clear_cell_papillary", "clear_cell_papillary_rcc", "ccprcc"],
    ),
    (
        Subtype::MultilocularCystic,
        &[
            "multilocular_cystic_rcc",
            "multilocular_cystic_renal_neoplasm",
        ],
    ),
    (
        Subtype::CollectingDuct,
        &[
            "collecting_duct_undefined",
            "collecting_duct",
            "collecting_duct_carcinoma",
        ],
    ),
    (
        Subtype::Translocation,
        &["translocation", "mit_translocation", "translocation_rcc"],
    ),
    (
        Subtype::Hlrcc,
        &["hlrcc", "fh_deficient", "fh_deficient_rcc"],
    ),
    (
        Subtype::Unclassified,
        &["rcc_unclassified", "unclassified_rcc", "unclassified"],
    ),
    (
        Subtype::Urothelial,
        &[
            "transitional_cell_carcinoma",
            "urothelial_carcinoma",
            "urothelial",
        ],
    ),
    (Subtype::Wilms, &["wilms_tumor", "wilms"]),
    (
        Subtype::SpindleCell,
        &["spindle_cell_neoplasm", "spindle_cell"],
    ),
    (Subtype::Oncocytoma, &["oncocytoma"]),
    (Subtype::Angiomyolipoma, &["angiomyolipoma", "aml"]),
    (Subtype::Mest, &["mest", "mixed_epithelial_stromal_tumor"]),
    (Subtype::PapillaryAdenoma, &["papillary_adenoma"]),
    (Subtype::Other, &["other"]),
];

impl Subtype {
    /// The subtype in a pathologist's words (WHO nomenclature), for tables and reports.
    pub fn words(self) -> &'static str {
        match self {
            Subtype::ClearCell => "clear cell renal cell carcinoma",
            Subtype::Papillary => "papillary renal cell carcinoma",
            Subtype::Chromophobe => "chromophobe renal cell carcinoma",
            Subtype::ClearCellPapillary => "clear cell papillary renal cell tumor",
            Subtype::MultilocularCystic => {
                "multilocular cystic renal neoplasm of low malignant potential"
            }
            Subtype::CollectingDuct => "collecting duct carcinoma",
            Subtype::Translocation => "MiT family translocation renal cell carcinoma",
            Subtype::Hlrcc => "fumarate hydratase-deficient renal cell carcinoma (HLRCC)",
            Subtype::Unclassified => "renal cell carcinoma, unclassified",
            Subtype::Urothelial => "urothelial (transitional cell) carcinoma",
            Subtype::Wilms => "Wilms tumor",
            Subtype::SpindleCell => "spindle cell neoplasm",
            Subtype::Oncocytoma => "oncocytoma",
            Subtype::Angiomyolipoma => "angiomyolipoma",
            Subtype::Mest => "mixed epithelial and stromal tumor",
            Subtype::PapillaryAdenoma => "papillary adenoma",
            Subtype::Other => "other histology",
        }
    }

    /// A recorded histology string in words: the subtype's words when it is one read here,
    /// else the string as recorded.
    pub fn words_of(recorded: &str) -> String {
        Subtype::parse(recorded).map_or_else(|| recorded.trim().to_string(), |s| s.words().into())
    }

    /// Parses a histology string (case-insensitive; spaces and hyphens read as underscores).
    pub fn parse(s: &str) -> Option<Subtype> {
        let norm = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        SUBTYPE_NAMES
            .iter()
            .find(|(_, names)| names.contains(&norm.as_str()))
            .map(|(t, _)| *t)
    }
}

/// The pathology fields the rules read. `None` = missing.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Histology {
    pub malignant: Option<bool>,
    /// The histology string as recorded.
    pub subtype: Option<String>,
    /// ISUP/Fuhrman grade 1-4.
    pub isup_grade: Option<u8>,
    /// Pathologic T stage without the `T` (e.g. `1a`, `3`).
    pub t_stage: Option<String>,
    pub necrosis: Option<bool>,
    pub sarcomatoid: Option<bool>,
    pub pathologic_size_cm: Option<f64>,
}

/// Outcome of the rules for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Labelling {
    /// The class and the rule that decided it.
    Labelled { label: Label, rule: &'static str },
    /// Cannot be labelled; the reason names the missing or unknown field.
    Excluded { reason: String },
}

/// Rank of a T stage: T1a = 1, T1b = 2, T2a = 3, T2b = 4, T3* = 5, T4 = 6 (T2/T1 without a
/// letter take the lower rank). `None` for unknown strings (Tx, na, ...).
fn t_rank(stage: &str) -> Option<u8> {
    let s = stage.trim().to_ascii_lowercase();
    let s = s.strip_prefix('t').unwrap_or(&s).replace("pt", "");
    Some(match s.as_str() {
        "1a" | "1" => 1,
        "1b" => 2,
        "2a" | "2" => 3,
        "2b" => 4,
        "3" | "3a" | "3b" | "3c" => 5,
        "4" => 6,
        _ => return None,
    })
}

/// Tri-state result of one rule.
enum Fires {
    Yes,
    No,
    Unknown(String),
}

fn rule_high_grade(h: &Histology, t: Subtype) -> Fires {
    if !matches!(t, Subtype::ClearCell | Subtype::Papillary) {
        return Fires::No;
    }
    match h.isup_grade {
        Some(3 | 4) => Fires::Yes,
        Some(_) => Fires::No,
        None => Fires::Unknown("ISUP grade missing for a clear-cell/papillary RCC".into()),
    }
}

fn rule_subtype(t: Subtype) -> Fires {
    match t {
        Subtype::CollectingDuct
        | Subtype::Translocation
        | Subtype::Hlrcc
        | Subtype::Unclassified
        | Subtype::Urothelial
        | Subtype::Wilms
        | Subtype::SpindleCell => Fires::Yes,
        _ => Fires::No,
    }
}

fn rule_necrosis(h: &Histology, t: Subtype) -> Fires {
    let feature = match (h.necrosis, h.sarcomatoid) {
        (Some(true), _) | (_, Some(true)) => true,
        (Some(false), Some(false)) => false,
        (None, _) => return Fires::Unknown("tumor_necrosis missing".into()),
        (_, None) => return Fires::Unknown("sarcomatoid_features missing".into()),
    };
    if !feature {
        return Fires::No;
    }
    if t == Subtype::Papillary {
        return match h.isup_grade {
            Some(1 | 2) => Fires::No,
            Some(_) => Fires::Yes,
            None => Fires::Unknown(
                "ISUP grade missing for a papillary RCC with necrosis/sarcomatoid features".into(),
            ),
        };
    }
    Fires::Yes
}

fn rule_stage_size(h: &Histology) -> Fires {
    let rank = match h.t_stage.as_deref().map(t_rank) {
        Some(Some(r)) => r,
        Some(None) => {
            return Fires::Unknown(format!(
                "pathologic T stage `{}` not understood",
                h.t_stage.as_deref().unwrap_or("")
            ))
        }
        None => return Fires::Unknown("pathology_t_stage missing".into()),
    };
    if rank <= 1 {
        return Fires::No;
    }
    match h.pathologic_size_cm {
        Some(s) if s > 4.0 => Fires::Yes,
        Some(_) => Fires::No,
        None => Fires::Unknown("pathologic_size missing with T stage above T1a".into()),
    }
}

/// What a blank pathology modifier (necrosis, sarcomatoid features, T stage) means.
///
/// Pathology reports mention a necrosis or sarcomatoid component, or an upstaging, when it is
/// present; a blank field is then most often an absence. `Absent` (the default) reads a blank
/// `tumor_necrosis` or `sarcomatoid_features` as absent and a blank T stage as "no stage above
/// T1a recorded" (rule A4 does not fire), but only where the strict rules could not label the
/// case; those cases are counted (Table 1, the report). `Exclude` keeps the strict rules: the
/// case is excluded with the missing field named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlankModifier {
    #[default]
    Absent,
    Exclude,
}

impl BlankModifier {
    pub fn name(self) -> &'static str {
        match self {
            BlankModifier::Absent => "absent",
            BlankModifier::Exclude => "exclude",
        }
    }
}

/// A blank-modifier policy that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown blank-modifier policy `{0}` (expected `absent` or `exclude`)")]
pub struct UnknownPolicy(pub String);

impl std::str::FromStr for BlankModifier {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s {
            "absent" => Ok(BlankModifier::Absent),
            "exclude" => Ok(BlankModifier::Exclude),
            other => Err(UnknownPolicy(other.to_string())),
        }
    }
}

/// Applies the rules under a blank-modifier policy. Returns the labelling and the blank
/// modifiers read as absent to reach it (empty when the strict rules labelled the case, or
/// excluded it anyway).
pub fn label_histology_with(h: &Histology, blank: BlankModifier) -> (Labelling, Vec<&'static str>) {
    let strict = label_histology(h);
    if blank == BlankModifier::Exclude || matches!(strict, Labelling::Labelled { .. }) {
        return (strict, Vec::new());
    }
    let mut filled = h.clone();
    let mut assumed = Vec::new();
    if h.necrosis.is_none() {
        filled.necrosis = Some(false);
        assumed.push("tumor_necrosis");
    }
    if h.sarcomatoid.is_none() {
        filled.sarcomatoid = Some(false);
        assumed.push("sarcomatoid_features");
    }
    if h.t_stage.is_none() {
        filled.t_stage = Some("1a".into());
        assumed.push("pathology_t_stage");
    }
    match label_histology(&filled) {
        l @ Labelling::Labelled { .. } if !assumed.is_empty() => (l, assumed),
        _ => (strict, Vec::new()),
    }
}

/// Applies the rules to one record (strictly: a blank field the class depends on excludes it).
pub fn label_histology(h: &Histology) -> Labelling {
    let excluded = |reason: String| Labelling::Excluded { reason };
    match h.malignant {
        None => return excluded("`malignant` missing".into()),
        Some(false) => {
            return Labelling::Labelled {
                label: Label::Benign,
                rule: "B1 benign",
            }
        }
        Some(true) => {}
    }
    let Some(raw) = h.subtype.as_deref() else {
        return excluded("histologic subtype missing for a malignant tumor".into());
    };
    let Some(t) = Subtype::parse(raw) else {
        return excluded(format!("unknown histologic subtype `{raw}`"));
    };
    let rules: [(&'static str, Fires); 4] = [
        ("A1 high-grade ccRCC/pRCC", rule_high_grade(h, t)),
        ("A2 aggressive subtype", rule_subtype(t)),
        ("A3 necrosis/sarcomatoid", rule_necrosis(h, t)),
        ("A4 stage>T1a and size>4cm", rule_stage_size(h)),
    ];
    let mut unknown = Vec::new();
    for (name, fires) in rules {
        match fires {
            Fires::Yes => {
                return Labelling::Labelled {
                    label: Label::Aggressive,
                    rule: name,
                }
            }
            Fires::No => {}
            Fires::Unknown(why) => unknown.push(why),
        }
    }
    if unknown.is_empty() {
        Labelling::Labelled {
            label: Label::Indolent,
            rule: "I1 other malignant",
        }
    } else {
        excluded(format!(
            "cannot rule out an aggressive rule: {}",
            unknown.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 1 and the report name subtypes in words: every spelling read here has them, two
    /// spellings of one subtype give the same words, and an unknown string stays as recorded.
    #[test]
    fn subtypes_in_words() {
        for (t, names) in SUBTYPE_NAMES {
            let w = t.words();
            assert!(!w.contains('_') && !w.is_empty(), "{t:?}: {w}");
            for n in *names {
                assert_eq!(Subtype::words_of(n), w);
            }
        }
        assert_eq!(
            Subtype::words_of("clear_cell_rcc"),
            "clear cell renal cell carcinoma"
        );
        assert_eq!(Subtype::words_of("Clear cell"), Subtype::words_of("ccrcc"));
        assert_eq!(Subtype::words_of(" glioma "), "glioma");
    }

    fn malignant(subtype: &str, grade: Option<u8>) -> Histology {
        Histology {
            malignant: Some(true),
            subtype: Some(subtype.into()),
            isup_grade: grade,
            t_stage: Some("1a".into()),
            necrosis: Some(false),
            sarcomatoid: Some(false),
            pathologic_size_cm: Some(3.0),
        }
    }

    fn label(h: &Histology) -> (Label, &'static str) {
        match label_histology(h) {
            Labelling::Labelled { label, rule } => (label, rule),
            Labelling::Excluded { reason } => panic!("excluded: {reason}"),
        }
    }

    fn reason(h: &Histology) -> String {
        match label_histology(h) {
            Labelling::Excluded { reason } => reason,
            other => panic!("expected exclusion, got {other:?}"),
        }
    }

    #[test]
    fn b1_not_malignant_is_benign_whatever_else() {
        let h = Histology {
            malignant: Some(false),
            subtype: Some("oncocytoma".into()),
            necrosis: None,
            ..Default::default()
        };
        assert_eq!(label(&h), (Label::Benign, "B1 benign"));
    }

    #[test]
    fn a1_high_grade_clear_cell_and_papillary() {
        assert_eq!(
            label(&malignant("clear_cell_rcc", Some(3))).0,
            Label::Aggressive
        );
        assert_eq!(
            label(&malignant("papillary_rcc", Some(4))).1,
            "A1 high-grade ccRCC/pRCC"
        );
        assert_eq!(
            label(&malignant("clear_cell_rcc", Some(2))).0,
            Label::Indolent
        );
        // High grade does not make a chromophobe aggressive.
        assert_eq!(
            label(&malignant("chromophobe_rcc", Some(4))).0,
            Label::Indolent
        );
    }

    #[test]
    fn a2_aggressive_subtypes() {
        for s in [
            "collecting_duct_undefined",
            "translocation",
            "hlrcc",
            "rcc_unclassified",
            "transitional_cell_carcinoma",
            "wilms_tumor",
            "spindle_cell_neoplasm",
        ] {
            assert_eq!(
                label(&malignant(s, None)),
                (Label::Aggressive, "A2 aggressive subtype"),
                "{s}"
            );
        }
    }

    #[test]
    fn a3_necrosis_or_sarcomatoid_except_low_grade_papillary() {
        let mut h = malignant("clear_cell_rcc", Some(1));
        h.necrosis = Some(true);
        assert_eq!(label(&h), (Label::Aggressive, "A3 necrosis/sarcomatoid"));
        let mut h = malignant("chromophobe_rcc", None);
        h.sarcomatoid = Some(true);
        assert_eq!(label(&h).0, Label::Aggressive);
        let mut h = malignant("papillary_rcc", Some(2));
        h.necrosis = Some(true);
        assert_eq!(label(&h), (Label::Indolent, "I1 other malignant"));
        let mut h = malignant("other", None);
        h.necrosis = Some(true);
        assert_eq!(label(&h).0, Label::Aggressive);
    }

    #[test]
    fn a4_stage_above_t1a_with_size_above_4cm() {
        let mut h = malignant("chromophobe_rcc", None);
        h.t_stage = Some("3".into());
        h.pathologic_size_cm = Some(4.5);
        assert_eq!(label(&h), (Label::Aggressive, "A4 stage>T1a and size>4cm"));
        h.pathologic_size_cm = Some(4.0);
        assert_eq!(label(&h).0, Label::Indolent, "4.0 cm is not above 4 cm");
        h.t_stage = Some("1a".into());
        h.pathologic_size_cm = Some(6.0);
        assert_eq!(label(&h).0, Label::Indolent, "T1a is not above T1a");
        h.t_stage = Some("pT1b".into());
        assert_eq!(label(&h).0, Label::Aggressive);
    }

    #[test]
    fn i1_other_malignant_is_indolent() {
        assert_eq!(
            label(&malignant("clear_cell_papillary", None)),
            (Label::Indolent, "I1 other malignant")
        );
        assert_eq!(
            label(&malignant("multilocular_cystic_rcc", None)).0,
            Label::Indolent
        );
        assert_eq!(label(&malignant("other", None)).0, Label::Indolent);
    }

    #[test]
    fn missing_or_unknown_fields_exclude_never_guess() {
        let h = Histology {
            malignant: None,
            ..Default::default()
        };
        assert!(reason(&h).contains("malignant"));
        assert!(reason(&malignant("glioblastoma", Some(3)))
            .contains("unknown histologic subtype `glioblastoma`"));
        assert!(reason(&malignant("clear_cell_rcc", None)).contains("ISUP grade"));
        let mut h = malignant("chromophobe_rcc", None);
        h.necrosis = None;
        assert!(reason(&h).contains("tumor_necrosis"));
        // ... but a rule that fires settles it despite a missing field.
        let mut h = malignant("clear_cell_rcc", Some(4));
        h.necrosis = None;
        assert_eq!(label(&h).0, Label::Aggressive);
    }
}
