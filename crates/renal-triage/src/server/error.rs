//! The API's errors: a status, the field concerned and a message, as JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::model::predict::PredictError;

/// A client or server error with the field it concerns.
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) field: String,
    pub(super) message: String,
}

impl ApiError {
    pub(super) fn bad(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            field: field.into(),
            message: message.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(
                json!({"error": self.message, "field": self.field, "status": self.status.as_u16()}),
            ),
        )
            .into_response()
    }
}

impl From<PredictError> for ApiError {
    fn from(e: PredictError) -> Self {
        match e {
            PredictError::Input(i) => ApiError::bad(&i.field, i.message),
            PredictError::Model(m) => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                field: "model".into(),
                message: m,
            },
        }
    }
}
