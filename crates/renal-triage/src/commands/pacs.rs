//! `renal-triage pacs`: the hospital's archive over DICOMweb. `find` lists series (QIDO-RS),
//! `predict` retrieves a study (WADO-RS), predicts as `predict` does and with `--store` sends
//! the DICOM SR back into the study (STOW-RS), `pull` makes a cohort of studies local.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use renal_dicomweb::{tags, Auth, Client, Options};

use crate::engine::pacs::{fetch_study, plan_study, study_series, PhaseChoice};
use crate::model::image::{embedder, EncoderBackend};
use crate::model::predict::{predict_with, PatientInput};

#[derive(Args, Debug)]
pub struct PacsArgs {
    #[command(subcommand)]
    pub command: PacsCommand,
}

#[derive(Subcommand, Debug)]
pub enum PacsCommand {
    /// List the archive's series (QIDO-RS), by patient, study or modality.
    Find(FindArgs),
    /// Retrieve a study's CT phases and segmentation, predict, and with --store send the DICOM
    /// SR back into the study.
    Predict(Box<PacsPredictArgs>),
    /// Make a cohort of studies local (one row per case: case_id, study_uid, clinical values):
    /// the manifest layout `cohort`, `reproduce` and `validate` read; resumable.
    Pull(PullArgs),
}

/// Where the archive is and how to log in.
#[derive(Args, Debug, Clone)]
pub struct ArchiveArgs {
    /// The DICOMweb service's base URL (Orthanc: `http://host:8042/dicom-web`).
    #[arg(long)]
    pub url: String,
    /// HTTP basic authentication: the user; the password from --password-file or the
    /// environment variable RENAL_TRIAGE_PACS_PASSWORD (never on the command line).
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long, requires = "user")]
    pub password_file: Option<PathBuf>,
    /// Bearer authentication: a file holding the token (or RENAL_TRIAGE_PACS_TOKEN).
    #[arg(long, conflicts_with = "user")]
    pub token_file: Option<PathBuf>,
    /// PEM file of the certificate authorities trusted for an https URL (default: the
    /// Mozilla roots).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Seconds each request may wait to connect, or between bytes of an answer.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Tries after the first on a connection error or a 5xx answer (none on 4xx), waiting
    /// 0.5 s, then twice as long each time.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
}

fn secret_file(path: &std::path::Path) -> Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let s = s.trim().to_string();
    anyhow::ensure!(!s.is_empty(), "{}: the file is empty", path.display());
    Ok(s)
}

impl ArchiveArgs {
    fn auth(&self) -> Result<Auth> {
        if let Some(user) = &self.user {
            let password = match &self.password_file {
                Some(p) => secret_file(p)?,
                None => std::env::var("RENAL_TRIAGE_PACS_PASSWORD").map_err(|_| {
                    anyhow::anyhow!(
                        "--user {user}: give the password in --password-file or RENAL_TRIAGE_PACS_PASSWORD"
                    )
                })?,
            };
            return Ok(Auth::Basic {
                user: user.clone(),
                password,
            });
        }
        if let Some(p) = &self.token_file {
            return Ok(Auth::Bearer(secret_file(p)?));
        }
        Ok(match std::env::var("RENAL_TRIAGE_PACS_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Auth::Bearer(t),
            _ => Auth::None,
        })
    }

    /// A client of the archive keeping up to `connections` connections open.
    pub fn client(&self, connections: usize) -> Result<Client> {
        let opts = Options {
            auth: self.auth()?,
            ca_file: self.ca_file.clone(),
            timeout: Duration::from_secs(self.timeout),
            retries: self.retries,
            max_object: renal_imaging::limits::get().0,
            connections,
            ..Options::default()
        };
        Ok(Client::new(&self.url, opts)?)
    }
}

/// Which series are the CT phases and the segmentation.
#[derive(Args, Debug, Clone, Default)]
pub struct SeriesChoiceArgs {
    /// A phase's series, `PHASE=SERIES_UID` (repeatable); wins over the rules.
    #[arg(long = "phase-series", value_name = "PHASE=UID")]
    pub phase_series: Vec<String>,
    /// Words of Series Description that name a phase, `PHASE=WORD|WORD` (repeatable,
    /// case-insensitive); a phase without a rule is found by its own name.
    #[arg(long = "phase-rule", value_name = "PHASE=WORDS")]
    pub phase_rule: Vec<String>,
    /// The segmentation series (SEG or RTSTRUCT), when the study holds several.
    #[arg(long)]
    pub mask_series: Option<String>,
}

fn pairs(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in items {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--{flag} {kv}: expected PHASE=VALUE"))?;
        anyhow::ensure!(
            out.insert(k.trim().to_string(), v.trim().to_string())
                .is_none(),
            "--{flag} {kv}: the phase `{}` is given twice",
            k.trim()
        );
    }
    Ok(out)
}

impl SeriesChoiceArgs {
    pub fn choice(&self) -> Result<PhaseChoice> {
        Ok(PhaseChoice {
            series: pairs("phase-series", &self.phase_series)?,
            rules: pairs("phase-rule", &self.phase_rule)?
                .into_iter()
                .map(|(k, v)| (k, v.split('|').map(|w| w.trim().to_string()).collect()))
                .collect(),
            mask_series: self.mask_series.clone(),
        })
    }
}

#[derive(Args, Debug)]
pub struct FindArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[arg(long)]
    pub patient: Option<String>,
    #[arg(long)]
    pub study: Option<String>,
    /// CT, SEG, RTSTRUCT, SR, ...
    #[arg(long)]
    pub modality: Option<String>,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// One row of `pacs find`.
#[derive(Debug, serde::Serialize)]
struct FoundSeries {
    patient_id: String,
    study_date: String,
    study_uid: String,
    series_uid: String,
    modality: String,
    instances: Option<i64>,
    description: String,
}

fn find(a: FindArgs) -> Result<ExitCode> {
    let client = a.archive.client(1)?;
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = &a.patient {
        query.push(("PatientID", p));
    }
    if let Some(s) = &a.study {
        query.push(("StudyInstanceUID", s));
    }
    if let Some(m) = &a.modality {
        query.push(("Modality", m));
    }
    for f in [
        tags::PATIENT_ID,
        tags::STUDY_DATE,
        tags::SERIES_DESCRIPTION,
        tags::INSTANCES_IN_SERIES,
    ] {
        query.push(("includefield", f));
    }
    let rows: Vec<FoundSeries> = client
        .search("series", &query)?
        .iter()
        .map(|x| FoundSeries {
            patient_id: x.text(tags::PATIENT_ID).unwrap_or_default(),
            study_date: x.text(tags::STUDY_DATE).unwrap_or_default(),
            study_uid: x.text(tags::STUDY_UID).unwrap_or_default(),
            series_uid: x.text(tags::SERIES_UID).unwrap_or_default(),
            modality: x.text(tags::MODALITY).unwrap_or_default(),
            instances: x.int(tags::INSTANCES_IN_SERIES),
            description: x.text(tags::SERIES_DESCRIPTION).unwrap_or_default(),
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        ListFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        ListFormat::Table => {
            let mut table = vec![[
                "patient",
                "date",
                "study",
                "series",
                "modality",
                "instances",
                "description",
            ]
            .map(String::from)];
            for r in &rows {
                table.push([
                    r.patient_id.clone(),
                    r.study_date.clone(),
                    r.study_uid.clone(),
                    r.series_uid.clone(),
                    r.modality.clone(),
                    r.instances.map(|n| n.to_string()).unwrap_or_default(),
                    r.description.clone(),
                ]);
            }
            let widths: Vec<usize> = (0..7)
                .map(|c| {
                    table
                        .iter()
                        .map(|r| r[c].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for r in &table {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                writeln!(out, "{}", cells.join("  ").trim_end())?;
            }
            eprintln!("{} series", rows.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct PacsPredictArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// The study (Study Instance UID).
    #[arg(long)]
    pub study: String,
    /// Model bundle.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub trust: super::BundleTrust,
    #[command(flatten)]
    pub series: SeriesChoiceArgs,
    /// Clinical values as JSON, or `@file.json` (as `predict --clinical`).
    #[arg(long)]
    pub clinical: Option<String>,
    /// One clinical value, `name=value` (repeatable; as `predict --set`).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Which segments are the kidney, the tumor and the cyst (default: the segments' names).
    #[arg(long)]
    pub label_map: Option<renal_imaging::LabelMap>,
    #[arg(long)]
    pub case_id: Option<String>,
    /// Send the answer's DICOM SR into the study (STOW-RS).
    #[arg(long)]
    pub store: bool,
    /// Also write the SR here.
    #[arg(long)]
    pub sr: Option<PathBuf>,
    /// Write the one-page patient report (HTML) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = super::predict::Format::Json)]
    pub format: super::predict::Format,
    #[arg(long, value_enum, default_value_t = EncoderBackend::Rust)]
    pub encoder_backend: EncoderBackend,
}

fn pacs_predict(a: PacsPredictArgs) -> Result<ExitCode> {
    let bundle = a.trust.load(&a.model)?;
    let client = a.archive.client(1)?;
    let plan = plan_study(
        &a.study,
        study_series(&client, &a.study)?,
        bundle.manifest.ct_phases(),
        &a.series.choice()?,
    )?;
    let tmp = tempfile::tempdir().context("a temporary folder for the study")?;
    let local = fetch_study(&client, &plan, tmp.path())?;
    let input = PatientInput {
        case_id: a.case_id.clone(),
        clinical: super::predict::clinical_values(&a.clinical, &a.set)?,
        mask: Some(local.mask.clone()),
        mask_labels: None,
        label_map: a.label_map.clone(),
        ct: local.phases.clone(),
        ct_decoded: BTreeMap::new(),
        study_uid: None,
    };
    let embed = embedder(&bundle, a.encoder_backend, false)?;
    let p = predict_with(&bundle, &input, embed.as_ref())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("predicting study {}", a.study))?;
    super::predict::tell(&bundle, &p);
    if let Some(path) = &a.report {
        let html = crate::server::patient_report(&bundle, &p);
        renal_cohort::io::write_atomic(path, html.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if a.store || a.sr.is_some() {
        let sr = tmp.path().join("prediction-sr.dcm");
        crate::model::sr::write_prediction_sr(
            &sr,
            &bundle,
            &p,
            &local.folders,
            &crate::model::sr::SrPlacement::default(),
        )
        .context("writing the SR")?;
        let bytes = std::fs::read(&sr).with_context(|| format!("reading {}", sr.display()))?;
        if let Some(path) = &a.sr {
            renal_cohort::io::write_atomic(path, &bytes)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if a.store {
            let stored = client.store(&a.study, &[bytes])?;
            eprintln!(
                "stored the SR in study {} (HTTP {}, instance {})",
                a.study,
                stored.status,
                stored.stored.join(", ")
            );
        }
    }
    super::predict::print_predictions(a.format, std::slice::from_ref(&p), false)?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(a: PacsArgs) -> Result<ExitCode> {
    match a.command {
        PacsCommand::Find(f) => find(f),
        PacsCommand::Predict(p) => pacs_predict(*p),
        PacsCommand::Pull(p) => pull(p),
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// The studies: a CSV with `case_id`, `study_uid`, optional `series_<phase>` and
    /// `mask_series` (series UIDs), and any clinical and histology columns (copied).
    #[arg(long)]
    pub manifest: PathBuf,
    /// Where the cases and `manifest.csv` go.
    #[arg(long)]
    pub out: PathBuf,
    /// CT phases to fetch for every case, found by --phase-rule (or by their own name in
    /// Series Description) unless a `series_<phase>` column gives the series.
    #[arg(long, value_delimiter = ',')]
    pub phases: Vec<String>,
    /// Words of Series Description that name a phase, `PHASE=WORD|WORD` (repeatable).
    #[arg(long = "phase-rule", value_name = "PHASE=WORDS")]
    pub phase_rule: Vec<String>,
    /// Studies fetched at once (each over its own connection).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub connections: u64,
}

fn pull(a: PullArgs) -> Result<ExitCode> {
    let rules = SeriesChoiceArgs {
        phase_rule: a.phase_rule.clone(),
        ..SeriesChoiceArgs::default()
    }
    .choice()?
    .rules;
    let studies = crate::engine::pacs_pull::read_studies(&a.manifest, &a.phases, &rules)?;
    let n = a.connections as usize;
    let client = a.archive.client(n)?;
    let summary = crate::engine::pacs_pull::pull(&client, &studies, &a.out, n)?;
    for (case, why) in &summary.excluded {
        eprintln!("{case}: excluded: {why}");
    }
    eprintln!(
        "{} of {} studies local ({} series retrieved, {} already complete); manifest {}",
        summary.complete,
        summary.studies,
        summary.series_retrieved,
        summary.series_skipped,
        summary.manifest.display()
    );
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(if summary.excluded.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
