//! chord-engine: generation on top of a model. An [`Engine`] holds the loaded model, its
//! tokenizer, chat template and a backend; a [`Session`] holds one conversation's KV cache and
//! produces tokens one at a time, reporting each through a callback, until a stop condition.
//! Sessions reuse the cached prefix of their previous prompt (multi-turn chat re-feeds only the
//! new turn).

mod engine;
mod error;
mod session;
mod stop;

pub use engine::{Engine, EngineOptions};
pub use error::EngineError;
pub use session::{GenerateOptions, Generating, Generation, Session, StopReason, TokenEvent};
pub use stop::StopMatcher;

pub use chord_model::chat::ChatMessage;
pub use chord_model::sampler::SamplerConfig;
pub use chord_model::KvType;
