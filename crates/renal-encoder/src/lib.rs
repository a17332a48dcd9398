//! SimCLR self-supervised encoder of the study's image input (Chen et al. 2020, "A simple
//! framework for contrastive learning of visual representations"): a ResNet-18 with `C` input
//! channels and a 512-d output, a projection head, the NT-Xent loss, and CT-aware augmentations.
//! The only crate on the deep-learning library (libtorch through `tch`). It owns the encoder
//! process (`src/bin/renal-triage-encoder.rs`); what crosses the process boundary is
//! `renal-encoder-protocol`'s, which the application uses without linking libtorch.
//!
//! - [`config`]: the `paper` and `default` configurations (JSON on disk beside the weights);
//! - [`resnet`]: ResNet-18 (He et al. 2016) for any number of input channels;
//! - [`augment`]: random resized crop and scale, rotation, flips, Gaussian blur, intensity jitter
//!   on CT channels, phase dropout; all drawn from a seeded generator;
//! - [`simclr`]: training (Adam written out so that its moments are checkpointed: resume is exact),
//!   checkpoints, loss curve, and embedding.
//!
//! Numerics are defined by the configuration, not the machine: libtorch's intra-op thread count
//! is set from the configuration (`threads`), so the same inputs and seed give the same weights
//! and embeddings on CPU whatever the rest of the program uses.

pub mod augment;
pub mod config;
pub mod resnet;
pub mod simclr;

pub use config::EncoderConfig;
pub use renal_encoder_protocol::{self as protocol, Dataset, TrainReport};
pub use simclr::{bench_step, train, Encoder, StepBench};

/// Everything that can go wrong in the encoder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncoderError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A file (the dataset, a checkpoint, the configuration) could not be read or written, or
    /// the input is not what the encoder takes.
    #[error(transparent)]
    Protocol(#[from] renal_encoder_protocol::ProtocolError),
    #[error("encoder configuration: {0}")]
    Config(String),
    #[error("device `{0}` is not available")]
    Device(String),
}

pub type Result<T, E = EncoderError> = std::result::Result<T, E>;

/// A file whose content is not what it should be.
pub(crate) fn format_error(path: std::path::PathBuf, detail: String) -> EncoderError {
    renal_encoder_protocol::ProtocolError::Format { path, detail }.into()
}

/// An input the encoder does not take.
pub(crate) fn input_error(detail: String) -> EncoderError {
    renal_encoder_protocol::ProtocolError::Input(detail).into()
}

/// libtorch's device for `d`, when it is available here.
pub fn device(d: renal_encoder_protocol::Device) -> Result<tch::Device> {
    match d {
        renal_encoder_protocol::Device::Cpu => Ok(tch::Device::Cpu),
        renal_encoder_protocol::Device::Cuda(n)
            if tch::Cuda::is_available() && (n as i64) < tch::Cuda::device_count() =>
        {
            Ok(tch::Device::Cuda(n))
        }
        other => Err(EncoderError::Device(other.to_string())),
    }
}
