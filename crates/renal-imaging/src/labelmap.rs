//! Which label of a segmentation is the kidney, the tumor and the cyst.
//!
//! The measurements use KiTS23's values (kidney 1, tumor 2, cyst 3). A segmentation from
//! elsewhere says which is which either by its segments' names (DICOM SEG segment labels and
//! property-type code meanings, RTSTRUCT ROI names, `.seg.nrrd` segment names), read by
//! [`role_of_name`], or through a [`LabelMap`] given by the user, e.g.
//! `--label-map kidney=1,tumor=2,cyst=3` (label values of a label map) or
//! `--label-map "tumor=Lesion 1,kidney=Left kidney"` (segment names), where a role may list
//! several values or names joined by `+` (`kidney=1+4`). With a map, a label or segment the
//! map does not name is background.

use std::fmt;

/// The label values the measurements use.
pub const KIDNEY: u8 = 1;
pub const TUMOR: u8 = 2;
pub const CYST: u8 = 3;

/// When segments overlap, the voxel takes the role ranked first here: tumor, then cyst, then
/// kidney (a kidney segment drawn around the whole organ usually contains the tumor).
pub fn precedence(label: u8) -> u8 {
    match label {
        TUMOR => 3,
        CYST => 2,
        KIDNEY => 1,
        _ => 0,
    }
}

/// The role a segment's name says, if any: cyst; tumor (tumour, neoplasm, carcinoma, renal
/// mass, lesion); kidney (renal). Case-insensitive, on words within the name.
pub fn role_of_name(name: &str) -> Option<u8> {
    let n = name.to_ascii_lowercase();
    let has = |w: &str| n.contains(w);
    if has("cyst") {
        Some(CYST)
    } else if ["tumor", "tumour", "neoplasm", "carcinoma", "mass", "lesion"]
        .iter()
        .any(|w| has(w))
    {
        Some(TUMOR)
    } else if has("kidney") || has("renal") {
        Some(KIDNEY)
    } else {
        None
    }
}

/// One way to pick a label: by its value or by its segment's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Value(u32),
    Name(String),
}

/// A user's statement of which labels are the kidney, the tumor and the cyst.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelMap {
    /// (role, selector), roles being [`KIDNEY`], [`TUMOR`] or [`CYST`].
    pub entries: Vec<(u8, Selector)>,
}

impl LabelMap {
    /// Parses `kidney=1,tumor=2+5,cyst=Simple cyst`: a value made only of digits selects a
    /// label value, anything else a segment name (compared case-insensitively).
    pub fn parse(s: &str) -> Result<LabelMap, LabelMapError> {
        let mut entries = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((role, what)) = part.split_once('=') else {
                return Err(LabelMapError::NotRoleLabel(part.to_string()));
            };
            let role = match role.trim().to_ascii_lowercase().as_str() {
                "kidney" => KIDNEY,
                "tumor" | "tumour" => TUMOR,
                "cyst" => CYST,
                other => return Err(LabelMapError::UnknownRole(other.to_string())),
            };
            for w in what.split('+').map(str::trim) {
                if w.is_empty() {
                    return Err(LabelMapError::EmptyLabel(part.to_string()));
                }
                let sel = if w.bytes().all(|b| b.is_ascii_digit()) {
                    Selector::Value(
                        w.parse()
                            .map_err(|_| LabelMapError::TooLarge(w.to_string()))?,
                    )
                } else {
                    Selector::Name(w.to_string())
                };
                if entries.iter().any(|(_, s)| *s == sel) {
                    return Err(LabelMapError::TwoRoles(w.to_string()));
                }
                entries.push((role, sel));
            }
        }
        if !entries.iter().any(|(r, _)| *r == TUMOR) {
            return Err(LabelMapError::NoTumor);
        }
        Ok(LabelMap { entries })
    }

    /// The role of a label value (a plain label map), if the map names it.
    pub fn role_of_value(&self, v: u32) -> Option<u8> {
        self.entries
            .iter()
            .find(|(_, s)| *s == Selector::Value(v))
            .map(|(r, _)| *r)
    }

    /// Relabels a plain label map's values in place: each value the map names takes its role
    /// (kidney 1, tumor 2, cyst 3), every other value becomes background.
    pub fn relabel(&self, data: &mut [u8]) {
        let mut roles = [0u8; 256];
        for (value, r) in roles.iter_mut().enumerate() {
            *r = self.role_of_value(value as u32).unwrap_or(0);
        }
        data.iter_mut().for_each(|x| *x = roles[*x as usize]);
    }

    /// Whether the map names segments only (no label value), so that it cannot apply to a
    /// plain label map.
    pub fn names_only(&self) -> bool {
        self.entries
            .iter()
            .all(|(_, s)| matches!(s, Selector::Name(_)))
    }

    /// The role of a segment (its number and its names), if the map names it.
    pub fn role_of_segment(&self, number: u32, names: &[&str]) -> Option<u8> {
        self.entries
            .iter()
            .find(|(_, s)| match s {
                Selector::Value(v) => *v == number,
                Selector::Name(n) => names.iter().any(|x| x.trim().eq_ignore_ascii_case(n)),
            })
            .map(|(r, _)| *r)
    }
}

impl fmt::Display for LabelMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (role, sel) in &self.entries {
            let r = match *role {
                KIDNEY => "kidney",
                TUMOR => "tumor",
                _ => "cyst",
            };
            let s = match sel {
                Selector::Value(v) => v.to_string(),
                Selector::Name(n) => n.clone(),
            };
            write!(f, "{}{r}={s}", if first { "" } else { "," })?;
            first = false;
        }
        Ok(())
    }
}

/// Why a text is not a label map (`kidney=1,tumor=2+5,cyst=Simple cyst`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelMapError {
    #[error("label map: `{0}` is not role=label (e.g. tumor=2)")]
    NotRoleLabel(String),
    #[error("label map: unknown role `{0}` (kidney, tumor or cyst)")]
    UnknownRole(String),
    #[error("label map: `{0}` names an empty label")]
    EmptyLabel(String),
    #[error("label map: `{0}` is too large a label")]
    TooLarge(String),
    #[error("label map: `{0}` is given two roles")]
    TwoRoles(String),
    #[error("label map: no tumor label (e.g. tumor=2)")]
    NoTumor,
}

/// Written as its text (`kidney=1,tumor=2`), read back through [`LabelMap::parse`].
impl serde::Serialize for LabelMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for LabelMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LabelMap, D::Error> {
        let s = String::deserialize(d)?;
        LabelMap::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for LabelMap {
    type Err = LabelMapError;
    fn from_str(s: &str) -> Result<LabelMap, LabelMapError> {
        LabelMap::parse(s)
    }
}

/// A segment without a role: no label map was given and none of its names says kidney, tumor
/// or cyst.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("segment {number} (`{}`): not named kidney, tumor or cyst; name it so, or say which is which with --label-map (e.g. tumor={number})", names.join("` / `"))]
pub struct UnnamedSegment {
    pub number: u32,
    pub names: Vec<String>,
}

/// The role of a segment: the user's map when given (unnamed segments are background), else
/// the first of its names that says kidney, tumor or cyst; `Err` lists the names otherwise.
pub fn segment_role(
    map: Option<&LabelMap>,
    number: u32,
    names: &[&str],
) -> Result<Option<u8>, UnnamedSegment> {
    if let Some(m) = map {
        return Ok(m.role_of_segment(number, names));
    }
    names
        .iter()
        .find_map(|n| role_of_name(n))
        .map(Some)
        .ok_or_else(|| UnnamedSegment {
            number,
            names: names.iter().map(|n| n.to_string()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_names_and_alternatives() {
        let m = LabelMap::parse("kidney=1+4, tumor=Lesion 1,cyst=3").unwrap();
        assert_eq!(m.role_of_value(4), Some(KIDNEY));
        assert_eq!(m.role_of_value(3), Some(CYST));
        assert_eq!(m.role_of_value(2), None);
        assert_eq!(m.role_of_segment(9, &["x", "lesion 1"]), Some(TUMOR));
        assert_eq!(m.to_string(), "kidney=1,kidney=4,tumor=Lesion 1,cyst=3");
        for bad in [
            "kidney=1",
            "liver=2,tumor=1",
            "tumor",
            "tumor=1,cyst=1",
            "tumor=",
        ] {
            assert!(LabelMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_say_their_role() {
        assert_eq!(role_of_name("Renal mass"), Some(TUMOR));
        assert_eq!(role_of_name("Neoplasm"), Some(TUMOR));
        assert_eq!(role_of_name("Left Kidney"), Some(KIDNEY));
        assert_eq!(role_of_name("Bosniak cyst"), Some(CYST));
        assert_eq!(role_of_name("liver"), None);
        assert!(segment_role(None, 4, &["liver"])
            .unwrap_err()
            .to_string()
            .contains("--label-map"));
        let m = LabelMap::parse("tumor=2").unwrap();
        assert_eq!(segment_role(Some(&m), 4, &["tumor"]).unwrap(), None);
        assert_eq!(segment_role(Some(&m), 2, &["x"]).unwrap(), Some(TUMOR));
    }
}
