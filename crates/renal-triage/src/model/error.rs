//! Why a prediction failed, naming the input field (a client error) or the model (a server
//! error).

/// A problem with the input, naming the field: a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

pub fn input_err(field: &str, message: impl std::fmt::Display) -> InputError {
    InputError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Why a prediction failed: the input (client) or the model (server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("model error: {0}")]
    Model(String),
}
