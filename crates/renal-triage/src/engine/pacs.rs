//! A study in the archive made local: which of its series are the CT phases (a mapping the
//! user gives, or rules on Series Description) and which is the segmentation (SEG or
//! RTSTRUCT, with the CT series it was drawn on), each series retrieved into its own folder,
//! verified against the archive's list of instances, and committed by a rename, so that a
//! folder that exists is complete and a rerun skips it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use renal_dicomweb::{tags, Attributes, Client, DicomWebError, MultipartError, PartSink};

/// What went wrong making a study local, in the archive's terms.
#[derive(Debug, thiserror::Error)]
pub enum PacsError {
    #[error(transparent)]
    Archive(#[from] DicomWebError),
    #[error("study {study}: no {what} in the study (its series: {found})")]
    Missing {
        study: String,
        what: &'static str,
        found: String,
    },
    #[error("study {study}: {what} is ambiguous: series {candidates} all match; {hint}")]
    Ambiguous {
        study: String,
        what: String,
        candidates: String,
        hint: &'static str,
    },
    #[error("phase `{phase}` is given a series or a rule, but is not a phase asked for (phases: {phases})")]
    UnknownPhase { phase: String, phases: String },
    #[error("study {study}: series {series} is not in the study")]
    NoSuchSeries { study: String, series: String },
    #[error("study {study}, series {series}: incomplete: the archive lists {expected} instances, {got} arrived{detail}")]
    Incomplete {
        study: String,
        series: String,
        expected: usize,
        got: usize,
        detail: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Imaging(#[from] renal_imaging::ImagingError),
}

impl PacsError {
    /// Whether the archive stopped answering (so that other studies will fail the same way).
    pub fn archive_down(&self) -> bool {
        matches!(self, PacsError::Archive(e) if e.is_transient())
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PacsError + '_ {
    move |source| PacsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A series as QIDO-RS lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub uid: String,
    pub modality: String,
    pub description: String,
}

impl Series {
    pub fn from_attributes(a: &Attributes) -> Option<Series> {
        Some(Series {
            uid: a.text(tags::SERIES_UID)?,
            modality: a.text(tags::MODALITY).unwrap_or_default(),
            description: a.text(tags::SERIES_DESCRIPTION).unwrap_or_default(),
        })
    }

    fn is_mask(&self) -> bool {
        self.modality == "SEG" || self.modality == "RTSTRUCT"
    }
}

/// Which series are which CT phase: series UIDs the user gives (these win), then rules on
/// Series Description (any of a phase's words, case-insensitive; a phase without a rule is
/// matched by its own name).
#[derive(Debug, Clone, Default)]
pub struct PhaseChoice {
    pub series: BTreeMap<String, String>,
    pub rules: BTreeMap<String, Vec<String>>,
    /// The segmentation series, when the study has more than one.
    pub mask_series: Option<String>,
}

/// The series of a study that a case needs.
#[derive(Debug, Clone)]
pub struct StudyPlan {
    pub study: String,
    pub phases: BTreeMap<String, Series>,
    pub mask: Series,
    pub all: Vec<Series>,
}

fn listing(series: &[Series]) -> String {
    if series.is_empty() {
        return "none".into();
    }
    series
        .iter()
        .map(|s| {
            if s.description.is_empty() {
                format!("{} {}", s.modality, s.uid)
            } else {
                format!("{} {} `{}`", s.modality, s.uid, s.description)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The UIDs of some series, for a message.
fn uids(series: &[&Series]) -> String {
    series
        .iter()
        .map(|s| s.uid.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The series of one phase: the one the user gave, else the one CT series whose description
/// holds a word of the phase's rule (its own name when it has none).
fn pick_phase<'a>(
    study: &str,
    series: &'a [Series],
    phase: &str,
    choice: &PhaseChoice,
) -> Result<&'a Series, PacsError> {
    if let Some(uid) = choice.series.get(phase) {
        return series
            .iter()
            .find(|s| &s.uid == uid)
            .ok_or_else(|| PacsError::NoSuchSeries {
                study: study.into(),
                series: uid.clone(),
            });
    }
    let own = vec![phase.to_string()];
    let words = choice.rules.get(phase).unwrap_or(&own);
    let hits: Vec<&Series> = series
        .iter()
        .filter(|s| s.modality == "CT")
        .filter(|s| {
            let d = s.description.to_lowercase();
            words.iter().any(|w| d.contains(&w.to_lowercase()))
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(PacsError::Missing {
            study: study.into(),
            what: "CT series whose description names the phase",
            found: format!("{}; phase `{phase}`", listing(series)),
        }),
        many => Err(PacsError::Ambiguous {
            study: study.into(),
            what: format!("phase `{phase}`"),
            candidates: uids(many),
            hint: "give the series with --phase-series PHASE=UID",
        }),
    }
}

/// The segmentation series: the one the user gave, else the study's one SEG (it holds the
/// label map as drawn, not contours), else its one RTSTRUCT.
fn pick_mask<'a>(
    study: &str,
    series: &'a [Series],
    choice: &PhaseChoice,
) -> Result<&'a Series, PacsError> {
    let masks: Vec<&Series> = series.iter().filter(|s| s.is_mask()).collect();
    if let Some(uid) = &choice.mask_series {
        return masks
            .iter()
            .find(|s| &s.uid == uid)
            .copied()
            .ok_or_else(|| PacsError::NoSuchSeries {
                study: study.into(),
                series: uid.clone(),
            });
    }
    let segs: Vec<&Series> = masks
        .iter()
        .copied()
        .filter(|s| s.modality == "SEG")
        .collect();
    match (segs.as_slice(), masks.as_slice()) {
        ([one], _) => Ok(*one),
        ([], [one]) => Ok(*one),
        ([], []) => Err(PacsError::Missing {
            study: study.into(),
            what: "segmentation (SEG or RTSTRUCT)",
            found: listing(series),
        }),
        _ => Err(PacsError::Ambiguous {
            study: study.into(),
            what: "the segmentation".into(),
            candidates: uids(&masks),
            hint: "give the series with --mask-series UID",
        }),
    }
}

/// Chooses the study's series for `phases` and its segmentation.
pub fn plan_study(
    study: &str,
    series: Vec<Series>,
    phases: &[String],
    choice: &PhaseChoice,
) -> Result<StudyPlan, PacsError> {
    // A series or rule for a phase nobody asked for would be ignored without a word.
    if let Some(p) = choice
        .series
        .keys()
        .chain(choice.rules.keys())
        .find(|p| !phases.contains(p))
    {
        return Err(PacsError::UnknownPhase {
            phase: p.clone(),
            phases: if phases.is_empty() {
                "none: the model reads no CT phase".into()
            } else {
                phases.join(", ")
            },
        });
    }
    let mut chosen = BTreeMap::new();
    for phase in phases {
        chosen.insert(
            phase.clone(),
            pick_phase(study, &series, phase, choice)?.clone(),
        );
    }
    let mask = pick_mask(study, &series, choice)?.clone();
    Ok(StudyPlan {
        study: study.into(),
        phases: chosen,
        mask,
        all: series,
    })
}

/// The series of a study, as the archive lists them (an unknown study is an error).
pub fn study_series(client: &Client, study: &str) -> Result<Vec<Series>, PacsError> {
    Ok(client
        .study_series(study)?
        .iter()
        .filter_map(Series::from_attributes)
        .collect())
}

/// Writes each part of a WADO-RS answer to its own file, `000001.dcm`, ... in a folder, and
/// reads each one's SOP Instance UID from its first bytes as they pass.
struct FolderSink {
    dir: PathBuf,
    count: usize,
    file: Option<std::fs::File>,
    head: Vec<u8>,
    /// The SOP Instance UID of each part (`None`: its first bytes name none).
    uids: Vec<Option<String>>,
}

impl PartSink for FolderSink {
    fn begin(&mut self, headers: &[(String, String)]) -> Result<(), MultipartError> {
        if let Some((_, ct)) = headers.iter().find(|(k, _)| k == "content-type") {
            if !ct.to_ascii_lowercase().starts_with("application/dicom") {
                return Err(MultipartError::Sink(format!(
                    "a part is `{}`, not application/dicom",
                    ct.escape_debug()
                )));
            }
        }
        self.count += 1;
        let path = self.dir.join(format!("{:06}.dcm", self.count));
        self.file = Some(std::fs::File::create(path)?);
        self.head.clear();
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<(), MultipartError> {
        let room = renal_imaging::dicom::META_HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        match &mut self.file {
            // The parser hands over chunks of up to `multipart::CHUNK` bytes: written as they
            // come, no buffer between.
            Some(f) => Ok(f.write_all(bytes)?),
            None => Err(MultipartError::Sink("data outside a part".into())),
        }
    }

    fn end(&mut self) -> Result<(), MultipartError> {
        // No fsync per file: the folder is committed by a rename, and a rerun verifies every
        // file it finds against the archive's list before trusting it.
        self.file = None;
        self.uids
            .push(renal_imaging::dicom::meta_instance_uid(&self.head));
        Ok(())
    }
}

/// The SOP Instance UIDs of a local series folder (each file's meta group, read from its
/// first bytes).
fn local_instances(dir: &Path) -> Result<BTreeSet<String>, PacsError> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        out.insert(renal_imaging::dicom::instance_uid(&p)?);
    }
    Ok(out)
}

/// Whether the folder holds exactly these instances.
fn complete(dir: &Path, expected: &BTreeSet<String>) -> bool {
    dir.is_dir() && local_instances(dir).is_ok_and(|got| &got == expected)
}

/// What fetching one series did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The folder already held every instance.
    Skipped,
    /// Retrieved, every instance checked.
    Retrieved,
}

/// Retrieves a series into `dir` unless it is there complete; the series arrives in a
/// staging folder beside `dir`, is checked against the archive's instance list (count and
/// SOP Instance UIDs), and only then renamed into place.
pub fn fetch_series(
    client: &Client,
    study: &str,
    series: &str,
    dir: &Path,
) -> Result<Fetched, PacsError> {
    let expected: BTreeSet<String> = client
        .series_instances(study, series)?
        .into_iter()
        .collect();
    if complete(dir, &expected) {
        return Ok(Fetched::Skipped);
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("series");
    let parent = dir.parent().unwrap_or(Path::new("."));
    let staging = parent.join(format!(".{name}.partial"));
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    // An answer that breaks off is asked for again, as many times as the client retries,
    // each time into an empty staging folder.
    let mut tries = 0;
    let result = loop {
        tries += 1;
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        let mut sink = FolderSink {
            dir: staging.clone(),
            count: 0,
            file: None,
            head: Vec::new(),
            uids: Vec::new(),
        };
        match client
            .retrieve_series(study, series, &mut sink)
            .map(|n| (n, sink.uids))
        {
            Err(e) if e.is_transient() && tries <= client.options().retries => {
                tracing::warn!("a series broke off mid-answer; asking again ({tries})");
            }
            r => break r,
        }
    };
    let checked = result.map_err(PacsError::from).and_then(|(n, uids)| {
        // A part whose first bytes name no instance (no meta group) is read whole.
        let got: BTreeSet<String> = if uids.iter().all(|u| u.is_some()) {
            uids.into_iter().flatten().collect()
        } else {
            local_instances(&staging)?
        };
        if got == expected && n == expected.len() {
            return Ok(n);
        }
        let missing = expected.difference(&got).count();
        let extra = got.difference(&expected).count();
        Err(PacsError::Incomplete {
            study: study.into(),
            series: series.into(),
            expected: expected.len(),
            got: n,
            detail: format!(" ({missing} missing, {extra} not listed)"),
        })
    });
    match checked {
        Ok(_) => {
            std::fs::rename(&staging, dir).map_err(io_err(dir))?;
            Ok(Fetched::Retrieved)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// A study's series made local under `dir`: `ct_<phase>/`, `mask/` and, when the
/// segmentation was drawn on a series that is not one of the phases, `reference_ct/`.
#[derive(Debug, Clone, Default)]
pub struct LocalStudy {
    pub phases: BTreeMap<String, PathBuf>,
    /// The segmentation file.
    pub mask: PathBuf,
    /// Every folder written (for the SR's evidence).
    pub folders: Vec<PathBuf>,
    pub retrieved: usize,
    pub skipped: usize,
}

/// Fetches what `plan` chose into `dir`.
pub fn fetch_study(client: &Client, plan: &StudyPlan, dir: &Path) -> Result<LocalStudy, PacsError> {
    let mut local = LocalStudy::default();
    let count = |f: Fetched, local: &mut LocalStudy| match f {
        Fetched::Skipped => local.skipped += 1,
        Fetched::Retrieved => local.retrieved += 1,
    };
    for (phase, s) in &plan.phases {
        let d = dir.join(format!("ct_{phase}"));
        count(fetch_series(client, &plan.study, &s.uid, &d)?, &mut local);
        local.phases.insert(phase.clone(), d.clone());
        local.folders.push(d);
    }
    let mask_dir = dir.join("mask");
    count(
        fetch_series(client, &plan.study, &plan.mask.uid, &mask_dir)?,
        &mut local,
    );
    // The folder holds exactly the series' verified instances: one file per object.
    let entries: Vec<PathBuf> = std::fs::read_dir(&mask_dir)
        .map_err(io_err(&mask_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let [mask] = entries.as_slice() else {
        return Err(PacsError::Ambiguous {
            study: plan.study.clone(),
            what: format!("segmentation series {}", plan.mask.uid),
            candidates: format!("{} objects in it", entries.len()),
            hint: "a segmentation series should hold one SEG or RTSTRUCT object",
        });
    };
    local.mask = mask.clone();
    let reference = renal_imaging::dicom::mask::referenced_series_of(&local.mask)?;
    if !plan.phases.values().any(|s| s.uid == reference) {
        if !plan.all.iter().any(|s| s.uid == reference) {
            return Err(PacsError::Missing {
                study: plan.study.clone(),
                what: "image series the segmentation was drawn on",
                found: format!("{}; it references {reference}", listing(&plan.all)),
            });
        }
        let d = dir.join("reference_ct");
        count(
            fetch_series(client, &plan.study, &reference, &d)?,
            &mut local,
        );
        local.folders.push(d);
    }
    local.folders.push(mask_dir);
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(uid: &str, modality: &str, description: &str) -> Series {
        Series {
            uid: uid.into(),
            modality: modality.into(),
            description: description.into(),
        }
    }

    #[test]
    fn phases_and_the_segmentation_are_chosen_by_mapping_or_rules() {
        let study = vec![
            s("1.1", "CT", "Abdomen ARTERIAL 1.0"),
            s("1.2", "CT", "Portal venous phase"),
            s("1.3", "CT", "Delayed"),
            s("1.4", "SEG", "tumour"),
            s("1.5", "RTSTRUCT", ""),
        ];
        let mut choice = PhaseChoice::default();
        choice
            .rules
            .insert("venous".into(), vec!["portal".into(), "nephro".into()]);
        let phases = vec!["arterial".to_string(), "venous".to_string()];
        let p = plan_study("9", study.clone(), &phases, &choice).unwrap();
        assert_eq!(p.phases["arterial"].uid, "1.1");
        assert_eq!(p.phases["venous"].uid, "1.2");
        // The SEG wins over the RTSTRUCT.
        assert_eq!(p.mask.uid, "1.4");
        // An explicit series wins over the rules.
        choice.series.insert("arterial".into(), "1.3".into());
        let p = plan_study("9", study.clone(), &phases, &choice).unwrap();
        assert_eq!(p.phases["arterial"].uid, "1.3");
        // No match, two matches, an unknown series, no segmentation: errors naming the study.
        let e = plan_study(
            "9",
            study.clone(),
            &["excretory".into()],
            &PhaseChoice::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("study 9") && e.contains("excretory"), "{e}");
        let mut two = PhaseChoice::default();
        two.rules.insert("a".into(), vec!["a".into()]);
        let e = plan_study("9", study.clone(), &["a".into()], &two)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1.1, 1.2, 1.3") && e.contains("--phase-series"),
            "{e}"
        );
        choice.series.insert("arterial".into(), "7.7".into());
        let e = plan_study("9", study.clone(), &phases, &choice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("7.7"), "{e}");
        let e = plan_study("9", study[..3].to_vec(), &[], &PhaseChoice::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no segmentation (SEG or RTSTRUCT)"), "{e}");
        // A series or rule for a phase that is not asked for is an error, not ignored.
        let mut stray = PhaseChoice::default();
        stray.series.insert("delayed".into(), "1.3".into());
        let e = plan_study("9", study.clone(), &phases, &stray)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`delayed`") && e.contains("arterial, venous"),
            "{e}"
        );
        // Only an RTSTRUCT: it is the segmentation.
        let p = plan_study(
            "9",
            vec![s("1.5", "RTSTRUCT", "")],
            &[],
            &PhaseChoice::default(),
        )
        .unwrap();
        assert_eq!(p.mask.uid, "1.5");
    }
}
