use chord_model::chat::ChatError;
use chord_model::sampler::SampleError;
use chord_model::tokenizer::TokenizerError;
use chord_model::ModelError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
    #[error("sampling: {0}")]
    Sample(#[from] SampleError),
    #[error("chat template: {0}")]
    Chat(#[from] ChatError),
    #[error("prompt of {prompt} tokens does not fit the context of {n_ctx} tokens")]
    PromptTooLong { prompt: usize, n_ctx: usize },
    #[error("empty prompt (no tokens to condition on)")]
    EmptyPrompt,
    #[error("scheduler: {0}")]
    BadSchedulerConfig(String),
    #[error("the scheduler has stopped")]
    SchedulerStopped,
    /// A batched forward pass failed; every sequence in it gets the error's text.
    #[error("batched forward pass: {0}")]
    Batch(String),
}
