//! The web page: the form (`GET /`), its answer (`POST /predict`) and the model card.

use std::sync::Arc;

use anyhow::Result;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::model::bundle::{Bundle, FeatureKind};
use crate::model::predict::Prediction;

use super::api::run_prediction;
use super::error::ApiError;
use super::state::AppState;
use super::upload::{attach_ct, check_ct, check_length, read_multipart};

pub(super) fn esc(s: &str) -> String {
    renal_report::escape(s)
}

pub(super) const PAGE_CSS: &str = "body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em}label{display:block;margin:.4em 0}\
input,select{margin-left:.5em}fieldset{margin:1em 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}.err{color:#a00;font-weight:600}\
.card{background:#f6f6f6;padding:1em;margin:1em 0}";

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
        esc(&m.model_name), m.training.cases, m.training.class_counts[0], m.training.class_counts[1], m.training.class_counts[2], esc(&m.training.source), cv.join("")
    )
}

pub(super) async fn index(State(state): State<Arc<AppState>>) -> Html<String> {
    let m = &state.bundle.manifest;
    let mut fields = String::new();
    for f in m.features.iter().filter(|f| {
        matches!(
            f.kind,
            FeatureKind::Clinical | FeatureKind::RadiographicSize
        )
    }) {
        // The radiographic size is entered as the record holds it, in cm.
        if f.kind == FeatureKind::RadiographicSize {
            fields.push_str(&format!(
                "<label>{0} (cm, as the radiologist reported it)<input type=\"text\" name=\"{0}\" id=\"{0}\"></label>",
                renal_cohort::RADIOGRAPHIC_SIZE_CM
            ));
            continue;
        }
        if f.name == "sex_male" {
            fields.push_str("<label>sex<select name=\"sex\" id=\"sex\"><option value=\"\">unknown</option><option value=\"male\">male</option><option value=\"female\">female</option></select></label>");
            continue;
        }
        let range = match (f.train_min, f.train_max) {
            (Some(a), Some(b)) => format!(" (training range {a}-{b})"),
            _ => String::new(),
        };
        fields.push_str(&format!(
            "<label>{0}{1}<input type=\"text\" name=\"{0}\" id=\"{0}\"></label>",
            esc(&f.name),
            esc(&range)
        ));
    }
    let needs_mask = m.features.iter().any(|f| f.kind.needs_mask()) || m.image.is_some();
    let ct_fields: String = match &m.image {
        Some(i) if i.spec.intensity => i
            .spec
            .channels
            .iter()
            .map(|c| {
                format!(
                    "<label>CT phase: {0} (NIfTI on the mask's grid; a missing phase is a zero channel, as in training)<input type=\"file\" name=\"ct_{0}\" id=\"ct_{0}\"></label>",
                    esc(c)
                )
            })
            .collect(),
        _ => String::new(),
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>renal-triage</title><style>{PAGE_CSS}</style></head><body><h1>Renal mass triage</h1>\
<form action=\"/predict\" method=\"post\" enctype=\"multipart/form-data\" id=\"predict-form\"><fieldset><legend>Patient</legend><label>case id<input type=\"text\" name=\"case_id\" id=\"case_id\"></label>{fields}</fieldset>\
<fieldset><legend>Images</legend><label>tumor mask or segmentation (NIfTI){}<input type=\"file\" name=\"mask\" id=\"mask\"></label>{}</fieldset><button type=\"submit\" id=\"submit\">Predict</button></form>{}</body></html>",
        if needs_mask { " (required)" } else { "" },
        ct_fields,
        model_card(&state.bundle)
    ))
}

pub(super) fn result_page(state: &AppState, r: Result<Prediction, ApiError>) -> Response {
    let body = match &r {
        Ok(p) => {
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
            let dec: Vec<String> = p
                .decisions
                .iter()
                .map(|d| format!("<li>{}</li>", esc(&d.statement)))
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
                "<h2>Result{}</h2><table id=\"result\"><tr><th>class</th><th>probability</th></tr>{}</table><p>Tumor size measured: {}</p><ul id=\"decisions\">{}</ul><p id=\"summary\">{}</p>{}",
                p.case_id.as_deref().map(|c| format!(" for {}", esc(c))).unwrap_or_default(),
                rows.join(""),
                p.tumor_size_mm.map(|s| format!("{s:.1} mm")).unwrap_or_else(|| "-".into()),
                dec.join(""),
                esc(&p.summary),
                slice
            )
        }
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

pub(super) async fn form_predict(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let r = async {
        check_length(&state, &req)?;
        let mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad("form", e.body_text()))?;
        let (mut input, uploads, ct) = read_multipart(&state, mp).await?;
        check_ct(input.mask.as_deref(), &ct)?;
        attach_ct(&mut input, ct);
        let r = run_prediction(state.clone(), input).await;
        drop(uploads);
        r
    }
    .await;
    tracing::info!(
        status = r
            .as_ref()
            .map(|_| 200)
            .unwrap_or_else(|e| e.status.as_u16()),
        "form predict"
    );
    result_page(&state, r)
}
