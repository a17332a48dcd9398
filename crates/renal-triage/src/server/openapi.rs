//! `GET /openapi.json`: the OpenAPI 3 description of the JSON API.

use axum::Json;
use serde_json::json;

/// The OpenAPI 3 description of the JSON API, with the served bundle's clinical inputs (their
/// words, units and ranges) as the `Clinical` schema.
pub fn openapi(bundle: Option<&crate::model::bundle::Bundle>) -> serde_json::Value {
    let clinical = bundle.map_or_else(
        || json!({"type": "object"}),
        |b| crate::model::fields::json_schema(&crate::model::fields::field_table(b)),
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "renal-triage", "version": env!("CARGO_PKG_VERSION"), "description": "Benign / indolent / aggressive renal mass probabilities for one patient."},
        "paths": {
            "/api/v1/predict": {"post": {
                "summary": "Predict for one patient",
                "requestBody": {"required": true, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "case_id": {"type": "string"},
                        "clinical": {"type": "string", "description": "JSON object of pre-operative values by feature name (see the Clinical schema); or send each value as its own field"},
                        "mask": {"type": "string", "format": "binary", "description": "segmentation (NIfTI, NRRD, MetaImage, DICOM SEG/RTSTRUCT); label 2 is the tumor unless label_map says otherwise"},
                        "label_map": {"type": "string", "description": "which labels are the kidney, tumor and cyst, e.g. `tumor=1` for a binary tumor mask"},
                        "study_uid": {"type": "string", "description": "a study in the server's imaging archive (serve --pacs) whose CT and segmentation are the images, instead of uploaded files"}
                    }}},
                    "application/json": {"schema": {"type": "object", "properties": {"case_id": {"type": "string"}, "clinical": {"$ref": "#/components/schemas/Clinical"}, "study_uid": {"type": "string", "description": "a study in the server's imaging archive (serve --pacs)"}}}}
                }},
                "responses": {
                    "200": {"description": "Probabilities, decisions at the CV thresholds, warnings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Prediction"}}}},
                    "400": {"description": "Invalid input; `field` names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "413": {"description": "Upload too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "415": {"description": "Unsupported content type"},
                    "503": {"description": "Too many predictions in progress"}
                }
            }},
            "/api/v1/pacs/studies": {"get": {
                "summary": "One patient's studies in the server's imaging archive (serve --pacs)",
                "parameters": [{"name": "patient_id", "in": "query", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The studies: study_uid, date, description, modalities"},
                    "400": {"description": "No or an invalid patient_id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "404": {"description": "The server has no archive"},
                    "502": {"description": "The archive did not answer or refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/model": {"get": {"summary": "The model card and bundle manifest", "responses": {"200": {"description": "Manifest"}}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}}
        },
        "components": {"schemas": {
            "Clinical": clinical,
            "Error": {"type": "object", "required": ["error", "field", "status"], "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "status": {"type": "integer"}}},
            "Prediction": {"type": "object", "properties": {
                "p_benign": {"type": "number"}, "p_indolent": {"type": "number"}, "p_aggressive": {"type": "number"},
                "p_malignant": {"type": "number"}, "p_aggressive_vs_rest": {"type": "number"}, "tumor_size_mm": {"type": "number", "nullable": true},
                "triage": {"type": "object", "description": "the triage call: `call` (benign, malignant_indolent, malignant_aggressive, indeterminate), `headline` in words, the classes it leaves open, and why"},
                "prediction_set": {"type": "object", "description": "the classes the model cannot rule out at the stated coverage (split-conformal)"},
                "imputed_count": {"type": "integer"},
                "operating_decisions": {"type": "array", "items": {"type": "object"}, "description": "decisions at the operating points chosen for the clinical question"},
                "decisions": {"type": "array", "items": {"type": "object"}, "description": "the study's decisions, each task at its Youden threshold"}, "imputed": {"type": "array", "items": {"type": "string"}},
                "out_of_range": {"type": "array", "items": {"type": "object"}}, "cv": {"type": "array", "items": {"type": "object"}}, "summary": {"type": "string"}
            }}
        }}
    })
}

pub(super) async fn openapi_doc(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<super::state::AppState>>,
) -> Json<serde_json::Value> {
    Json(openapi(Some(&state.bundle)))
}
