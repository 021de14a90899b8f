use thiserror::Error;

/// Everything that can be wrong with a GGUF file. Every variant says where (byte offset) and,
/// where there is one, which key or tensor.
#[derive(Debug, Error)]
pub enum GgufError {
    #[error("not a GGUF file: magic is {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported GGUF version {version} (supported: 2, 3)")]
    UnsupportedVersion { version: u32 },
    #[error("file truncated: need {needed} bytes at offset {offset} for {what}, but the file is {len} bytes")]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        len: u64,
    },
    #[error("absurd {what} {count} at offset {offset} (only {available} bytes remain)")]
    AbsurdCount {
        what: String,
        count: u64,
        offset: u64,
        available: u64,
    },
    #[error("invalid metadata value type {type_id} for key '{key}' at offset {offset}")]
    BadValueType {
        key: String,
        type_id: u32,
        offset: u64,
    },
    #[error("arrays nested deeper than {max} levels in key '{key}' at offset {offset}")]
    TooDeep {
        key: String,
        max: usize,
        offset: u64,
    },
    #[error("invalid UTF-8 in {what} at offset {offset}")]
    BadUtf8 { what: String, offset: u64 },
    #[error("duplicate metadata key '{key}' at offset {offset}")]
    DuplicateKey { key: String, offset: u64 },
    #[error("duplicate tensor name '{name}' at offset {offset}")]
    DuplicateTensor { name: String, offset: u64 },
    #[error("bad general.alignment {alignment} (must be a power of two, 1..=65536)")]
    BadAlignment { alignment: u64 },
    #[error("metadata key '{key}' has type {found}, expected {expected}")]
    WrongValueType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("unknown tensor type id {type_id} in tensor '{tensor}' (header offset {offset})")]
    UnknownTensorType {
        tensor: String,
        type_id: u32,
        offset: u64,
    },
    #[error("tensor '{tensor}' has bad shape {dims:?}: {why}")]
    BadShape {
        tensor: String,
        dims: Vec<u64>,
        why: String,
    },
    #[error(
        "tensor '{tensor}' is misaligned: data offset {offset} is not a multiple of {alignment}"
    )]
    Misaligned {
        tensor: String,
        offset: u64,
        alignment: u64,
    },
    #[error("tensor '{tensor}' (bytes {start}..{end} of the file) extends beyond the end of the file ({len} bytes)")]
    TensorOutOfBounds {
        tensor: String,
        start: u64,
        end: u64,
        len: u64,
    },
    #[error("tensors '{a}' and '{b}' overlap in the data section (at data offset {offset})")]
    Overlap { a: String, b: String, offset: u64 },
    #[error("tensor '{0}' not found")]
    TensorNotFound(String),
    #[error("I/O error reading {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write GGUF: {0}")]
    Write(String),
}

pub type Result<T, E = GgufError> = std::result::Result<T, E>;
