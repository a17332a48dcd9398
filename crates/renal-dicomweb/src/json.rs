//! The DICOM JSON model (PS3.18 F.2) of QIDO-RS answers and STOW-RS reports: one object per
//! match, keyed by tag (`"0020000D"`), each with a `vr` and a `Value` array.

use serde_json::{Map, Value};

/// One object of a DICOM JSON answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes(pub Map<String, Value>);

impl Attributes {
    fn values(&self, tag: &str) -> Option<&Vec<Value>> {
        self.0
            .get(tag)
            .or_else(|| self.0.get(&tag.to_ascii_lowercase()))?
            .get("Value")?
            .as_array()
    }

    /// The attribute's first value as text: a string, a number, or a person name's
    /// alphabetic form.
    pub fn text(&self, tag: &str) -> Option<String> {
        let v = self.values(tag)?.first()?;
        match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Object(o) => o.get("Alphabetic")?.as_str().map(|s| s.to_string()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }

    /// The attribute's first value as an integer (IS and US come as numbers or strings).
    pub fn int(&self, tag: &str) -> Option<i64> {
        let v = self.values(tag)?.first()?;
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    }

    /// The items of a sequence attribute.
    pub fn items(&self, tag: &str) -> Vec<Attributes> {
        self.values(tag)
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v.as_object().cloned().map(Attributes))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Why an answer is not DICOM JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// A JSON answer read as an array of objects (a lone object is one match).
pub fn parse_answer(bytes: &[u8]) -> Result<Vec<Attributes>, JsonError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| JsonError(e.to_string()))?;
    let list = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => return Err(JsonError("neither an array nor an object".into())),
    };
    list.into_iter()
        .map(|v| match v {
            Value::Object(o) => Ok(Attributes(o)),
            _ => Err(JsonError("an element of the array is not an object".into())),
        })
        .collect()
}

/// The DICOM tags this client reads, as DICOM JSON keys.
pub mod tags {
    pub const STUDY_DATE: &str = "00080020";
    pub const SOP_CLASS: &str = "00080016";
    pub const SOP_INSTANCE: &str = "00080018";
    pub const MODALITY: &str = "00080060";
    pub const MODALITIES_IN_STUDY: &str = "00080061";
    pub const STUDY_DESCRIPTION: &str = "00081030";
    pub const SERIES_DESCRIPTION: &str = "0008103E";
    pub const PATIENT_ID: &str = "00100020";
    pub const STUDY_UID: &str = "0020000D";
    pub const SERIES_UID: &str = "0020000E";
    pub const SERIES_NUMBER: &str = "00200011";
    pub const INSTANCES_IN_SERIES: &str = "00201209";
    pub const FAILURE_REASON: &str = "00081197";
    pub const FAILED_SOP_SEQUENCE: &str = "00081198";
    pub const REFERENCED_SOP_SEQUENCE: &str = "00081199";
    pub const REFERENCED_SOP_INSTANCE: &str = "00081155";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_qido_sends_them() {
        let a = parse_answer(
            br#"[{"0020000D": {"vr": "UI", "Value": ["1.2.3"]},
                  "00201209": {"vr": "IS", "Value": [12]},
                  "00200011": {"vr": "IS", "Value": ["7"]},
                  "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J"}]},
                  "0008103E": {"vr": "LO"},
                  "00081198": {"vr": "SQ", "Value": [{"00081197": {"vr": "US", "Value": [272]}}]}}]"#,
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].text(tags::STUDY_UID).as_deref(), Some("1.2.3"));
        assert_eq!(a[0].int(tags::INSTANCES_IN_SERIES), Some(12));
        assert_eq!(a[0].int(tags::SERIES_NUMBER), Some(7));
        assert_eq!(a[0].text("00100010").as_deref(), Some("Doe^J"));
        assert_eq!(a[0].text(tags::SERIES_DESCRIPTION), None);
        let failed = a[0].items(tags::FAILED_SOP_SEQUENCE);
        assert_eq!(failed[0].int(tags::FAILURE_REASON), Some(272));
        assert!(parse_answer(b"  ").unwrap().is_empty());
        assert!(parse_answer(b"[1]").is_err());
        assert!(parse_answer(b"{").is_err());
    }
}
