//! The form's inputs in a clinician's words: each model input with a label and unit, yes/no
//! and categories as choices in words with "unknown" the default, grouped (demographics,
//! presentation, comorbidities, habits, kidney function, imaging), every label bound to its
//! input.

use renal_cohort::fields::{self, Kind};

use renal_report::escape as esc;

use std::collections::BTreeMap;

use crate::model::bundle::{Bundle, FeatureKind};
use crate::model::predict::{DIABETES_DETAIL, DIABETES_FIELDS};

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
        "diabetes" => "Comorbidities",
        "symptoms" => "Presentation",
        "smoking_status" | "pack_years" | "chewing_tobacco" | "alcohol_use" => "Habits",
        "preop_egfr" => "Kidney function",
        fields::RADIOGRAPHIC_SIZE_CM => "Imaging",
        _ => "Comorbidities",
    }
}

/// A label in words (the clinical vocabulary's).
pub(super) fn label(name: &str) -> String {
    renal_cohort::words::label(name)
}

/// The value typed earlier for `name`, as text (to keep it after an error).
fn typed(values: &BTreeMap<String, serde_json::Value>, name: &str) -> String {
    match values.get(name) {
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// A choice list: "unknown" first (the default), then each value in words; the one typed
/// earlier (by word, synonym or code) selected.
fn select(name: &str, text: &str, options: &[(String, String)], typed: &str) -> String {
    let id = esc(name);
    let chosen = |value: &str| -> bool {
        !typed.is_empty()
            && (typed.eq_ignore_ascii_case(value)
                || renal_cohort::words::levels(if name == "sex" { "sex_male" } else { name })
                    .and_then(|ls| {
                        let code = renal_cohort::words::read_level(ls, typed).ok().flatten()?;
                        ls.iter().find(|l| l.code == code).map(|l| l.word == value)
                    })
                    .unwrap_or(false))
    };
    let opts: String = options
        .iter()
        .map(|(value, words)| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(value),
                if chosen(value) { " selected" } else { "" },
                esc(words)
            )
        })
        .collect();
    format!("<label for=\"{id}\">{}</label><select name=\"{id}\" id=\"{id}\"><option value=\"\">unknown</option>{opts}</select>", esc(text))
}

/// One input's HTML (label bound by `for`), holding the value typed earlier.
fn control(
    name: &str,
    train: Option<(f64, f64)>,
    values: &BTreeMap<String, serde_json::Value>,
) -> String {
    let id = esc(name);
    let text = label(name);
    if name == "sex_male" {
        let options = renal_cohort::words::SEX
            .iter()
            .map(|l| (l.word.to_string(), l.meaning.to_string()))
            .collect::<Vec<_>>();
        return select("sex", &text, &options, &typed(values, "sex"));
    }
    if name == "diabetes" {
        let mut options = vec![
            ("no".to_string(), "no".to_string()),
            ("yes".to_string(), "yes".to_string()),
        ];
        options.extend(
            DIABETES_DETAIL
                .iter()
                .map(|(w, words, _)| (w.to_string(), words.to_string())),
        );
        return select("diabetes", &text, &options, &typed(values, "diabetes"));
    }
    if let Some(levels) = renal_cohort::words::levels(name) {
        let options = levels
            .iter()
            .map(|l| (l.word.to_string(), l.meaning.to_string()))
            .collect::<Vec<_>>();
        return select(name, &text, &options, &typed(values, name));
    }
    match fields::spec(name).map(|s| s.kind) {
        Some(Kind::Numeric { min, max, unit }) => {
            let hint = match train {
                Some((a, b)) => format!(", training cases {a}-{b}"),
                None => String::new(),
            };
            format!(
                "<label for=\"{id}\">{} ({}{})</label><input type=\"number\" step=\"any\" min=\"{min}\" max=\"{max}\" name=\"{id}\" id=\"{id}\" value=\"{}\">",
                esc(&text),
                esc(unit),
                esc(&hint),
                esc(&typed(values, name))
            )
        }
        _ => format!("<label for=\"{id}\">{}</label><input type=\"text\" name=\"{id}\" id=\"{id}\" value=\"{}\">", esc(&text), esc(&typed(values, name))),
    }
}

/// The patient fieldsets: the model's clinical inputs (and the radiologist's size when the
/// model takes it), grouped, each group a fieldset with its legend; yes/no and categories as
/// choices in words with "unknown" the default (unknown is imputed, and the answer says so);
/// the diabetes fields as one choice. `values`: what was typed before an error.
pub(super) fn patient_fields(b: &Bundle, values: &BTreeMap<String, serde_json::Value>) -> String {
    let mut inputs: Vec<(&str, Option<(f64, f64)>)> = Vec::new();
    for f in &b.manifest.features {
        let name = match f.kind {
            FeatureKind::RadiographicSize => fields::RADIOGRAPHIC_SIZE_CM,
            FeatureKind::Clinical if DIABETES_FIELDS.contains(&f.name.as_str()) => "diabetes",
            FeatureKind::Clinical => f.name.as_str(),
            _ => continue,
        };
        if inputs.iter().any(|(n, _)| *n == name) {
            continue;
        }
        // The radiographic size is trained in mm and entered in cm, as the record has it; the
        // diabetes choice stands for several fields.
        let train = f
            .train_min
            .zip(f.train_max)
            .filter(|_| f.kind != FeatureKind::RadiographicSize && name != "diabetes");
        inputs.push((name, train));
    }
    GROUPS
        .iter()
        .filter_map(|g| {
            let controls: String = inputs
                .iter()
                .filter(|(n, _)| group(n) == *g)
                .map(|(n, t)| format!("<div class=\"field\">{}</div>", control(n, *t, values)))
                .collect();
            (!controls.is_empty())
                .then(|| format!("<fieldset><legend>{g}</legend>{controls}</fieldset>"))
        })
        .collect()
}
