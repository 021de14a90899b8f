//! chord-model

pub mod chat;
pub mod sampler;
pub mod tokenizer;
