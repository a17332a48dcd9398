//! The form's inputs in a clinician's words: each model input with a label and unit, yes/no as
//! a checkbox, categories as choices named as in the source data, grouped (demographics,
//! presentation, comorbidities, habits, kidney function, imaging), every label bound to its
//! input.

use renal_cohort::fields::{self, Kind};

use renal_report::escape as esc;

use crate::model::bundle::{Bundle, FeatureKind};

/// The groups of the form, in order.
const GROUPS: [&str; 6] = [
    "Demographics",
    "Presentation",
    "Comorbidities",
    "Habits",
    "Kidney function",
    "Imaging",
];

/// The group of a clinical input.
fn group(name: &str) -> &'static str {
    match name {
        "age" | "sex_male" | "bmi" => "Demographics",
        "symptoms" => "Presentation",
        "smoking_status" | "pack_years" | "chewing_tobacco" | "alcohol_use" => "Habits",
        "preop_egfr" => "Kidney function",
        fields::RADIOGRAPHIC_SIZE_CM => "Imaging",
        _ => "Comorbidities",
    }
}

/// A label in words: the allow-list's description, capitalised, with explicit names for the
/// ordinal fields (whose description lists their codes).
pub(super) fn label(name: &str) -> String {
    let explicit = match name {
        "age" => "Age",
        "bmi" => "Body-mass index",
        "smoking_status" => "Smoking",
        "chewing_tobacco" => "Chewing tobacco",
        "alcohol_use" => "Alcohol use",
        "preop_egfr" => "eGFR before surgery",
        "pack_years" => "Pack-years smoked",
        "sex_male" => "Sex",
        fields::RADIOGRAPHIC_SIZE_CM => "Tumor size on the radiology report",
        _ => "",
    };
    if !explicit.is_empty() {
        return explicit.into();
    }
    let text = fields::spec(name).map_or(name, |s| s.description);
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// One input's HTML (label bound by `for`).
fn control(name: &str, train: Option<(f64, f64)>) -> String {
    let id = esc(name);
    let text = esc(&label(name));
    if name == "sex_male" {
        return format!("<label for=\"sex\">{text}</label><select name=\"sex\" id=\"sex\"><option value=\"\">unknown</option><option value=\"male\">male</option><option value=\"female\">female</option></select>");
    }
    if let Some(cats) = renal_cohort::kits23::categories(name) {
        let options: String = cats
            .iter()
            .map(|(v, code)| format!("<option value=\"{code}\">{}</option>", esc(v)))
            .collect();
        return format!("<label for=\"{id}\">{text}</label><select name=\"{id}\" id=\"{id}\"><option value=\"\">unknown</option>{options}</select>");
    }
    match fields::spec(name).map(|s| s.kind) {
        Some(Kind::Binary) => format!(
            "<input type=\"checkbox\" name=\"{id}\" id=\"{id}\" value=\"1\"><label for=\"{id}\" class=\"check\">{text}</label>"
        ),
        Some(Kind::Numeric { min, max, unit }) => {
            let hint = match train {
                Some((a, b)) => format!(", training cases {a}-{b}"),
                None => String::new(),
            };
            format!(
                "<label for=\"{id}\">{text} ({}{})</label><input type=\"number\" step=\"any\" min=\"{min}\" max=\"{max}\" name=\"{id}\" id=\"{id}\">",
                esc(unit),
                esc(&hint)
            )
        }
        _ => format!("<label for=\"{id}\">{text}</label><input type=\"text\" name=\"{id}\" id=\"{id}\">"),
    }
}

/// The patient fieldsets: the model's clinical inputs (and the radiologist's size when the
/// model takes it), grouped, each group a fieldset with its legend. Unchecked boxes send "no".
pub(super) fn patient_fields(b: &Bundle) -> String {
    let inputs: Vec<(&str, Option<(f64, f64)>)> = b
        .manifest
        .features
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FeatureKind::Clinical | FeatureKind::RadiographicSize
            )
        })
        .map(|f| {
            let name = if f.kind == FeatureKind::RadiographicSize {
                fields::RADIOGRAPHIC_SIZE_CM
            } else {
                f.name.as_str()
            };
            let train = f.train_min.zip(f.train_max);
            // The radiographic size is trained in mm and entered in cm, as the record has it.
            let train = train.filter(|_| f.kind != FeatureKind::RadiographicSize);
            (name, train)
        })
        .collect();
    // A box left unticked sends nothing; the form lists its boxes once, so that the server
    // reads an unticked one as "no" (never a second value for the same field).
    let boxes: Vec<&str> = inputs
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| matches!(fields::spec(n).map(|s| s.kind), Some(Kind::Binary)))
        .collect();
    let listed = format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        super::upload::UNTICKED_MEANS_NO,
        esc(&boxes.join(","))
    );
    GROUPS
        .iter()
        .filter_map(|g| {
            let controls: String = inputs
                .iter()
                .filter(|(n, _)| group(n) == *g)
                .map(|(n, t)| format!("<div class=\"field\">{}</div>", control(n, *t)))
                .collect();
            (!controls.is_empty())
                .then(|| format!("<fieldset><legend>{g}</legend>{controls}</fieldset>"))
        })
        .chain((!boxes.is_empty()).then_some(listed))
        .collect()
}
