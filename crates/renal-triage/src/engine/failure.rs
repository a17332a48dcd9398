//! Why one case could not be measured, imaged or embedded: the case is excluded with this as
//! its reason (the exclusion lists hold its message), and the other cases go on.
//!
//! A shard stores a failure as its message; read back from the shard's file it is
//! [`CaseFailure::Recorded`], with the same message, so one process and a merge of shards
//! list the same reasons.

use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CaseFailure {
    #[error("no mask")]
    NoMask,
    /// The mask or an annotator's mask could not be read or measured.
    #[error(transparent)]
    Imaging(Arc<renal_imaging::ImagingError>),
    /// The image input could not be made (a CT phase at fault, or the mask).
    #[error(transparent)]
    Input(#[from] InputFault),
    #[error("empty mask")]
    EmptyMask,
    /// The case's stored image input (a shard's pixel file) is not what its result recorded.
    #[error("{0}")]
    StoredImage(String),
    /// The encoder could not embed the case.
    #[error("{0}")]
    Encoder(String),
    /// Measurements no measurement of their grid can give (a shard's result altered).
    #[error("{0}")]
    Implausible(String),
    /// A bug, contained ([`crate::engine::contain`]): the log holds the panic under the id.
    #[error(transparent)]
    Internal(#[from] crate::engine::contain::Internal),
    /// A failure recorded in a shard's result file, as it was written.
    #[error("{0}")]
    Recorded(String),
}

impl From<renal_imaging::ImagingError> for CaseFailure {
    fn from(e: renal_imaging::ImagingError) -> CaseFailure {
        CaseFailure::Imaging(Arc::new(e))
    }
}

impl PartialEq for CaseFailure {
    /// Two failures are the same when they say the same (a failure read back from a shard
    /// equals the one the shard recorded).
    fn eq(&self, other: &CaseFailure) -> bool {
        self.to_string() == other.to_string()
    }
}

impl serde::Serialize for CaseFailure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CaseFailure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CaseFailure, D::Error> {
        String::deserialize(d).map(CaseFailure::Recorded)
    }
}

/// Why one case's image input could not be made, and the CT phase at fault when one is (the
/// mask otherwise).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InputFault {
    pub phase: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard writes a failure as its message and reads it back as `Recorded`: the same JSON
    /// as the text it replaced (`{"Err": "..."}`), the same message, equal to the original.
    #[test]
    fn a_failure_is_stored_as_its_message_and_read_back_equal() {
        let e = renal_imaging::read_labels(std::path::Path::new("/no/such/mask.nii.gz"))
            .map(|_| ())
            .unwrap_err();
        let original: Result<(), CaseFailure> = Err(CaseFailure::from(e));
        let json = serde_json::to_string(&original).unwrap();
        let message = original.as_ref().unwrap_err().to_string();
        assert!(message.contains("/no/such/mask.nii.gz"), "{message}");
        assert_eq!(
            json,
            serde_json::to_string(&Err::<(), _>(&message)).unwrap()
        );
        let back: Result<(), CaseFailure> = serde_json::from_str(&json).unwrap();
        assert!(matches!(back, Err(CaseFailure::Recorded(ref m)) if *m == message));
        assert_eq!(back, original);
        let internal = CaseFailure::from(crate::engine::contain::Internal {
            report_id: "abc123".into(),
        });
        assert!(internal.to_string().contains("report id abc123"));
        assert_ne!(internal, CaseFailure::NoMask);
    }
}
