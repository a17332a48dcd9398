//! `renal-triage predict`: one new patient (or a batch manifest) with a model bundle.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::model::image::{embedder, EncoderBackend};
use crate::model::predict::{predict_with, PatientInput, Prediction};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model bundle.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub trust: super::BundleTrust,
    /// Clinical values as JSON (`{"age": 61, "sex": "male", ...}`), or `@file.json`.
    #[arg(long)]
    pub clinical: Option<String>,
    /// One clinical value, `name=value` (repeatable): a number, or a word of the field's
    /// vocabulary (`smoking_status=former`, `diabetes=yes`, `sex=female`; codes accepted too);
    /// `unknown` leaves it missing. `inspect --fields MODEL` lists the fields and their values.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Segmentation or tumor mask: NIfTI, NRRD (`.seg.nrrd`), MetaImage, or a DICOM SEG or
    /// RTSTRUCT (rebuilt on the CT series it references: a `--ct` folder, or one beside it).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Which mask labels or segments are the kidney, the tumor and the cyst
    /// (`kidney=1,tumor=2,cyst=3`, or segment names: `tumor=Lesion 1`); default: KiTS23's
    /// values, or the segments' names. In a batch, a `label_map` column overrides it per row.
    #[arg(long)]
    pub label_map: Option<renal_imaging::LabelMap>,
    /// A CT phase, `name=PATH` (repeatable; NIfTI, NRRD, MetaImage or a DICOM series folder), for an
    /// image model trained on CT.
    #[arg(long = "ct", value_name = "PHASE=PATH")]
    pub ct: Vec<String>,
    /// Write the image the model saw (its channels side by side) as a PNG here.
    #[arg(long)]
    pub preview: Option<PathBuf>,
    /// Write a one-page patient report here (HTML that prints on A4: the answer, the slice an
    /// image model saw, the model card); one patient only.
    #[arg(long, conflicts_with = "manifest")]
    pub report: Option<PathBuf>,
    /// Write the answer as a DICOM Comprehensive SR here (a TID 1500-style measurement report:
    /// tumor size, probabilities, thresholds, decisions, model); one patient only.
    #[arg(long, conflicts_with = "manifest")]
    pub sr: Option<PathBuf>,
    /// With `--sr` and inputs that are not DICOM: the Study Instance UID the SR files under
    /// (default: a new study). DICOM inputs give their own study.
    #[arg(long, requires = "sr", value_parser = parse_uid)]
    pub study_uid: Option<String>,
    /// With `--sr` and inputs that are not DICOM: the Patient ID (default: the case id). DICOM
    /// inputs give their own patient module.
    #[arg(long, requires = "sr", value_parser = parse_patient_id)]
    pub patient_id: Option<String>,
    #[arg(long)]
    pub case_id: Option<String>,
    /// A batch: manifest CSV (`case_id`, clinical columns, `mask`, `ct_<phase>`), one
    /// prediction per row.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Who runs an image model's encoder: the network in plain Rust in this process (the
    /// default: no process to start, so a cold call is faster), or the libtorch encoder
    /// process (one for the whole call; docs/bench/README.md compares them).
    #[arg(long, value_enum, default_value_t = EncoderBackend::Rust)]
    pub encoder_backend: EncoderBackend,
}

fn parse_uid(s: &str) -> std::result::Result<String, crate::model::sr::SrFieldError> {
    crate::model::sr::check_uid(s.trim()).map(|_| s.trim().to_string())
}

fn parse_patient_id(s: &str) -> std::result::Result<String, crate::model::sr::SrFieldError> {
    crate::model::sr::check_patient_id(s).map(|_| s.to_string())
}

/// How predictions are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

/// The clinical values of `--clinical` (JSON or `@file.json`) and `--set NAME=VALUE`.
pub(crate) fn clinical_values(
    json: &Option<String>,
    set: &[String],
) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut clinical: BTreeMap<String, serde_json::Value> = match json {
        Some(s) => {
            let text = match s.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?
                }
                None => s.clone(),
            };
            // A UTF-8 byte-order mark (as some editors write) is not part of the JSON.
            crate::model::predict::parse_clinical_json(text.trim_start_matches('\u{feff}'))
                .map_err(|e| {
                    anyhow::anyhow!("--clinical: {e} (expected a JSON object of name: value)")
                })?
        }
        None => BTreeMap::new(),
    };
    for kv in set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected NAME=VALUE"))?;
        // As typed: a number, a word of the field's vocabulary or a code, read by the field.
        let val = serde_json::Value::from(v.trim());
        if clinical.insert(k.trim().to_string(), val).is_some() {
            anyhow::bail!(
                "--set {kv}: `{}` is given twice (by --set or --clinical); give each value once",
                k.trim()
            );
        }
    }
    Ok(clinical)
}

fn single_input(args: &PredictArgs) -> Result<PatientInput> {
    let clinical = clinical_values(&args.clinical, &args.set)?;
    let mut ct = BTreeMap::new();
    for kv in &args.ct {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--ct {kv}: expected PHASE=PATH"))?;
        if ct.insert(k.trim().to_string(), PathBuf::from(v)).is_some() {
            anyhow::bail!("--ct {kv}: the phase `{}` is given twice", k.trim());
        }
    }
    Ok(PatientInput {
        case_id: args.case_id.clone(),
        clinical,
        mask: args.mask.clone(),
        mask_labels: None,
        label_map: args.label_map.clone(),
        ct,
        ct_decoded: BTreeMap::new(),
        study_uid: None,
    })
}

fn batch_inputs(path: &std::path::Path) -> Result<Vec<PatientInput>> {
    let base = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = rdr
        .headers()?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for rec in rdr.records() {
        let rec = rec?;
        let mut input = PatientInput::default();
        for (h, v) in header.iter().zip(rec.iter()) {
            match h.as_str() {
                "case_id" => {
                    renal_cohort::cohort::check_case_id(v.trim()).map_err(anyhow::Error::msg)?;
                    input.case_id = Some(v.trim().to_string())
                }
                "mask" if !v.trim().is_empty() => {
                    input.mask = Some(
                        renal_cohort::manifest::resolve_inside(&base, v, "mask")
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                    )
                }
                "label_map" if !v.trim().is_empty() => {
                    input.label_map = Some(v.parse().with_context(|| {
                        format!(
                            "{}: row of case {:?}: label_map",
                            path.display(),
                            input.case_id
                        )
                    })?)
                }
                "mask" | "label" | "label_map" => {}
                _ if h.starts_with("ct_") && !v.trim().is_empty() => {
                    let phase = h.trim_start_matches("ct_").to_string();
                    let p = renal_cohort::manifest::resolve_inside(&base, v, h)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    input.ct.insert(phase, p);
                }
                _ if h.starts_with("ct_") => {}
                _ if v.trim().is_empty() => {}
                _ => {
                    input
                        .clinical
                        .insert(h.clone(), serde_json::Value::from(v.trim()));
                }
            }
        }
        if let Some(id) = &input.case_id {
            if !seen.insert(id.clone()) {
                anyhow::bail!(
                    "{}: case id `{id}` appears twice (each row is one patient)",
                    path.display()
                );
            }
        }
        out.push(input);
    }
    Ok(out)
}

const CSV_HEADER: [&str; 13] = [
    "case_id",
    "p_benign",
    "p_indolent",
    "p_aggressive",
    "p_malignant",
    "p_aggressive_vs_rest",
    "tumor_size_mm",
    "decisions",
    "imputed",
    "out_of_range",
    "triage_call",
    "prediction_set",
    "operating_decisions",
];

/// Decisions in a CSV cell: `task=true;task=false` (`none` without a threshold).
fn decisions_cell(decisions: &[crate::model::predict::Decision]) -> String {
    decisions
        .iter()
        .map(|d| {
            format!(
                "{}={}",
                d.task.name(),
                d.positive.map(|b| b.to_string()).unwrap_or("none".into())
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn csv_row(p: &Prediction) -> Vec<String> {
    vec![
        p.case_id.clone().unwrap_or_default(),
        format!("{}", p.p_benign),
        format!("{}", p.p_indolent),
        format!("{}", p.p_aggressive),
        format!("{}", p.p_malignant),
        format!("{}", p.p_aggressive_vs_rest),
        p.tumor_size_mm.map(|v| format!("{v}")).unwrap_or_default(),
        decisions_cell(&p.decisions),
        p.imputed.join(";"),
        p.out_of_range
            .iter()
            .map(|o| o.feature.clone())
            .collect::<Vec<_>>()
            .join(";"),
        p.triage.headline.clone(),
        p.prediction_set
            .as_ref()
            .map(|s| s.classes.join(";"))
            .unwrap_or_default(),
        decisions_cell(&p.operating_decisions),
    ]
}

/// The one-patient outputs: the preview PNG, the patient report, the DICOM SR.
fn write_single_outputs(
    args: &PredictArgs,
    bundle: &crate::model::bundle::Bundle,
    p: &Prediction,
    input: &PatientInput,
) -> Result<()> {
    if let (Some(path), Some(img)) = (&args.preview, p.slice.as_ref()) {
        let (w, h, px) = renal_imaging::png::channels_strip(img);
        renal_cohort::io::write_atomic(path, &renal_imaging::png::encode_gray(w, h, &px))
            .with_context(|| format!("writing {}", path.display()))?;
    } else if let Some(path) = &args.preview {
        anyhow::bail!(
            "--preview {}: this model does not use an image",
            path.display()
        );
    }
    if let Some(path) = &args.report {
        let html = crate::server::patient_report(bundle, p);
        renal_cohort::io::write_atomic(path, html.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.sr {
        let sources: Vec<PathBuf> = input
            .ct
            .values()
            .chain(input.mask.iter())
            .cloned()
            .collect();
        let place = crate::model::sr::SrPlacement {
            study_uid: args.study_uid.clone(),
            patient_id: args.patient_id.clone(),
        };
        crate::model::sr::write_prediction_sr(path, bundle, p, &sources, &place)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// What `predict` says on stderr of one answer: the call, and the inputs imputed.
pub(crate) fn tell(bundle: &crate::model::bundle::Bundle, p: &Prediction) {
    let who = p.case_id.clone().unwrap_or_else(|| "patient".into());
    eprintln!("{who}: triage call: {}", p.triage.headline);
    if !p.imputed.is_empty() {
        eprintln!(
            "{who}: {} of the model's {} inputs were missing and imputed with the training median: {}",
            p.imputed_count,
            bundle.manifest.features.len(),
            crate::model::predict::input_words(&p.imputed).join(", ")
        );
    }
}

pub fn run(args: PredictArgs) -> Result<ExitCode> {
    let bundle = args.trust.load(&args.model)?;
    let weak =
        crate::model::bundle::weak_tasks(&bundle.manifest, crate::model::bundle::WEAK_AUC_FLOOR);
    if !weak.is_empty() {
        eprintln!(
            "warning: this model discriminates poorly in cross-validation: {} (below {}); treat its decisions with caution",
            weak.join(", "),
            crate::model::bundle::WEAK_AUC_FLOOR
        );
    }
    let mut inputs = match &args.manifest {
        Some(m) => batch_inputs(m)?,
        None => vec![single_input(&args)?],
    };
    if let Some(m) = &args.label_map {
        for i in &mut inputs {
            i.label_map.get_or_insert_with(|| m.clone());
        }
    }
    let embedder = embedder(&bundle, args.encoder_backend, inputs.len() > 1)?;
    let mut preds = Vec::new();
    let mut failed = Vec::new();
    for i in &inputs {
        match predict_with(&bundle, i, embedder.as_ref()) {
            Ok(p) => {
                tell(&bundle, &p);
                preds.push(p)
            }
            Err(e) => {
                let who = i.case_id.clone().unwrap_or_else(|| "input".into());
                if args.manifest.is_none() {
                    return Err(anyhow::anyhow!("{e}"))
                        .with_context(|| format!("predicting {who}"));
                }
                eprintln!("{who}: {e}");
                failed.push(who);
            }
        }
    }
    if let Some(p) = preds.first() {
        write_single_outputs(&args, &bundle, p, &inputs[0])?;
    }
    print_predictions(args.format, &preds, args.manifest.is_some())?;
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints predictions on stdout: CSV, or JSON (an array for a batch, else the one object).
pub(crate) fn print_predictions(format: Format, preds: &[Prediction], batch: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if format == Format::Csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER)?;
        for p in preds {
            w.write_record(
                csv_row(p)
                    .iter()
                    .map(|c| renal_cohort::io::csv_safe(c).into_owned()),
            )?;
        }
        out.write_all(&w.into_inner()?)?;
    } else if batch {
        writeln!(out, "{}", serde_json::to_string_pretty(&preds)?)?;
    } else if let Some(p) = preds.first() {
        writeln!(out, "{}", serde_json::to_string_pretty(p)?)?;
    }
    Ok(())
}
