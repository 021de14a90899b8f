//! Key/value cache of one sequence: per layer, `n_ctx` rows of keys and of values. The element
//! type is F16 by default, as llama.cpp's (half the memory and bandwidth of attention), or F32
//! (the precision the fidelity references were made with). The context limit is explicit: a
//! forward pass that would go past it is refused with `ContextFull`, nothing is written.

use crate::config::Config;
use crate::error::{ModelError, Result};
use half::f16;

/// Element type of the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvType {
    #[default]
    F16,
    F32,
}

impl KvType {
    pub fn bytes(self) -> usize {
        match self {
            KvType::F16 => 2,
            KvType::F32 => 4,
        }
    }
}

/// One layer's keys or values as stored.
#[derive(Clone, Copy, Debug)]
pub enum KvSlice<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

/// A cache's keys and values held by a device backend (made by its `Backend::new_cache`); the
/// backend finds its own type again through `as_any_mut`.
pub trait DeviceKv: Send + Sync {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
    /// Bytes held on the device.
    fn bytes(&self) -> usize;
}

enum Store {
    F32 { k: Vec<Vec<f32>>, v: Vec<Vec<f32>> },
    F16 { k: Vec<Vec<f16>>, v: Vec<Vec<f16>> },
    Device { ty: KvType, kv: Box<dyn DeviceKv> },
}

pub struct KvCache {
    n_ctx: usize,
    kv_dim: usize,
    /// Positions filled so far (the next token goes at this position).
    len: usize,
    store: Store,
}

impl KvCache {
    pub fn new(cfg: &Config, n_ctx: usize, ty: KvType) -> Self {
        let kv_dim = cfg.kv_dim();
        let per_layer = n_ctx * kv_dim;
        let store = match ty {
            KvType::F32 => Store::F32 {
                k: (0..cfg.n_layer).map(|_| vec![0.0; per_layer]).collect(),
                v: (0..cfg.n_layer).map(|_| vec![0.0; per_layer]).collect(),
            },
            KvType::F16 => Store::F16 {
                k: (0..cfg.n_layer)
                    .map(|_| vec![f16::ZERO; per_layer])
                    .collect(),
                v: (0..cfg.n_layer)
                    .map(|_| vec![f16::ZERO; per_layer])
                    .collect(),
            },
        };
        Self {
            n_ctx,
            kv_dim,
            len: 0,
            store,
        }
    }
    /// A cache whose keys and values live on a device (`kv` made by the device's backend for
    /// `n_ctx` positions of `cfg`'s layers in type `ty`).
    pub fn on_device(cfg: &Config, n_ctx: usize, ty: KvType, kv: Box<dyn DeviceKv>) -> Self {
        Self {
            n_ctx,
            kv_dim: cfg.kv_dim(),
            len: 0,
            store: Store::Device { ty, kv },
        }
    }
    /// The device store, if the keys and values live on a device.
    pub fn device_mut(&mut self) -> Option<&mut dyn DeviceKv> {
        match &mut self.store {
            Store::Device { kv, .. } => Some(kv.as_mut()),
            _ => None,
        }
    }
    pub fn kv_type(&self) -> KvType {
        match self.store {
            Store::F32 { .. } => KvType::F32,
            Store::F16 { .. } => KvType::F16,
            Store::Device { ty, .. } => ty,
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
        let layers = match &self.store {
            Store::F32 { k, .. } => k.len(),
            Store::F16 { k, .. } => k.len(),
            Store::Device { kv, .. } => return kv.bytes(),
        };
        2 * layers * self.n_ctx * self.kv_dim * self.kv_type().bytes()
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
    /// Stores keys and values of `n` tokens starting at the current length, in layer `il`
    /// (rounded to nearest-even f16 for an F16 cache, as ggml's copy into an F16 cache).
    /// False for a cache on a device (its backend writes it).
    pub(crate) fn write(&mut self, il: usize, k: &[f32], v: &[f32]) -> bool {
        let start = self.len * self.kv_dim;
        match &mut self.store {
            Store::F32 { k: kc, v: vc } => {
                kc[il][start..start + k.len()].copy_from_slice(k);
                vc[il][start..start + v.len()].copy_from_slice(v);
            }
            Store::F16 { k: kc, v: vc } => {
                for (d, &s) in kc[il][start..start + k.len()].iter_mut().zip(k) {
                    *d = f16::from_f32(s);
                }
                for (d, &s) in vc[il][start..start + v.len()].iter_mut().zip(v) {
                    *d = f16::from_f32(s);
                }
            }
            Store::Device { .. } => return false,
        }
        true
    }
    /// Layer `il`'s keys and values in host memory (None for a cache on a device).
    pub(crate) fn layer(&self, il: usize) -> Option<(KvSlice<'_>, KvSlice<'_>)> {
        match &self.store {
            Store::F32 { k, v } => Some((KvSlice::F32(&k[il]), KvSlice::F32(&v[il]))),
            Store::F16 { k, v } => Some((KvSlice::F16(&k[il]), KvSlice::F16(&v[il]))),
            Store::Device { .. } => None,
        }
    }
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}
