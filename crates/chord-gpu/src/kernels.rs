//! The WGSL kernels: sources (assembled from `wgsl/` at compile time), names for the dispatch
//! trace, and compiled pipelines, built on first use and kept.

use crate::error::Result;
use crate::Gpu;
use chord_gguf::GgmlType;
use std::collections::HashMap;
use std::sync::Arc;

const W_BYTES: &str = include_str!("wgsl/w_bytes.wgsl");
const MATVEC_HEAD: &str = include_str!("wgsl/matvec_common.wgsl");
const MATVEC_MAIN: &str = include_str!("wgsl/matvec_main.wgsl");
const MATMUL4_MAIN: &str = include_str!("wgsl/matmul4_main.wgsl");
const K4: &str = include_str!("wgsl/matvec_k4.wgsl");
// Q4_K and Q5_K share their loops (one token, four tokens); a type file before the loop gives
// the block size and the quants.
const K45_Q4: &str = include_str!("wgsl/k45_q4.wgsl");
const K45_Q5: &str = include_str!("wgsl/k45_q5.wgsl");
const MATVEC_K45: &str = include_str!("wgsl/matvec_k45.wgsl");
const MATMUL4_K45: &str = include_str!("wgsl/matmul4_k45.wgsl");
const Q5_0_UNPACK: &str = include_str!("wgsl/q5_0_unpack.wgsl");
const Q6_K_UNPACK: &str = include_str!("wgsl/q6_k_unpack.wgsl");

/// A fused dequantize-matmul kernel of a weight type: its name (for traces), the activation
/// type it reads (what llama.cpp pairs with the weight type; the host quantizes to it), the
/// type-specific WGSL body and the entry point (one token per invocation, or four).
pub struct MatvecKernel {
    pub name: &'static str,
    pub act_ty: GgmlType,
    body: &'static [&'static str],
    main: &'static str,
    /// Tokens per invocation (1: matvec, 4: tiled).
    pub tokens: usize,
}

/// Weight types with a GPU matvec kernel.
pub const MATVEC_TYPES: [GgmlType; 8] = [
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::F16,
    GgmlType::F32,
];

pub fn matvec(ty: GgmlType) -> Option<MatvecKernel> {
    use GgmlType::*;
    let (name, act_ty, body): (_, _, &'static [&'static str]) = match ty {
        Q4_0 => (
            "matvec_q4_0_q8_0",
            Q8_0,
            &[include_str!("wgsl/matvec_q4_0.wgsl")],
        ),
        Q5_0 => (
            "matvec_q5_0_q8_0",
            Q8_0,
            &[Q5_0_UNPACK, include_str!("wgsl/matvec_q5_0.wgsl")],
        ),
        Q8_0 => (
            "matvec_q8_0_q8_0",
            Q8_0,
            &[include_str!("wgsl/matvec_q8_0.wgsl")],
        ),
        Q4_K => ("matvec_q4_K_q8_K", Q8_K, &[K4, K45_Q4, MATVEC_K45]),
        Q5_K => ("matvec_q5_K_q8_K", Q8_K, &[K4, K45_Q5, MATVEC_K45]),
        Q6_K => (
            "matvec_q6_K_q8_K",
            Q8_K,
            &[Q6_K_UNPACK, include_str!("wgsl/matvec_q6_k.wgsl")],
        ),
        F16 => (
            "matvec_f16_f16",
            F16,
            &[include_str!("wgsl/matvec_f16.wgsl")],
        ),
        F32 => (
            "matvec_f32_f32",
            F32,
            &[include_str!("wgsl/matvec_f32.wgsl")],
        ),
        _ => return None,
    };
    Some(MatvecKernel {
        name,
        act_ty,
        body,
        main: MATVEC_MAIN,
        tokens: 1,
    })
}

/// Fewest tokens for which a product takes the tiled kernel (below, a group would be mostly
/// repeats of the last token).
pub const TILE_MIN_TOKENS: usize = 4;

/// The tiled kernel of a weight type: one invocation per output row × 4 tokens, each weight
/// block read and unpacked once for the 4 (`dot_row4` in `matmul4_*.wgsl`), per token the
/// matvec's operations in its order, so the results are the matvec's bits.
pub fn matmul4(ty: GgmlType) -> Option<MatvecKernel> {
    use GgmlType::*;
    let (name, act_ty, body): (_, _, &'static [&'static str]) = match ty {
        Q4_0 => (
            "matmul4_q4_0_q8_0",
            Q8_0,
            &[include_str!("wgsl/matmul4_q4_0.wgsl")],
        ),
        Q5_0 => (
            "matmul4_q5_0_q8_0",
            Q8_0,
            &[Q5_0_UNPACK, include_str!("wgsl/matmul4_q5_0.wgsl")],
        ),
        Q8_0 => (
            "matmul4_q8_0_q8_0",
            Q8_0,
            &[include_str!("wgsl/matmul4_q8_0.wgsl")],
        ),
        Q4_K => ("matmul4_q4_K_q8_K", Q8_K, &[K4, K45_Q4, MATMUL4_K45]),
        Q5_K => ("matmul4_q5_K_q8_K", Q8_K, &[K4, K45_Q5, MATMUL4_K45]),
        Q6_K => (
            "matmul4_q6_K_q8_K",
            Q8_K,
            &[Q6_K_UNPACK, include_str!("wgsl/matmul4_q6_k.wgsl")],
        ),
        F16 => (
            "matmul4_f16_f16",
            F16,
            &[include_str!("wgsl/matmul4_f16.wgsl")],
        ),
        F32 => (
            "matmul4_f32_f32",
            F32,
            &[include_str!("wgsl/matmul4_f32.wgsl")],
        ),
        _ => return None,
    };
    Some(MatvecKernel {
        name,
        act_ty,
        body,
        main: MATMUL4_MAIN,
        tokens: 4,
    })
}

/// The kernel a product of `n_tokens` tokens runs on: tiled from [`TILE_MIN_TOKENS`] tokens on
/// when the type has a tiled form, else the matvec.
pub fn for_product(ty: GgmlType, n_tokens: usize) -> Option<MatvecKernel> {
    if n_tokens >= TILE_MIN_TOKENS {
        if let Some(k) = matmul4(ty) {
            return Some(k);
        }
    }
    matvec(ty)
}

impl MatvecKernel {
    pub fn source(&self) -> String {
        let mut s = String::from(W_BYTES);
        s.push_str(MATVEC_HEAD);
        for b in self.body {
            s.push_str(b);
        }
        s.push_str(self.main);
        s
    }
}

/// Attention follows chord-cpu's scalar softmax bit for bit, with libm's expf and the CPU's f64
/// denominator emulated on integers.
pub const ATTENTION: &str = concat!(
    include_str!("wgsl/expf.wgsl"),
    include_str!("wgsl/f64.wgsl"),
    include_str!("wgsl/attention_common.wgsl"),
    include_str!("wgsl/attention.wgsl")
);
/// The flash-style prefill attention: the same arithmetic per (token, head), K/V chunks shared
/// by a workgroup in workgroup memory.
pub const ATTENTION_FLASH: &str = concat!(
    include_str!("wgsl/expf.wgsl"),
    include_str!("wgsl/f64.wgsl"),
    include_str!("wgsl/attention_common.wgsl"),
    include_str!("wgsl/attention_flash.wgsl")
);
/// The f64 emulation's operations element-wise, for the tests.
pub const F64_OPS: &str = concat!(
    include_str!("wgsl/expf.wgsl"),
    include_str!("wgsl/f64.wgsl"),
    include_str!("wgsl/f64_main.wgsl")
);
/// libm's expf element-wise (the one attention uses), for the tests.
pub const EXPF: &str = concat!(
    include_str!("wgsl/expf.wgsl"),
    include_str!("wgsl/expf_main.wgsl")
);
/// The element-wise kernels with the CPU's bits: each has `exact.wgsl` (correctly rounded
/// division, sqrt and fma, f16 conversions on the integers) and what it needs (`expf.wgsl`'s
/// `inf_f32`, `f64.wgsl`'s 64-bit helpers) in front.
macro_rules! exact_kernel {
    ($main:literal) => {
        concat!(
            include_str!("wgsl/expf.wgsl"),
            include_str!("wgsl/f64.wgsl"),
            include_str!("wgsl/exact.wgsl"),
            include_str!($main)
        )
    };
}
pub const RMS_NORM: &str = exact_kernel!("wgsl/rms_norm.wgsl");
pub const ROPE: &str = exact_kernel!("wgsl/rope.wgsl");
pub const SWIGLU: &str = exact_kernel!("wgsl/swiglu.wgsl");
pub const GEGLU: &str = exact_kernel!("wgsl/geglu.wgsl");
/// exact.wgsl's operations element-wise, for the tests.
pub const EXACT_OPS: &str = exact_kernel!("wgsl/exact_main.wgsl");
/// Activation quantization into the weight type's dot partner, byte-identical to
/// `chord_quant::quantize_activation`.
pub const QUANT_Q8_0: &str = exact_kernel!("wgsl/quant_q8_0.wgsl");
pub const QUANT_Q8_K: &str = exact_kernel!("wgsl/quant_q8_k.wgsl");
pub const QUANT_F16: &str = exact_kernel!("wgsl/quant_f16.wgsl");
/// A device step's `add`, `add_bias` and `scale`.
pub const ARITH: &str = include_str!("wgsl/arith.wgsl");
/// A device step's write of new keys/values into an F16 cache.
pub const KV_WRITE_F16: &str = exact_kernel!("wgsl/kv_write.wgsl");

/// The embedding-lookup kernel of a token-matrix type: name and source (the type's `deq`
/// function between the weight readers and `embed_main.wgsl`).
pub fn embed(ty: GgmlType) -> Option<(&'static str, String)> {
    use GgmlType::*;
    let (name, parts): (_, &[&str]) = match ty {
        Q4_0 => ("embed_q4_0", &[include_str!("wgsl/deq_q4_0.wgsl")]),
        Q5_0 => ("embed_q5_0", &[include_str!("wgsl/deq_q5_0.wgsl")]),
        Q8_0 => ("embed_q8_0", &[include_str!("wgsl/deq_q8_0.wgsl")]),
        Q4_K => ("embed_q4_K", &[K4, include_str!("wgsl/deq_q4_k.wgsl")]),
        Q6_K => ("embed_q6_K", &[include_str!("wgsl/deq_q6_k.wgsl")]),
        F16 => ("embed_f16", &[include_str!("wgsl/deq_f16.wgsl")]),
        F32 => ("embed_f32", &[include_str!("wgsl/deq_f32.wgsl")]),
        _ => return None,
    };
    let mut s = String::from(W_BYTES);
    for p in parts {
        s.push_str(p);
    }
    s.push_str(include_str!("wgsl/embed_main.wgsl"));
    Some((name, s))
}

/// Token-matrix types with an embedding kernel.
pub const EMBED_TYPES: [GgmlType; 7] = [
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
    GgmlType::F16,
    GgmlType::F32,
];

/// Compiled pipelines by kernel name.
#[derive(Default)]
pub struct Pipelines {
    map: HashMap<&'static str, Arc<wgpu::ComputePipeline>>,
}

impl Pipelines {
    pub fn get(
        &mut self,
        gpu: &Gpu,
        name: &'static str,
        source: impl FnOnce() -> String,
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        if let Some(p) = self.map.get(name) {
            return Ok(p.clone());
        }
        // WebGPU reports errors asynchronously, not to the next `check`: catch a shader the
        // browser's compiler rejects here, in an error scope (natively `check` sees it at once).
        #[cfg(target_arch = "wasm32")]
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = gpu
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source().into()),
            });
        let pipeline = gpu
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        #[cfg(target_arch = "wasm32")]
        if let Some(e) = crate::block_on::block_on(scope.pop()) {
            return Err(crate::error::GpuError::Validation(format!(
                "kernel {name}: {e}"
            )));
        }
        // A shader the adapter rejects is reported here, not at its first dispatch.
        gpu.check()?;
        let p = Arc::new(pipeline);
        self.map.insert(name, p.clone());
        Ok(p)
    }
}
