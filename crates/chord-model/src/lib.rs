//! chord-model

pub mod tokenizer;
