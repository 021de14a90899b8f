//! The scheduler's fixed pool of sequence slots: one KV cache each, allocated once at start-up,
//! so the server's memory is bounded by `slots × ctx` whatever the load. Caches are of the
//! engine's KV type, as a `Session`'s are.

use crate::engine::Engine;
use chord_model::KvCache;

/// One sequence's place: its KV cache and the tokens whose keys/values are in it. A free slot
/// keeps its tokens so that a later request of the same cache key can reuse them.
pub(crate) struct Slot {
    pub cache: KvCache,
    /// Exactly the tokens in `cache`, in order.
    pub tokens: Vec<u32>,
    /// Whose tokens these are (prefix reuse never crosses keys, i.e. tenants).
    pub key: String,
    /// Scheduler step at which the slot was last released (least recently used goes first).
    pub last_used: u64,
    pub busy: bool,
}

impl Slot {
    /// Forgets everything after the first `len` tokens.
    pub fn truncate(&mut self, len: usize) {
        self.cache.truncate(len);
        self.tokens.truncate(len);
    }
}

pub(crate) struct Slots {
    pub slots: Vec<Slot>,
}

impl Slots {
    pub fn new(engine: &Engine, n_slots: usize, n_ctx: usize) -> Self {
        Slots {
            slots: (0..n_slots)
                .map(|_| Slot {
                    cache: engine.new_cache(n_ctx),
                    tokens: Vec::new(),
                    key: String::new(),
                    last_used: 0,
                    busy: false,
                })
                .collect(),
        }
    }

    pub fn n_free(&self) -> usize {
        self.slots.iter().filter(|s| !s.busy).count()
    }
}
