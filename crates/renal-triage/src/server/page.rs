//! The web page: the form (`GET /`), its answer (`POST /predict`) and the model card.

use std::sync::Arc;

use anyhow::Result;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::model::bundle::Bundle;
use crate::model::predict::Prediction;

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
.thr{position:absolute;top:-.3em;bottom:-.3em;width:3px;background:#c00}.warn{background:#fff3cd;border-left:4px solid #c90;padding:.3em .8em}";

pub(super) fn model_card(b: &Bundle) -> String {
    let m = &b.manifest;
    let cv: Vec<String> =
        m.cv.iter()
            .map(|c| {
                format!(
                    "<li>{}: AUC {:.3} (95% CI {:.3}-{:.3}), Brier {:.3}</li>",
                    c.task.name(),
                    c.auc,
                    c.auc_ci95[0],
                    c.auc_ci95[1],
                    c.brier
                )
            })
            .collect();
    format!(
        "<div class=\"card\" id=\"model-card\"><h2>Model card</h2><p><b>{}</b>, trained on {} cases ({} benign / {} indolent / {} aggressive) from {}.</p><p>Cross-validated performance:</p><ul>{}</ul><p>Research use only: not a medical device. Probabilities come from one development cohort; check them against your own population.</p></div>",
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

/// The answer per task: a probability bar with the CV threshold marked, and the decision in
/// words (also the bar's accessible name).
fn bars(p: &Prediction) -> String {
    let items: String = p
        .decisions
        .iter()
        .map(|d| {
            let pct = (d.probability * 100.0).clamp(0.0, 100.0);
            let thr = d
                .threshold
                .map(|t| format!("<span class=\"thr\" style=\"left:{:.1}%\" title=\"threshold {t:.2}\"></span>", (t * 100.0).clamp(0.0, 100.0)))
                .unwrap_or_default();
            format!(
                "<li><div class=\"bar\" role=\"img\" aria-label=\"{0}\"><span class=\"fill\" style=\"width:{pct:.1}%\"></span>{thr}</div><p>{0}</p></li>",
                esc(&d.statement)
            )
        })
        .collect();
    format!("<ul id=\"bars\" style=\"list-style:none;padding:0\">{items}</ul>")
}

/// The inputs that were imputed or outside the training range, highlighted, in words.
fn warnings(p: &Prediction) -> String {
    let mut out = String::new();
    if !p.imputed.is_empty() {
        let names: Vec<String> = p
            .imputed
            .iter()
            .map(|n| esc(&super::form::label(n)))
            .collect();
        out.push_str(&format!(
            "<p class=\"warn\" id=\"imputed\">Not given, replaced by the training median: {}.</p>",
            names.join(", ")
        ));
    }
    if !p.out_of_range.is_empty() {
        let names: Vec<String> = p
            .out_of_range
            .iter()
            .map(|o| {
                format!(
                    "{} = {} (training {}-{})",
                    esc(&super::form::label(&o.feature)),
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

pub(super) async fn index(State(state): State<Arc<AppState>>) -> Html<String> {
    let m = &state.bundle.manifest;
    let fields = super::form::patient_fields(&state.bundle);
    let needs_mask = m.features.iter().any(|f| f.kind.needs_mask()) || m.image.is_some();
    let ct_fields: String = match &m.image {
        Some(i) if i.spec.intensity => i
            .spec
            .channels
            .iter()
            .map(|c| {
                format!(
                    "<div class=\"field\"><label for=\"ct_{0}\">CT phase: {0} (NIfTI, NRRD or MetaImage .mha on the mask's grid; if missing: {1})</label><input type=\"file\" name=\"ct_{0}\" id=\"ct_{0}\"></div>",
                    esc(c),
                    esc(&i.missing_phase)
                )
            })
            .collect(),
        _ => String::new(),
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage</title><style>{PAGE_CSS}</style></head><body><h1>Renal mass triage</h1>\
<form action=\"/predict\" method=\"post\" enctype=\"multipart/form-data\" id=\"predict-form\"><fieldset><legend>Patient</legend><div class=\"field\"><label for=\"case_id\">Case id (no name or record number)</label><input type=\"text\" name=\"case_id\" id=\"case_id\"></div></fieldset>{fields}\
<fieldset><legend>Images</legend><div class=\"field\"><label for=\"mask\">Segmentation or tumor mask (NIfTI, NRRD, Slicer .seg.nrrd or MetaImage .mha){}</label><input type=\"file\" name=\"mask\" id=\"mask\"></div><div class=\"field\"><label for=\"label_map\">Label map, when the mask is not KiTS-style (kidney 1, tumor 2, cyst 3): e.g. <code>tumor=1</code> for a binary tumor mask</label><input type=\"text\" name=\"label_map\" id=\"label_map\"></div>{}</fieldset><p>Leave a value empty when it is unknown: it is then replaced by the training median and the answer says so. An unchecked box means no.</p><button type=\"submit\" id=\"submit\">Predict</button></form>{}</body></html>",
        if needs_mask { " (required)" } else { "" },
        ct_fields,
        model_card(&state.bundle)
    ))
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
        "<h2>Result{}</h2><table id=\"result\"><tr><th>class</th><th>probability</th></tr>{}</table><p>Tumor size measured: {}</p><h3>Decisions at the cross-validated thresholds</h3>{}{}<p id=\"summary\">{}</p>{}",
        p.case_id.as_deref().map(|c| format!(" for {}", esc(c))).unwrap_or_default(),
        rows.join(""),
        p.tumor_size_mm.map(|s| format!("{s:.1} mm")).unwrap_or_else(|| "-".into()),
        bars(p),
        warnings(p),
        esc(&p.summary),
        slice
    )
}

pub(super) fn result_page(state: &AppState, r: Result<Prediction, ApiError>) -> Response {
    let body = match &r {
        Ok(p) => answer(p),
        Err(e) => format!(
            "<p class=\"err\" id=\"error\">{}: {}</p>",
            esc(&e.field),
            esc(&e.message)
        ),
    };
    let status = r
        .as_ref()
        .map(|_| StatusCode::OK)
        .unwrap_or_else(|e| e.status);
    let html = format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage result</title><style>{PAGE_CSS}</style></head><body><h1>Renal mass triage</h1>{body}<p><a href=\"/\">New prediction</a></p>{}</body></html>", model_card(&state.bundle));
    (status, Html(html)).into_response()
}

/// A one-page patient report (`predict --report`): the answer as on the web page, the model
/// and its card (intended use and limits), laid out to print on one A4 page.
pub fn patient_report(bundle: &Bundle, p: &Prediction) -> String {
    let m = &bundle.manifest;
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage patient report{}</title><style>{PAGE_CSS}{REPORT_CSS}</style></head><body><h1>Renal mass triage: patient report</h1><p class=\"meta\">Model <b>{}</b>, renal-triage {} (bundle format {}). Not a medical device: for research use, next to the radiologist's reading.</p>{}{}</body></html>",
        p.case_id.as_deref().map(|c| format!(": {}", esc(c))).unwrap_or_default(),
        esc(&m.model_name),
        esc(&m.tool_version),
        m.format_version,
        answer(p),
        model_card(bundle)
    )
}

/// Print layout of the patient report: A4, small margins, the slice and the card kept whole.
const REPORT_CSS: &str =
    "@page{size:A4;margin:12mm}body{max-width:180mm;margin:1em auto;font-size:10.5pt}\
h1{font-size:16pt;margin:.2em 0}h2{font-size:13pt}h3{font-size:11pt}.meta{color:#444}\
figure{margin:.5em 0;break-inside:avoid}figure img{max-width:100%;max-height:60mm}\
.card{break-inside:avoid;padding:.3em 1em}@media print{body{margin:0;font-size:9.5pt}p,ul{margin:.25em 0}\
h2,h3{margin:.4em 0 .2em}figure img{max-height:48mm}.card h2{margin-top:0}}";

pub(super) async fn form_predict(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let who = super::api::Who::of(&req);
    let r = async {
        check_length(&state, &req)?;
        let mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad("form", e.body_text()))?;
        let (input, uploads) =
            super::api::within_body_timeout(&state, read_multipart(&state.uploads, mp)).await?;
        let r = run_prediction(state.clone(), input).await;
        drop(uploads);
        r
    }
    .await;
    who.audit(&state, &r);
    tracing::info!(
        status = r
            .as_ref()
            .map(|_| 200)
            .unwrap_or_else(|e| e.status.as_u16()),
        "form predict"
    );
    result_page(&state, r)
}
