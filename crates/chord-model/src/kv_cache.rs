//! Key/value cache of one sequence: per layer, `n_ctx` rows of keys and of values (f32, the
//! precision the reference outputs were made with). The context limit is explicit: a forward
//! pass that would go past it is refused with `ContextFull`, nothing is written.

use crate::config::Config;
use crate::error::{ModelError, Result};

pub struct KvCache {
    n_ctx: usize,
    kv_dim: usize,
    /// Positions filled so far (the next token goes at this position).
    len: usize,
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl KvCache {
    pub fn new(cfg: &Config, n_ctx: usize) -> Self {
        let kv_dim = cfg.kv_dim();
        let per_layer = n_ctx * kv_dim;
        Self {
            n_ctx,
            kv_dim,
            len: 0,
            k: (0..cfg.n_layer).map(|_| vec![0.0; per_layer]).collect(),
            v: (0..cfg.n_layer).map(|_| vec![0.0; per_layer]).collect(),
        }
    }
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Forgets everything after `len` positions (e.g. to reuse a shared prompt prefix).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    pub fn clear(&mut self) {
        self.len = 0;
    }
    /// Bytes held (for memory accounting).
    pub fn bytes(&self) -> usize {
        2 * self.k.len() * self.n_ctx * self.kv_dim * 4
    }

    pub(crate) fn check_room(&self, n: usize) -> Result<()> {
        if self.len + n > self.n_ctx {
            return Err(ModelError::ContextFull {
                needed: self.len + n,
                n_ctx: self.n_ctx,
            });
        }
        Ok(())
    }
    /// Stores keys and values of `n` tokens starting at the current length, in layer `il`.
    pub(crate) fn write(&mut self, il: usize, k: &[f32], v: &[f32]) {
        let start = self.len * self.kv_dim;
        self.k[il][start..start + k.len()].copy_from_slice(k);
        self.v[il][start..start + v.len()].copy_from_slice(v);
    }
    pub(crate) fn layer(&self, il: usize) -> (&[f32], &[f32]) {
        (&self.k[il], &self.v[il])
    }
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}
