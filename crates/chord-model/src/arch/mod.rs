//! One file per architecture family: which metadata keys it reads, which defaults and quirks
//! apply, and which tensors each layer has.

pub mod gemma3;
pub mod llama;
pub mod qwen2;
