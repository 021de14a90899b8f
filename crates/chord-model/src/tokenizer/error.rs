//! Tokenizer errors.

use thiserror::Error;

/// Everything that can go wrong building or using a [`super::Tokenizer`].
#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("tokenizer metadata: {0}")]
    Metadata(#[from] chord_gguf::GgufError),
    #[error("tokenizer metadata has no '{0}'")]
    MissingKey(&'static str),
    #[error(
        "unsupported tokenizer model '{0}': supported are 'llama' (SentencePiece with byte \
         fallback) and 'gpt2' (byte-level BPE)"
    )]
    UnsupportedModel(String),
    #[error("unsupported BPE pre-tokenizer '{pre}' (tokenizer.ggml.pre); supported: {supported}")]
    UnsupportedPre { pre: String, supported: String },
    #[error("'{key}' has {found} entries but the vocabulary has {expected} tokens")]
    LengthMismatch {
        key: &'static str,
        found: usize,
        expected: usize,
    },
    #[error("the vocabulary is empty")]
    EmptyVocab,
    #[error("the vocabulary has {0} tokens, more than token ids can address")]
    VocabTooLarge(usize),
    #[error("token id {id} is out of range (vocabulary of {n_vocab})")]
    TokenOutOfRange { id: u32, n_vocab: usize },
    #[error("the model wants a {which} token added but defines none")]
    MissingSpecialToken { which: &'static str },
    #[error(
        "byte 0x{byte:02X} has no byte-fallback token and the vocabulary has no unknown token"
    )]
    NoByteToken { byte: u8 },
}
