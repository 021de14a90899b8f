use chord_gguf::{GgmlType, GgufError};
use thiserror::Error;

/// Errors from loading a model or running its forward pass.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("unsupported architecture '{found}' (supported: {supported})")]
    UnsupportedArch { found: String, supported: String },
    #[error("model file has no general.architecture key")]
    NoArch,
    #[error("missing metadata key '{0}'")]
    MissingKey(String),
    #[error("bad metadata value for '{key}': {why}")]
    BadValue { key: String, why: String },
    #[error("missing tensor '{0}'")]
    MissingTensor(String),
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?}")]
    BadTensorShape {
        name: String,
        found: Vec<u64>,
        expected: Vec<u64>,
    },
    #[error("unsupported tensor type {ty} in tensor {name}")]
    UnsupportedTensorType { name: String, ty: GgmlType },
    #[error("context full: {needed} positions needed but the context holds {n_ctx}")]
    ContextFull { needed: usize, n_ctx: usize },
    #[error("token id {id} is out of range (vocabulary size {n_vocab})")]
    BadToken { id: u32, n_vocab: usize },
    #[error("empty batch")]
    EmptyBatch,
    #[error("{unit} takes {bytes} bytes, more than the stream budget of {budget} bytes")]
    StreamBudget {
        unit: String,
        bytes: u64,
        budget: u64,
    },
    #[error("reading {what}: {source}")]
    StreamRead {
        what: String,
        source: std::io::Error,
    },
    #[error("tensor '{0}' is not resident: the model is streamed")]
    NotResident(String),
    #[error("backend error: {0}")]
    Backend(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
