//! chord-engine: generation on top of a model. An [`Engine`] holds the loaded model, its
//! tokenizer, chat template and a backend; a [`Session`] holds one conversation's KV cache and
//! produces tokens one at a time, reporting each through a callback, until a stop condition.
//! Sessions reuse the cached prefix of their previous prompt (multi-turn chat re-feeds only the
//! new turn). A [`Scheduler`] serves many requests at once: a fixed pool of slots, one batched
//! forward pass per step over every running sequence, prefix-cache reuse per tenant.

mod engine;
mod error;
mod prefix_cache;
mod prompt;
mod scheduler;
mod session;
mod slots;
mod stop;

pub use engine::{Engine, EngineOptions};
pub use error::EngineError;
pub use scheduler::{
    EventSink, Scheduler, SchedulerConfig, SchedulerStats, SeqEvent, SeqHandle, SeqRequest,
    SeqSummary,
};
pub use session::{GenerateOptions, Generating, Generation, Session, StopReason, TokenEvent};
pub use stop::StopMatcher;

pub use chord_model::chat::ChatMessage;
pub use chord_model::sampler::SamplerConfig;
pub use chord_model::{KvType, StreamOptions, StreamStats};
