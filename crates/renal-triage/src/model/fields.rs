//! A bundle's clinical inputs described for people and programs: each field's name, meaning,
//! unit, plausible range, allowed values (words, their meaning, codes and synonyms) and the
//! training range. `inspect --fields`, `GET /api/v1/model` and `/openapi.json` show it.

use renal_cohort::fields::{spec, Kind};
use renal_cohort::words;
use serde::Serialize;

use crate::model::bundle::{Bundle, FeatureKind};
use crate::model::predict::{input_names, DIABETES_DETAIL, DIABETES_FIELDS};

/// One allowed value of a categorical field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowedValue {
    pub value: String,
    pub meaning: String,
    /// The numeric code, also accepted (None for a value that stands for several fields).
    pub code: Option<f64>,
    pub synonyms: Vec<String>,
}

/// One clinical input of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldInfo {
    /// The name to give it (`--set NAME=...`, the JSON key, the form field).
    pub name: String,
    /// In words.
    pub label: String,
    pub meaning: String,
    /// `number` or `category`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// The plausible range a value must lie in (measurements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// The values accepted (categories), besides "unknown".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<AllowedValue>,
    /// The range seen in training, in the field's unit (values outside are flagged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training_range: Option<[f64; 2]>,
    /// What a missing value becomes.
    pub when_missing: String,
}

fn allowed(name: &str) -> Vec<AllowedValue> {
    let mut out: Vec<AllowedValue> = words::levels(name)
        .unwrap_or_default()
        .iter()
        .map(|l| AllowedValue {
            value: l.word.into(),
            meaning: l.meaning.into(),
            code: Some(l.code),
            synonyms: l.synonyms.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    if name == "diabetes" {
        out.extend(DIABETES_DETAIL.iter().map(|(w, m, _)| AllowedValue {
            value: w.to_string(),
            meaning: m.to_string(),
            code: None,
            synonyms: Vec::new(),
        }));
    }
    out
}

/// The clinical inputs of `bundle`, in the order the model takes them.
pub fn field_table(bundle: &Bundle) -> Vec<FieldInfo> {
    let m = &bundle.manifest;
    input_names(bundle)
        .into_iter()
        .map(|name| {
            let field = match name.as_str() {
                "sex" => "sex_male",
                n => n,
            };
            let schema = m.features.iter().find(|f| match f.kind {
                FeatureKind::RadiographicSize => field == renal_cohort::RADIOGRAPHIC_SIZE_CM,
                FeatureKind::Clinical if field == "diabetes" => {
                    DIABETES_FIELDS.contains(&f.name.as_str())
                }
                FeatureKind::Clinical => f.name == field,
                _ => false,
            });
            let (kind, unit, range) = match spec(field).map(|s| s.kind) {
                Some(Kind::Numeric { min, max, unit }) => ("number", Some(unit), Some([min, max])),
                _ => ("category", None, None),
            };
            // The radiographic size is trained in mm (or its log) and entered in cm: its
            // training range is not in the entered unit, so it is not shown.
            let training_range = schema
                .filter(|s| s.kind == FeatureKind::Clinical && kind == "number")
                .and_then(|s| s.train_min.zip(s.train_max))
                .map(|(a, b)| [a, b]);
            let median = schema
                .filter(|s| s.kind == FeatureKind::Clinical)
                .and_then(|s| s.train_median)
                .map(|v| match words::word_of(field, v) {
                    Some(w) if kind == "category" => format!("`{w}`"),
                    _ => format!("{v}"),
                });
            FieldInfo {
                label: words::label(field),
                meaning: spec(field).map_or(String::new(), |s| s.description.to_string()),
                kind,
                unit,
                range,
                values: if kind == "category" {
                    allowed(field)
                } else {
                    Vec::new()
                },
                training_range,
                when_missing: match median {
                    Some(v) => {
                        format!("imputed with the training median ({v}), and the answer says so")
                    }
                    None => "imputed with the training median, and the answer says so".into(),
                },
                name,
            }
        })
        .collect()
}

/// The fields as a JSON-schema object (`properties` of the clinical object): enums of the
/// words (codes also accepted), numbers with their unit and range.
pub fn json_schema(fields: &[FieldInfo]) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    for f in fields {
        let mut desc = format!("{}: {}", f.label, f.meaning);
        if let Some(u) = f.unit {
            desc.push_str(&format!(" ({u})"));
        }
        if let Some([a, b]) = f.training_range {
            desc.push_str(&format!("; training cases {a}-{b}"));
        }
        desc.push_str(&format!("; missing or \"unknown\": {}", f.when_missing));
        let schema = if f.kind == "number" {
            let [min, max] = f.range.unwrap_or([f64::MIN, f64::MAX]);
            serde_json::json!({"type": ["number", "null"], "minimum": min, "maximum": max, "description": desc})
        } else {
            let mut values: Vec<serde_json::Value> =
                f.values.iter().map(|v| v.value.clone().into()).collect();
            values.push("unknown".into());
            let codes: Vec<serde_json::Value> = f
                .values
                .iter()
                .filter_map(|v| v.code)
                .map(Into::into)
                .collect();
            let meanings: Vec<String> = f
                .values
                .iter()
                .map(|v| format!("{} = {}", v.value, v.meaning))
                .collect();
            serde_json::json!({
                "description": format!("{desc}. Values: {}; the codes {} are accepted too, and the synonyms listed under x-synonyms", meanings.join(", "), codes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")),
                "oneOf": [
                    {"type": "string", "enum": values},
                    {"type": "number", "enum": codes},
                    {"type": "null"}
                ],
                "x-synonyms": f.values.iter().map(|v| (v.value.clone(), v.synonyms.clone())).collect::<std::collections::BTreeMap<_, _>>()
            })
        };
        props.insert(f.name.clone(), schema);
    }
    serde_json::json!({"type": "object", "additionalProperties": false, "properties": props})
}

/// The fields as text, one block each (`inspect --fields`).
pub fn fields_text(fields: &[FieldInfo]) -> String {
    let mut out = String::new();
    for f in fields {
        out.push_str(&format!("{}  ({})\n", f.name, f.label));
        if !f.meaning.is_empty() {
            out.push_str(&format!("    meaning: {}\n", f.meaning));
        }
        if let (Some(u), Some([a, b])) = (f.unit, f.range) {
            out.push_str(&format!("    a number, {a} to {b} {u}\n"));
        }
        for v in &f.values {
            let code = v.code.map(|c| format!(" (code {c})")).unwrap_or_default();
            let syn = if v.synonyms.is_empty() {
                String::new()
            } else {
                format!("; also {}", v.synonyms.join(", "))
            };
            out.push_str(&format!("    {}{code}: {}{syn}\n", v.value, v.meaning));
        }
        if f.kind == "category" {
            out.push_str("    unknown: missing\n");
        }
        if let Some([a, b]) = f.training_range {
            out.push_str(&format!("    training cases: {a} to {b}\n"));
        }
        out.push_str(&format!("    when missing: {}\n", f.when_missing));
    }
    out
}
