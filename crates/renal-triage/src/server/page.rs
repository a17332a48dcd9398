//! The web page: the form (`GET /`), its answer (`POST /predict`) and the model card.

use std::sync::Arc;

use anyhow::Result;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::model::bundle::Bundle;
use crate::model::predict::{PatientInput, Prediction};

use super::api::run_prediction;
use super::error::ApiError;
use super::state::AppState;
use super::upload::{check_length, read_multipart};

pub(super) fn esc(s: &str) -> String {
    renal_report::escape(s)
}

pub(super) const PAGE_CSS: &str = "body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em}label{display:block;margin:.4em 0}\
input,select{margin-left:.5em}fieldset{margin:1em 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}.err{color:#a00;font-weight:600}\
.card{background:#f6f6f6;padding:1em;margin:1em 0}.field{margin:.4em 0}.field label{margin-right:.5em}label.check{display:inline}\
.bar{position:relative;height:1.4em;background:#e8e8e8;border:1px solid #888;max-width:500px}.fill{position:absolute;left:0;top:0;bottom:0;background:#3b6ea8}\
.thr{position:absolute;top:-.3em;bottom:-.3em;width:3px;background:#c00}.warn{background:#fff3cd;border-left:4px solid #c90;padding:.3em .8em}\
.scale{position:relative;height:1.2em;max-width:500px;font-size:.8em;color:#444}.scale span{position:absolute;transform:translateX(-50%)}\
.call{font-size:1.3em;border-left:6px solid #3b6ea8;padding:.3em .8em;background:#eef3fa}.intro{font-size:.95em}.intro dt{font-weight:600}.intro dd{margin:0 0 .3em 1em}";

/// What the tool is for, and the three classes (one sentence each, from the Bhindi rules):
/// at the top of the form, the answer and the patient report.
pub(super) fn intro() -> String {
    "<section class=\"intro\" id=\"intended-use\"><p><b>Intended use.</b> For adults with a solid renal mass on contrast CT, before treatment: it estimates how likely the mass is benign, malignant and indolent, or malignant and aggressive, from a segmentation of the mass and pre-operative clinical values, to support (never replace) the urologist's and radiologist's judgement. Research use only; not a medical device.</p>\
<dl id=\"classes\"><dt>Benign</dt><dd>Not cancer on histology (for example oncocytoma or angiomyolipoma).</dd>\
<dt>Malignant, indolent</dt><dd>A kidney cancer without aggressive features (for example low-grade clear-cell or papillary renal cell carcinoma, or chromophobe).</dd>\
<dt>Malignant, aggressive</dt><dd>A kidney cancer with high grade (ISUP 3-4 clear-cell or papillary), an aggressive subtype, necrosis or sarcomatoid features, or stage above pT1a with a size above 4 cm (Bhindi et al., Eur Urol 2018).</dd></dl>\
<p>How the triage call is made: the chosen thresholds give benign, or malignant and then indolent or aggressive (aggressive is only asked of a mass called malignant); the call stands only when the prediction set (the classes the model cannot rule out at the stated coverage) is exactly that class, and is indeterminate otherwise, naming the classes it cannot tell apart.</p></section>".into()
}

pub(super) fn model_card(b: &Bundle) -> String {
    let m = &b.manifest;
    let cv: Vec<String> =
        m.cv.iter()
            .map(|c| {
                format!(
                    "<li>{}: AUC {:.3} (95% CI {:.3}-{:.3}), Brier {:.3}</li>",
                    c.task.words(),
                    c.auc,
                    c.auc_ci95[0],
                    c.auc_ci95[1],
                    c.brier
                )
            })
            .collect();
    let ops: Vec<String> = m
        .operating_points
        .iter()
        .map(|o| {
            let what =
                o.cv.as_ref()
                    .map(|c| c.in_words(o.task))
                    .unwrap_or_else(|| "no cross-validated estimate".into());
            format!(
                "<li>{}: threshold {} chosen for {}; {what}</li>",
                o.task.words(),
                o.threshold.map_or("none".into(), |t| format!("{t:.3}")),
                o.rule.describe()
            )
        })
        .collect();
    let ops = if ops.is_empty() {
        String::new()
    } else {
        format!("<p>Operating points (thresholds chosen for the clinical question):</p><ul id=\"operating-points\">{}</ul>", ops.join(""))
    };
    let coverage = m
        .conformal
        .as_ref()
        .map(|c| {
            format!(
                "<p>Prediction sets: class-conditional split-conformal at {:.0}% coverage, calibrated on {}.</p>",
                c.default_coverage * 100.0,
                esc(&c.calibration)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"card\" id=\"model-card\"><h2>Model card</h2><p><b>{}</b>, trained on {} cases ({} benign / {} indolent / {} aggressive) from {}.</p><p>Cross-validated performance:</p><ul>{}</ul>{ops}{coverage}<p>Research use only: not a medical device. Probabilities come from one development cohort; check them against your own population.</p></div>",
        esc(&m.model_name), m.training.cases, m.training.class_counts[0], m.training.class_counts[1], m.training.class_counts[2], esc(&cohort_name(&m.training.source)), cv.join("")
    )
}

/// The training cohort's name without the folder it was read from (no local paths on a page).
fn cohort_name(source: &str) -> String {
    let name = std::path::Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    format!("the cohort `{name}`")
}

/// A probability bar with its threshold marked and a scale under it; the statement is its
/// accessible name.
fn bar(d: &crate::model::predict::Decision) -> String {
    let pct = (d.probability * 100.0).clamp(0.0, 100.0);
    let thr = d
        .threshold
        .map(|t| {
            format!(
                "<span class=\"thr\" style=\"left:{:.1}%\" title=\"threshold {t:.2}\"></span>",
                (t * 100.0).clamp(0.0, 100.0)
            )
        })
        .unwrap_or_default();
    let scale: String = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|v| format!("<span style=\"left:{:.0}%\">{v}</span>", v * 100.0))
        .collect();
    format!(
        "<li><b>{}</b><div class=\"bar\" role=\"img\" aria-label=\"{1}\"><span class=\"fill\" style=\"width:{pct:.1}%\"></span>{thr}</div><div class=\"scale\" aria-hidden=\"true\">{scale}</div><p>{1}</p></li>",
        esc(&capitalise(&d.question)),
        esc(&d.statement)
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The decisions: the chosen operating points (those the call uses), then the study's.
fn bars(p: &Prediction) -> String {
    let ops: String = p.operating_decisions.iter().map(bar).collect();
    let study: String = p.decisions.iter().map(bar).collect();
    let ops = if ops.is_empty() {
        String::new()
    } else {
        format!("<h3>Decisions at the chosen operating points</h3><ul id=\"bars\" style=\"list-style:none;padding:0\">{ops}</ul>")
    };
    format!("{ops}<h3>The study's decisions (each question at its own Youden threshold; for comparison with the publication)</h3><ul id=\"study-bars\" style=\"list-style:none;padding:0\">{study}</ul>")
}

/// The inputs that were imputed or outside the training range, highlighted, in words.
fn warnings(p: &Prediction) -> String {
    let mut out = String::new();
    if !p.imputed.is_empty() {
        let names = crate::model::predict::input_words(&p.imputed);
        out.push_str(&format!(
            "<p class=\"warn\" id=\"imputed\">{} of the model's inputs were not given and were replaced by the training median: {}.</p>",
            p.imputed_count,
            esc(&names.join(", "))
        ));
    }
    if !p.out_of_range.is_empty() {
        let names: Vec<String> = p
            .out_of_range
            .iter()
            .map(|o| {
                let name = crate::model::predict::input_words(std::slice::from_ref(&o.feature))
                    .pop()
                    .unwrap_or_default();
                format!(
                    "{} = {} (training {}-{})",
                    esc(&name),
                    o.value,
                    o.train_min.unwrap_or(f64::NAN),
                    o.train_max.unwrap_or(f64::NAN)
                )
            })
            .collect();
        out.push_str(&format!("<p class=\"warn\" id=\"out-of-range\">Outside the training range (extrapolation, interpret with care): {}.</p>", names.join(", ")));
    }
    out
}

/// The triage call and the prediction set: the headline of the answer.
fn call(p: &Prediction) -> String {
    let set = p
        .prediction_set
        .as_ref()
        .map(|s| {
            format!(
                "<p id=\"prediction-set\">Prediction set at {:.0}% coverage (the classes the model cannot rule out): <b>{}</b>.</p>",
                s.coverage * 100.0,
                esc(&s.words)
            )
        })
        .unwrap_or_default();
    format!(
        "<section id=\"triage\"><p class=\"call\" id=\"triage-call\">Triage call: <b>{}</b></p><p id=\"triage-reason\">Why: {}.</p>{set}</section>",
        esc(&p.triage.headline),
        esc(&p.triage.reason)
    )
}

/// The form, holding what was typed (after an error, shown above it).
fn form_page(state: &AppState, typed: Option<&PatientInput>, error: Option<&ApiError>) -> String {
    let m = &state.bundle.manifest;
    let empty = std::collections::BTreeMap::new();
    let values = typed.map_or(&empty, |t| &t.clinical);
    let fields = super::form::patient_fields(&state.bundle, values);
    let needs_mask = m.features.iter().any(|f| f.kind.needs_mask()) || m.image.is_some();
    let ct_fields: String = match &m.image {
        Some(i) if i.spec.kind == crate::engine::images::ChannelKind::CtPhases => i
            .spec
            .channels
            .iter()
            .map(|c| {
                format!(
                    "<div class=\"field\"><label for=\"ct_{0}\">CT phase: {0} (NIfTI, NRRD or MetaImage .mha on the mask's grid; if missing: {1})</label><input type=\"file\" name=\"ct_{0}\" id=\"ct_{0}\"></div>",
                    esc(c),
                    esc(i.missing_phase.words())
                )
            })
            .collect(),
        _ => String::new(),
    };
    let error = error
        .map(|e| {
            format!(
                "<p class=\"err\" id=\"error\">{}: {}{} The values you typed are kept below{}.</p>",
                esc(&super::form::label(&e.field)),
                esc(&e.message),
                if e.message.ends_with('.') { "" } else { "." },
                if needs_mask {
                    "; choose the mask file again (a browser never keeps a chosen file)"
                } else {
                    ""
                }
            )
        })
        .unwrap_or_default();
    let case_id = typed.and_then(|t| t.case_id.as_deref()).unwrap_or("");
    let label_map = typed
        .and_then(|t| t.label_map.as_ref())
        .map(|m| m.to_string())
        .unwrap_or_default();
    let archive = if state.pacs.is_some() {
        archive_fields(needs_mask)
    } else {
        String::new()
    };
    format!(
        "{error}<form action=\"/predict\" method=\"post\" enctype=\"multipart/form-data\" id=\"predict-form\"><fieldset><legend>Patient</legend><div class=\"field\"><label for=\"case_id\">Case id (no name or record number)</label><input type=\"text\" name=\"case_id\" id=\"case_id\" value=\"{}\"></div></fieldset>{fields}{archive}\
<fieldset><legend>Images</legend><div class=\"field\"><label for=\"mask\">Segmentation or tumor mask (NIfTI, NRRD, Slicer .seg.nrrd or MetaImage .mha){}</label><input type=\"file\" name=\"mask\" id=\"mask\"{}></div><div class=\"field\"><label for=\"label_map\">Label map, when the mask is not KiTS-style (kidney 1, tumor 2, cyst 3): e.g. <code>tumor=1</code> for a binary tumor mask</label><input type=\"text\" name=\"label_map\" id=\"label_map\" value=\"{}\"></div>{}</fieldset><p>Leave a value as unknown when it is not known: it is then replaced by the training median, and the answer lists it.</p><button type=\"submit\" id=\"submit\">Predict</button></form>",
        esc(case_id),
        if needs_mask { " (required)" } else { "" },
        if needs_mask { " required" } else { "" },
        esc(&label_map),
        ct_fields,
    )
}

/// The form's archive part (`serve --pacs`): a patient's studies found by Patient ID, one
/// chosen instead of uploaded files.
fn archive_fields(needs_mask: bool) -> String {
    format!(
        "<fieldset id=\"archive\"><legend>From the imaging archive</legend><div class=\"field\"><label for=\"pacs_patient\">Patient ID in the archive</label><input type=\"text\" id=\"pacs_patient\"> <button type=\"button\" id=\"pacs_find\">Find studies</button></div>\
<div class=\"field\"><label for=\"study_uid\">Study (its CT and segmentation are used instead of uploaded files)</label><select name=\"study_uid\" id=\"study_uid\"><option value=\"\">none: upload the files below</option></select></div><p id=\"pacs_status\" role=\"status\"></p></fieldset>\
<script>(()=>{{const $=i=>document.getElementById(i);$('pacs_find').onclick=async()=>{{const st=$('pacs_status'),sel=$('study_uid');st.textContent='Searching the archive';\
const r=await fetch('/api/v1/pacs/studies?patient_id='+encodeURIComponent($('pacs_patient').value));const j=await r.json();sel.length=1;\
if(!r.ok){{st.textContent=j.error;return}}for(const x of j){{const o=document.createElement('option');o.value=x.study_uid;o.textContent=[x.date,x.description,x.modalities,x.study_uid].filter(Boolean).join(' | ');sel.appendChild(o)}}\
st.textContent=j.length+(j.length==1?' study':' studies')+' found';}};$('study_uid').onchange=e=>{{$('mask').required={needs_mask}&&!e.target.value}};}})();</script>"
    )
}

fn page(title: &str, body: &str, state: &AppState) -> String {
    format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{PAGE_CSS}</style></head><body><h1>Renal mass triage</h1>{}{body}{}</body></html>", intro(), model_card(&state.bundle))
}

pub(super) async fn index(State(state): State<Arc<AppState>>) -> Html<String> {
    Html(page("renal-triage", &form_page(&state, None, None), &state))
}

/// The answer for one patient: the probabilities, the decisions at the CV thresholds with
/// their bars, the inputs imputed or out of range, and the slice an image model saw.
fn answer(p: &Prediction) -> String {
    let rows: Vec<String> = [
        ("benign", p.p_benign),
        ("malignant-indolent", p.p_indolent),
        ("malignant-aggressive", p.p_aggressive),
        ("malignant (any)", p.p_malignant),
    ]
    .iter()
    .map(|(k, v)| {
        format!(
            "<tr><td>{k}</td><td id=\"p-{}\">{v:.3}</td></tr>",
            k.replace([' ', '(', ')'], "")
        )
    })
    .collect();
    let slice = match (&p.slice, &p.image) {
        (Some(img), Some(i)) => {
            let (w, h, px) = renal_imaging::png::channels_strip(img);
            let png = renal_imaging::png::encode_gray(w, h, &px);
            let alt = format!(
                "The image the model saw: the axial slice {} through the tumor centroid, channels {} side by side{}",
                i.slice,
                i.channels.join(", "),
                if i.missing.is_empty() { String::new() } else { format!(" ({} missing: zero)", i.missing.join(", ")) }
            );
            format!(
                "<figure id=\"slice\"><img src=\"data:image/png;base64,{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                renal_report::base64(&png),
                esc(&alt),
                esc(&i.input)
            )
        }
        _ => String::new(),
    };
    format!(
        "<h2>Result{}</h2>{}{}<p id=\"summary\">{}</p><table id=\"result\"><tr><th>class</th><th>probability</th></tr>{}</table><p>Tumor size measured: {}</p>{}{}",
        p.case_id.as_deref().map(|c| format!(" for {}", esc(c))).unwrap_or_default(),
        call(p),
        warnings(p),
        esc(&p.summary),
        rows.join(""),
        p.tumor_size_mm.map(|s| format!("{s:.1} mm")).unwrap_or_else(|| "-".into()),
        bars(p),
        slice
    )
}

/// The answer, or after an error the form again with what was typed and the error above it.
pub(super) fn result_page(
    state: &AppState,
    r: Result<Prediction, ApiError>,
    typed: Option<&PatientInput>,
) -> Response {
    let body = match &r {
        Ok(p) => format!("{}<p><a href=\"/\">New prediction</a></p>", answer(p)),
        Err(e) => form_page(state, typed, Some(e)),
    };
    let status = r
        .as_ref()
        .map(|_| StatusCode::OK)
        .unwrap_or_else(|e| e.status);
    (status, Html(page("renal-triage result", &body, state))).into_response()
}

/// A one-page patient report (`predict --report`): the answer as on the web page, the model
/// and its card (intended use and limits), laid out to print on one A4 page.
pub fn patient_report(bundle: &Bundle, p: &Prediction) -> String {
    let m = &bundle.manifest;
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage patient report{}</title><style>{PAGE_CSS}{REPORT_CSS}</style></head><body><h1>Renal mass triage: patient report</h1><p class=\"meta\">Model <b>{}</b>, renal-triage {} (bundle format {}). Not a medical device: for research use, next to the radiologist's reading.</p>{}{}{}</body></html>",
        p.case_id.as_deref().map(|c| format!(": {}", esc(c))).unwrap_or_default(),
        esc(&m.model_name),
        esc(&m.tool_version),
        m.format_version,
        intro(),
        answer(p),
        model_card(bundle)
    )
}

/// Print layout of the patient report: A4, small margins, the slice and the card kept whole.
const REPORT_CSS: &str =
    "@page{size:A4;margin:12mm}body{max-width:180mm;margin:1em auto;font-size:10.5pt}\
h1{font-size:16pt;margin:.2em 0}h2{font-size:13pt}h3{font-size:11pt}.meta{color:#444}\
figure{margin:.5em 0;break-inside:avoid}figure img{max-width:100%;max-height:60mm}\
.card{break-inside:avoid;padding:.3em 1em}@media print{body{margin:0;font-size:8.5pt}p,ul{margin:.2em 0}\
h1{font-size:13pt}h2,h3{margin:.3em 0 .1em;font-size:9.5pt}figure img{max-height:40mm}.card{font-size:7.5pt;padding:.1em .6em}.card h2{margin-top:0}\
.intro{font-size:7.5pt}.intro dl{margin:.1em 0}.intro dt{display:inline}.intro dd{display:inline;margin:0 .6em 0 .3em}\
.call{font-size:11pt;padding:.1em .5em}li p{margin:0 0 .1em}.bar{height:.8em}.scale{height:.9em;font-size:6.5pt}td,th{padding:0 .4em}\
#study-bars .bar,#study-bars .scale{display:none}#study-bars li b{display:none}#model-card ul{columns:2;margin:0}figure img{max-height:34mm}\
#result{float:right;margin-left:1em}}";

pub(super) async fn form_predict(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let who = super::api::Who::of(&req);
    let r = async {
        check_length(&state, &req)?;
        let mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad("form", e.body_text()))?;
        let (input, uploads) =
            super::api::within_body_timeout(&state, read_multipart(&state.uploads, mp)).await?;
        // What was typed, to give it back with an error (never the uploaded files).
        let typed = PatientInput {
            case_id: input.case_id.clone(),
            clinical: input.clinical.clone(),
            label_map: input.label_map.clone(),
            ..PatientInput::default()
        };
        let r = run_prediction(state.clone(), input).await;
        drop(uploads);
        Ok::<_, ApiError>((r, typed))
    }
    .await;
    let (r, typed) = match r {
        Ok((r, typed)) => (r, Some(typed)),
        Err(e) => (Err(e), None),
    };
    who.audit(&state, &r);
    tracing::info!(
        status = r
            .as_ref()
            .map(|_| 200)
            .unwrap_or_else(|e| e.status.as_u16()),
        "form predict"
    );
    result_page(&state, r, typed.as_ref())
}
