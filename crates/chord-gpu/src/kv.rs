//! The KV cache on the device: per layer one buffer of keys and one of values, `n_ctx` rows of
//! `n_head_kv · head_dim` elements (F16 or F32, the layout of chord-model's host cache), made
//! by `Backend::new_cache` and kept for the cache's life. Each step writes only its new rows
//! (converted on the host exactly as the host cache converts them: round-to-nearest-even f16),
//! and attention binds the layer's buffers where they are; the used part of the cache is never
//! uploaded again.

use crate::backend::{check_attention, GpuBackend};
use crate::error::{GpuError, Result};
use chord_model::{CachedAttention, Config, DeviceKv, KvCache, KvType};

pub(crate) struct GpuKv {
    pub(crate) k: Vec<wgpu::Buffer>,
    pub(crate) v: Vec<wgpu::Buffer>,
    pub(crate) f16: bool,
    pub(crate) kv_dim: usize,
    pub(crate) n_ctx: usize,
    /// The device this cache lives on (a cache is only used with the backend that made it).
    owner: usize,
}

impl DeviceKv for GpuKv {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn bytes(&self) -> usize {
        let elem = if self.f16 { 2 } else { 4 };
        2 * self.k.len() * self.n_ctx * self.kv_dim * elem
    }
}

/// Little-endian bytes of `x` as the cache stores them.
fn kv_bytes(x: &[f32], f16: bool) -> Vec<u8> {
    if f16 {
        x.iter()
            .flat_map(|&v| half::f16::from_f32(v).to_bits().to_le_bytes())
            .collect()
    } else {
        x.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

impl GpuBackend {
    /// Identifies this backend's device for the caches it makes.
    fn kv_owner(&self) -> usize {
        &self.gpu as *const _ as usize
    }

    /// A KV cache of `n_ctx` positions in device memory.
    pub fn new_device_cache(&self, cfg: &Config, n_ctx: usize, ty: KvType) -> Result<KvCache> {
        let kv_dim = cfg.kv_dim();
        let f16 = ty == KvType::F16;
        // Rows are written with `write_buffer`, whose offsets and sizes are multiples of 4.
        if f16 && !kv_dim.is_multiple_of(2) {
            return Err(GpuError::Shape(format!(
                "KV cache: an F16 cache needs an even row width ({kv_dim})"
            )));
        }
        let bytes = (n_ctx * kv_dim * ty.bytes()).max(4) as u64;
        if bytes > self.gpu.max_binding_bytes() {
            return Err(GpuError::Shape(format!(
                "KV cache: {n_ctx} positions need {bytes} bytes per layer, over the adapter's \
                 largest binding ({})",
                self.gpu.max_binding_bytes()
            )));
        }
        self.gpu.check()?;
        let make = |what: &str| {
            self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(what),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let k = (0..cfg.n_layer).map(|_| make("chord-gpu kv k")).collect();
        let v = (0..cfg.n_layer).map(|_| make("chord-gpu kv v")).collect();
        // Out of memory shows here rather than at the first step.
        self.gpu.check()?;
        let kv = GpuKv {
            k,
            v,
            f16,
            kv_dim,
            n_ctx,
            owner: self.kv_owner(),
        };
        Ok(KvCache::on_device(cfg, n_ctx, ty, Box::new(kv)))
    }

    /// This device's cache store, if `cache` is one.
    pub(crate) fn own_kv<'c>(&self, cache: &'c mut KvCache) -> Option<&'c mut GpuKv> {
        let owner = self.kv_owner();
        cache
            .device_mut()?
            .as_any_mut()
            .downcast_mut::<GpuKv>()
            .filter(|kv| kv.owner == owner)
    }

    /// Whether `cache` lives on this backend's device.
    pub(crate) fn owns(&self, cache: &mut KvCache) -> bool {
        self.own_kv(cache).is_some()
    }

    /// Writes the step's rows into this device's cache and runs attention over it (see
    /// [`chord_model::Backend::attention_cached`]).
    pub(crate) fn attention_device(&self, a: CachedAttention<'_>) -> Result<()> {
        let sh = a.shape;
        let Some(kv) = self.own_kv(a.cache) else {
            return Err(GpuError::Shape(
                "attention: the KV cache is not on this device".into(),
            ));
        };
        {
            check_attention(&sh, a.q.len(), a.out.len())?;
            let n_new = sh.n_tokens * kv.kv_dim;
            if a.layer >= kv.k.len()
                || sh.pos0 + sh.n_tokens > kv.n_ctx
                || a.k_new.len() < n_new
                || a.v_new.len() < n_new
                || sh.n_head_kv * sh.head_dim != kv.kv_dim
            {
                return Err(GpuError::Shape(
                    "attention: the step does not fit the device KV cache".into(),
                ));
            }
            self.gpu.check()?;
            let elem = if kv.f16 { 2 } else { 4 };
            let off = (sh.pos0 * kv.kv_dim * elem) as u64;
            let kb = kv_bytes(&a.k_new[..n_new], kv.f16);
            let vb = kv_bytes(&a.v_new[..n_new], kv.f16);
            let (kbuf, vbuf) = (&kv.k[a.layer], &kv.v[a.layer]);
            self.gpu.queue.write_buffer(kbuf, off, &kb);
            self.gpu.queue.write_buffer(vbuf, off, &vb);
            let mut guard = self.state();
            let st = &mut *guard;
            st.kv_bytes_written += (kb.len() + vb.len()) as u64;
            let kernel = self.attention_kernel_for(&sh);
            self.attend(st, a.q, kbuf, vbuf, kv.f16, &sh, kernel, a.out)
        }
    }
}
