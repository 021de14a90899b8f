//! Layer streaming: running a model whose weights do not fit in memory.
//!
//! The file stays behind a random-access source (a file, HTTP Range requests, `Blob.slice`) and
//! only a byte budget of it is resident. The weights are cut into *units* read as a whole
//! ([`plan`]): one per transformer layer (its matrices; the small norm and bias vectors are
//! converted to f32 at load as for a mapped file), and the LM head in chunks of rows (it can be
//! larger than the whole budget: Gemma's tied 262144-token embedding is two thirds of its file).
//! Embedding rows are read on demand, only those of the tokens in the batch.
//!
//! A forward pass visits the units in the same cyclic order every step (layers 0..n, then the
//! head chunks), so the [`store`] evicts the resident unit that will be needed *last* (furthest
//! ahead in that order; for a cyclic scan that is the optimal choice, where LRU would evict the
//! one needed next and re-read everything), and a prefetch thread reads the next units while
//! the current one computes. Weights stay in their quantized format.

mod plan;
mod store;

pub(crate) use plan::{Plan, Unit};
pub(crate) use store::Store;
pub use store::StreamStats;

/// How a streamed model uses memory.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// Most bytes of weight units resident at once (every single unit must fit).
    pub budget: u64,
    /// Units read ahead by a background thread (0 = none). Ignored where threads are not
    /// available (wasm32): there every unit is read when the forward pass reaches it.
    pub prefetch: usize,
}

impl StreamOptions {
    pub fn with_budget(budget: u64) -> Self {
        Self {
            budget,
            prefetch: 1,
        }
    }
}

/// A random-access source the store and its prefetch thread can share.
pub type SharedSource = std::sync::Arc<dyn chord_gguf::RangeSource + Send + Sync>;
