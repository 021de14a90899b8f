//! Vec-dot kernel selection. Flavours:
//! - `scalar`: one portable instantiation of every generic body (the truth; bit-exact with
//!   ggml's generic C).
//! - `avx2` (x86_64 with AVX2+FMA): the hand-written kernels of `x86.rs` for the types that have
//!   one (ggml's x86 reduction order), the generic bodies compiled with AVX2+FMA for the rest.
//! - `avx512` (AVX-512 F/BW/VL + VNNI): the same with `vpdpbusd` for the u8×i8 sums, and
//!   llama.cpp's AVX-512 build's repacked Q2_K order.
//! - `avx512emu` (x86_64 with AVX2+FMA): AVX2 instructions computing bit for bit what `avx512`
//!   computes, so a CPU without AVX-512 reproduces llama.cpp's AVX-512 build (the one its
//!   reference outputs come from). The integer sums are exact either way, so the vec-dots are
//!   the `avx2` kernels except Q2_K's repacked order; the 16-lane float ops live in chord-cpu.
//! - `simd128` (wasm32 built with `+simd128`, decided at compile time): the kernels of
//!   `simd128/` for the types that have one, the scalar bodies for the rest. A build with
//!   `+relaxed-simd` too is the same flavour with relaxed-SIMD integer dots for Q4_0/Q5_0/Q8_0
//!   (same bits; kernel names `…/relaxed-simd`).
//!
//! The ISA is chosen once per process: `CHORD_ISA=scalar|avx2|avx512emu|avx512|simd128` if set
//! and available (otherwise the best available), else the best the CPU supports: `avx512`, else
//! `avx512emu` on x86 (the same numbers on every x86 CPU with AVX2), then NEON or scalar.

use crate::QuantError;
use chord_gguf::GgmlType;
use std::sync::OnceLock;

/// A row dot product: `(n, weight row bytes, activation row bytes) -> f32`. Lengths are not
/// checked: blocks beyond the shorter slice are ignored (never a panic, never out of bounds).
/// The activation row may be followed by its side data ([`crate::act_extra_bytes`]), which
/// some kernels use to go faster, with the same result. Obtain one through [`VecDotKernel`],
/// which checks lengths once per tensor.
pub type VecDotFn = fn(usize, &[u8], &[u8]) -> f32;

/// One weight row against four activation rows at once (prefill: the weight block is unpacked
/// once for four tokens). Per token it returns exactly what the [`VecDotFn`] of the same kernel
/// returns, except where llama.cpp itself computes a group of four tokens in another order than
/// one token (x86 Q4_K: its repacked gemm and gemv accumulate in different steps), which we
/// mirror. Length rules as for [`VecDotFn`].
pub type VecDot4Fn = fn(usize, &[u8], [&[u8]; 4]) -> [f32; 4];

/// Eight consecutive weight rows against a run of tokens (prefill):
/// `(n, w, w_row, act, a_stride, out)` with row `r` at `w[r * w_row..]` and token `t`'s
/// activation row at `act[t * a_stride..]`, one token per element of `out`: `out[t][r]` is
/// row `r` · token `t`, bit for bit what the four-token kernel it stands for returns
/// ([`VecDotKernel::rows8_grouped`], [`VecDotKernel::rows8_tiled`]). Any number of tokens;
/// blocks that a short slice does not hold are skipped (never a panic, never out of bounds).
pub type VecDotRows8Fn = fn(usize, &[u8], usize, &[u8], usize, &mut [[f32; 8]]);

/// Instruction-set flavour of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable code (also what wasm32 runs).
    Scalar,
    /// x86_64 with AVX2, FMA and F16C.
    Avx2,
    /// x86_64 with AVX2, FMA and F16C, computing exactly what [`Isa::Avx512`] computes
    /// (llama.cpp's AVX-512 build's arithmetic, its 16-lane float ops as two 8-lane halves).
    Avx512Emu,
    /// x86_64 with AVX2, FMA and AVX-512 F/BW/VL/VNNI.
    Avx512,
    /// aarch64 NEON (baseline on every aarch64 CPU).
    Neon,
    /// wasm32 built with `+simd128`: hand-written kernels (`crate::simd128`) for the common
    /// weight types, scalar for the rest. Chosen at compile time: there is no run-time
    /// detection in wasm (the JS side loads a SIMD or a scalar build).
    Simd128,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Emu => "avx512emu",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            Isa::Simd128 => "simd128",
        }
    }

    /// Whether this CPU can run the flavour.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 | Isa::Avx512Emu => avx2_detected(),
            Isa::Avx512 => avx2_detected() && avx512_detected(),
            Isa::Neon => cfg!(target_arch = "aarch64"),
            Isa::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
        }
    }

    /// Every flavour this build knows, best last.
    pub const ALL: [Isa; 6] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512Emu,
        Isa::Avx512,
        Isa::Neon,
        Isa::Simd128,
    ];

    /// Whether the flavour computes what llama.cpp's x86 AVX-512 build computes, the build its
    /// reference outputs were made with (`avx512`, and `avx512emu` on AVX2 CPUs).
    pub fn is_avx512_order(self) -> bool {
        matches!(self, Isa::Avx512 | Isa::Avx512Emu)
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_detected() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_detected() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx512_detected() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512vnni")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_detected() -> bool {
    false
}

/// The flavour every kernel lookup uses, decided once: `CHORD_ISA` (a flavour's
/// [`Isa::name`]) if set and available, otherwise the best available.
pub fn selected_isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = Isa::ALL
            .into_iter()
            .rfind(|i| i.is_available())
            .unwrap_or(Isa::Scalar);
        let asked = std::env::var("CHORD_ISA").ok();
        Isa::ALL
            .into_iter()
            .find(|i| Some(i.name()) == asked.as_deref() && i.is_available())
            .unwrap_or(best)
    })
}

macro_rules! kernels {
    ($( $name:ident => $body:path ),* $(,)?) => {
        mod scalar {
            $(
                pub(super) fn $name(n: usize, w: &[u8], a: &[u8]) -> f32 {
                    $body(n, w, a)
                }
            )*
        }

        #[cfg(target_arch = "x86_64")]
        mod avx2 {
            $(
                pub(super) fn $name(n: usize, w: &[u8], a: &[u8]) -> f32 {
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn inner(n: usize, w: &[u8], a: &[u8]) -> f32 {
                        $body(n, w, a)
                    }
                    // SAFETY: this module's functions are only handed out by `lookup` for
                    // `Isa::Avx2`, which `VecDotKernel::with_isa` accepts only after
                    // `is_x86_feature_detected!` confirmed AVX2 and FMA on this CPU.
                    unsafe { inner(n, w, a) }
                }
            )*
        }
    };
}

kernels! {
    q4_0_q8_0 => crate::legacy::vec_dot_q4_0_q8_0,
    q4_1_q8_1 => crate::legacy::vec_dot_q4_1_q8_1,
    q5_0_q8_0 => crate::legacy::vec_dot_q5_0_q8_0,
    q5_1_q8_1 => crate::legacy::vec_dot_q5_1_q8_1,
    q8_0_q8_0 => crate::legacy::vec_dot_q8_0_q8_0,
    q2_k_q8_k => crate::k::vec_dot_q2_k_q8_k,
    q3_k_q8_k => crate::k::vec_dot_q3_k_q8_k,
    q4_k_q8_k => crate::k::vec_dot_q4_k_q8_k,
    q5_k_q8_k => crate::k::vec_dot_q5_k_q8_k,
    q6_k_q8_k => crate::k::vec_dot_q6_k_q8_k,
    iq4_nl_q8_0 => crate::iq::vec_dot_iq4_nl_q8_0,
    iq4_xs_q8_k => crate::iq::vec_dot_iq4_xs_q8_k,
    f32_f32 => crate::float::vec_dot_f32,
    f16_f16 => crate::float::vec_dot_f16,
    bf16_bf16 => crate::float::vec_dot_bf16,
}

macro_rules! table {
    ($isa:ident, $w:expr) => {
        match $w {
            GgmlType::Q4_0 => Some(($isa::q4_0_q8_0 as VecDotFn, "q4_0_q8_0")),
            GgmlType::Q4_1 => Some(($isa::q4_1_q8_1 as VecDotFn, "q4_1_q8_1")),
            GgmlType::Q5_0 => Some(($isa::q5_0_q8_0 as VecDotFn, "q5_0_q8_0")),
            GgmlType::Q5_1 => Some(($isa::q5_1_q8_1 as VecDotFn, "q5_1_q8_1")),
            GgmlType::Q8_0 => Some(($isa::q8_0_q8_0 as VecDotFn, "q8_0_q8_0")),
            GgmlType::Q2_K => Some(($isa::q2_k_q8_k as VecDotFn, "q2_K_q8_K")),
            GgmlType::Q3_K => Some(($isa::q3_k_q8_k as VecDotFn, "q3_K_q8_K")),
            GgmlType::Q4_K => Some(($isa::q4_k_q8_k as VecDotFn, "q4_K_q8_K")),
            GgmlType::Q5_K => Some(($isa::q5_k_q8_k as VecDotFn, "q5_K_q8_K")),
            GgmlType::Q6_K => Some(($isa::q6_k_q8_k as VecDotFn, "q6_K_q8_K")),
            GgmlType::IQ4_NL => Some(($isa::iq4_nl_q8_0 as VecDotFn, "iq4_nl_q8_0")),
            GgmlType::IQ4_XS => Some(($isa::iq4_xs_q8_k as VecDotFn, "iq4_xs_q8_K")),
            GgmlType::F32 => Some(($isa::f32_f32 as VecDotFn, "f32_f32")),
            GgmlType::F16 => Some(($isa::f16_f16 as VecDotFn, "f16_f16")),
            GgmlType::BF16 => Some(($isa::bf16_bf16 as VecDotFn, "bf16_bf16")),
            _ => None,
        }
    };
}

/// The kernel for weight type `w` in flavour `isa`, with its base name, if there is one. The
/// caller must have checked `isa.is_available()`.
fn lookup(w: GgmlType, isa: Isa) -> Option<(VecDotFn, &'static str)> {
    match isa {
        Isa::Scalar => table!(scalar, w),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86_table!(crate::x86::avx2, w).or_else(|| table!(avx2, w)),
        // llama.cpp's AVX-512 build repacks Q2_K; its order is written out in k.rs.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx512Emu if w == GgmlType::Q2_K => Some((
            crate::k::q2_k_q8_k_repacked::<false> as VecDotFn,
            "q2_K_q8_K",
        )),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86_table!(crate::x86::avx512, w).or_else(|| table!(avx2, w)),
        // The integer sums are exact, so the AVX2 kernels return the AVX-512 ones' bits.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Emu => x86_table!(crate::x86::avx2, w).or_else(|| table!(avx2, w)),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx2 | Isa::Avx512Emu | Isa::Avx512 => None,
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => neon_table(w).or_else(|| table!(scalar, w)),
        #[cfg(not(target_arch = "aarch64"))]
        Isa::Neon => None,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => crate::simd128::lookup(w).or(table!(scalar, w)),
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        Isa::Simd128 => None,
    }
}

/// The hand-written NEON kernels (a subset of the types).
#[cfg(target_arch = "aarch64")]
fn neon_table(w: GgmlType) -> Option<(VecDotFn, &'static str)> {
    use crate::neon as k;
    match w {
        GgmlType::Q4_0 => Some((k::q4_0_q8_0 as VecDotFn, "q4_0_q8_0")),
        GgmlType::Q5_0 => Some((k::q5_0_q8_0 as VecDotFn, "q5_0_q8_0")),
        GgmlType::Q8_0 => Some((k::q8_0_q8_0 as VecDotFn, "q8_0_q8_0")),
        GgmlType::Q4_K => Some((k::q4_k_q8_k as VecDotFn, "q4_K_q8_K")),
        GgmlType::Q6_K => Some((k::q6_k_q8_k as VecDotFn, "q6_K_q8_K")),
        _ => None,
    }
}

/// The hand-written x86 kernels (a subset of the types).
#[cfg(target_arch = "x86_64")]
macro_rules! x86_table {
    ($m:path, $w:expr) => {{
        use $m as k;
        match $w {
            GgmlType::Q4_0 => Some((k::q4_0_q8_0 as VecDotFn, "q4_0_q8_0")),
            GgmlType::Q4_1 => Some((k::q4_1_q8_1 as VecDotFn, "q4_1_q8_1")),
            GgmlType::Q5_0 => Some((k::q5_0_q8_0 as VecDotFn, "q5_0_q8_0")),
            GgmlType::Q5_1 => Some((k::q5_1_q8_1 as VecDotFn, "q5_1_q8_1")),
            GgmlType::Q8_0 => Some((k::q8_0_q8_0 as VecDotFn, "q8_0_q8_0")),
            GgmlType::Q4_K => Some((k::q4_k_q8_k as VecDotFn, "q4_K_q8_K")),
            GgmlType::Q5_K => Some((k::q5_k_q8_k as VecDotFn, "q5_K_q8_K")),
            GgmlType::Q6_K => Some((k::q6_k_q8_k as VecDotFn, "q6_K_q8_K")),
            GgmlType::IQ4_NL => Some((k::iq4_nl_q8_0 as VecDotFn, "iq4_nl_q8_0")),
            GgmlType::IQ4_XS => Some((k::iq4_xs_q8_k as VecDotFn, "iq4_xs_q8_K")),
            _ => None,
        }
    }};
}
#[cfg(target_arch = "x86_64")]
use x86_table;

/// The four-token kernel for four tokens of one sequence's batch: where llama.cpp computes such
/// a group in another order than single tokens (x86 Q4_K: its repacked gemm), that order;
/// otherwise the same kernel as [`lookup4`].
fn lookup4_grouped(w: GgmlType, isa: Isa) -> Option<VecDot4Fn> {
    #[cfg(target_arch = "x86_64")]
    match (w, isa) {
        (GgmlType::Q2_K, Isa::Avx512 | Isa::Avx512Emu) => {
            return Some(|n, w, a| a.map(|a| crate::k::q2_k_q8_k_repacked::<true>(n, w, a)))
        }
        (GgmlType::Q4_K, Isa::Avx2 | Isa::Avx512Emu) => {
            return Some(crate::x86::avx2::q4_k_q8_k_x4_gemm)
        }
        (GgmlType::Q4_K, Isa::Avx512) => return Some(crate::x86::avx512::q4_k_q8_k_x4_gemm),
        _ => {}
    }
    lookup4(w, isa)
}

/// The four-token kernel in the order of ggml's tiled K-quant matmul, which llama.cpp runs on
/// x86 for a ubatch of at least [`TILED_MIN_ROWS`] rows of a K-quant weight that is not
/// repacked. Written for Q6_K (the real models) and Q5_K; `None` elsewhere.
fn lookup4_tiled(w: GgmlType, isa: Isa) -> Option<VecDot4Fn> {
    #[cfg(target_arch = "x86_64")]
    match (w, isa) {
        (GgmlType::Q6_K, Isa::Avx2 | Isa::Avx512Emu) => {
            return Some(crate::x86::avx2::q6_k_q8_k_x4_tiled)
        }
        (GgmlType::Q6_K, Isa::Avx512) => return Some(crate::x86::avx512::q6_k_q8_k_x4_tiled),
        (GgmlType::Q5_K, Isa::Avx2 | Isa::Avx512Emu) => {
            return Some(crate::x86::avx2::q5_k_q8_k_x4_tiled)
        }
        (GgmlType::Q5_K, Isa::Avx512) => return Some(crate::x86::avx512::q5_k_q8_k_x4_tiled),
        _ => {}
    }
    let _ = (w, isa);
    None
}

/// The eight-row kernel for [`lookup4_grouped`]'s order (`x86_rows8.rs`).
fn lookup_rows8_grouped(w: GgmlType, isa: Isa) -> Option<VecDotRows8Fn> {
    #[cfg(target_arch = "x86_64")]
    match (w, isa) {
        (GgmlType::Q4_K, Isa::Avx2 | Isa::Avx512Emu) => {
            return Some(crate::x86_rows8::avx2::q4_k_rows8_gemm)
        }
        (GgmlType::Q4_K, Isa::Avx512) => return Some(crate::x86_rows8::avx512::q4_k_rows8_gemm),
        _ => {}
    }
    let _ = (w, isa);
    None
}

/// The eight-row kernel for [`lookup4_tiled`]'s order (`x86_rows8.rs`).
fn lookup_rows8_tiled(w: GgmlType, isa: Isa) -> Option<VecDotRows8Fn> {
    #[cfg(target_arch = "x86_64")]
    match (w, isa) {
        (GgmlType::Q6_K, Isa::Avx2 | Isa::Avx512Emu) => {
            return Some(crate::x86_rows8::avx2::q6_k_rows8_tiled)
        }
        (GgmlType::Q6_K, Isa::Avx512) => return Some(crate::x86_rows8::avx512::q6_k_rows8_tiled),
        _ => {}
    }
    let _ = (w, isa);
    None
}

/// Rows of one ubatch from which llama.cpp's x86 build takes its tiled K-quant matmul
/// (`ggml_tiled_min_batch`).
pub const TILED_MIN_ROWS: usize = 8;

/// The four-token kernels that exist (hand-written x86 and SIMD128 only).
fn lookup4(w: GgmlType, isa: Isa) -> Option<VecDot4Fn> {
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! t4 {
            ($m:path) => {{
                use $m as k;
                match w {
                    GgmlType::Q8_0 => Some(k::q8_0_q8_0_x4 as VecDot4Fn),
                    GgmlType::Q4_0 => Some(k::q4_0_q8_0_x4 as VecDot4Fn),
                    GgmlType::Q5_0 => Some(k::q5_0_q8_0_x4 as VecDot4Fn),
                    GgmlType::Q4_K => Some(k::q4_k_q8_k_x4 as VecDot4Fn),
                    GgmlType::Q5_K => Some(k::q5_k_q8_k_x4 as VecDot4Fn),
                    GgmlType::Q6_K => Some(k::q6_k_q8_k_x4 as VecDot4Fn),
                    _ => None,
                }
            }};
        }
        match isa {
            Isa::Avx512 | Isa::Avx512Emu if w == GgmlType::Q2_K => {
                Some(|n, w, a| a.map(|a| crate::k::q2_k_q8_k_repacked::<false>(n, w, a)))
            }
            Isa::Avx2 | Isa::Avx512Emu => t4!(crate::x86::avx2),
            Isa::Avx512 => t4!(crate::x86::avx512),
            Isa::Scalar | Isa::Neon | Isa::Simd128 => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if isa == Isa::Simd128 {
            return crate::simd128::lookup4(w);
        }
        let _ = (w, isa);
        None
    }
}

/// The activation type llama.cpp pairs with weight type `w` (`type_traits_cpu[w].vec_dot_type`).
pub fn vec_dot_type(w: GgmlType) -> Result<GgmlType, QuantError> {
    use GgmlType::*;
    Ok(match w {
        Q4_0 | Q5_0 | Q8_0 | IQ4_NL => Q8_0,
        Q4_1 | Q5_1 => Q8_1,
        Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | IQ4_XS => Q8_K,
        F32 => F32,
        F16 => F16,
        BF16 => BF16,
        ty => return Err(QuantError::Unsupported { ty }),
    })
}

/// The name of the kernel that computes `w`-row × activation-row dot products in flavour `isa`,
/// e.g. `vec_dot_q4_K_q8_K/avx2` (for dispatch traces); `None` if there is no such kernel.
pub fn kernel_name(w: GgmlType, isa: Isa) -> Option<&'static str> {
    if !isa.is_available() {
        return None;
    }
    lookup(w, isa).map(|(_, base)| full_name(base, isa, w))
}

fn full_name(base: &'static str, isa: Isa, w: GgmlType) -> &'static str {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let relaxed = crate::simd128::is_relaxed(w);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let relaxed = {
        let _ = w;
        false
    };
    macro_rules! names {
        ($($b:literal),*) => {
            match (base, isa) {
                $(
                    ($b, Isa::Scalar) => concat!("vec_dot_", $b, "/scalar"),
                    ($b, Isa::Avx2) => concat!("vec_dot_", $b, "/avx2"),
                    ($b, Isa::Avx512Emu) => concat!("vec_dot_", $b, "/avx512emu"),
                    ($b, Isa::Avx512) => concat!("vec_dot_", $b, "/avx512"),
                    ($b, Isa::Neon) => concat!("vec_dot_", $b, "/neon"),
                    ($b, Isa::Simd128) if relaxed => concat!("vec_dot_", $b, "/relaxed-simd"),
                    ($b, Isa::Simd128) => concat!("vec_dot_", $b, "/simd128"),
                )*
                _ => "vec_dot_unknown",
            }
        };
    }
    names!(
        "q4_0_q8_0",
        "q4_1_q8_1",
        "q5_0_q8_0",
        "q5_1_q8_1",
        "q8_0_q8_0",
        "q2_K_q8_K",
        "q3_K_q8_K",
        "q4_K_q8_K",
        "q5_K_q8_K",
        "q6_K_q8_K",
        "iq4_nl_q8_0",
        "iq4_xs_q8_K",
        "f32_f32",
        "f16_f16",
        "bf16_bf16"
    )
}

/// A dot-product kernel for one weight type and row length, looked up once per tensor: lengths
/// are checked by [`VecDotKernel::check_rows`] (or [`crate::vec_dot`]), then [`Self::dot`] /
/// [`Self::func`] can be called millions of times without further checks or allocation.
#[derive(Clone, Copy, Debug)]
pub struct VecDotKernel {
    /// Weight type.
    pub w_ty: GgmlType,
    /// Activation type (`vec_dot_type(w_ty)`).
    pub act_ty: GgmlType,
    /// Flavour the kernel was compiled for.
    pub isa: Isa,
    /// E.g. `vec_dot_q6_K_q8_K/scalar`.
    pub name: &'static str,
    f: VecDotFn,
    f4: Option<VecDot4Fn>,
    f4g: Option<VecDot4Fn>,
    f4t: Option<VecDot4Fn>,
    r8g: Option<VecDotRows8Fn>,
    r8t: Option<VecDotRows8Fn>,
}

impl VecDotKernel {
    /// The kernel for `w_ty` in the process-wide [`selected_isa`].
    pub fn new(w_ty: GgmlType) -> Result<Self, QuantError> {
        Self::with_isa(w_ty, selected_isa())
    }

    /// The kernel for `w_ty` in flavour `isa` (error if the CPU lacks it).
    pub fn with_isa(w_ty: GgmlType, isa: Isa) -> Result<Self, QuantError> {
        let act_ty = vec_dot_type(w_ty)?;
        if !isa.is_available() {
            return Err(QuantError::IsaUnavailable { isa: isa.name() });
        }
        let (f, base) = lookup(w_ty, isa).ok_or(QuantError::Unsupported { ty: w_ty })?;
        Ok(Self {
            w_ty,
            act_ty,
            isa,
            name: full_name(base, isa, w_ty),
            f,
            f4: lookup4(w_ty, isa),
            f4g: lookup4_grouped(w_ty, isa),
            f4t: lookup4_tiled(w_ty, isa),
            r8g: lookup_rows8_grouped(w_ty, isa),
            r8t: lookup_rows8_tiled(w_ty, isa),
        })
    }

    /// The raw function pointer (no length checks; see [`VecDotFn`]).
    pub fn func(&self) -> VecDotFn {
        self.f
    }

    /// The four-token kernel, where this type and flavour have one (see [`VecDot4Fn`]): per
    /// token bit-identical to [`Self::func`], so any four tokens may be grouped.
    pub fn func4(&self) -> Option<VecDot4Fn> {
        self.f4
    }

    /// The four-token kernel for four consecutive tokens of one sequence's batch (llama.cpp's
    /// gemm over a ubatch): llama.cpp's order for such a group, which for x86 Q4_K differs from
    /// its one-token order in the last bit; elsewhere the same as [`Self::func4`].
    pub fn func4_grouped(&self) -> Option<VecDot4Fn> {
        self.f4g
    }

    /// Four tokens of one sequence's batch of at least [`TILED_MIN_ROWS`] rows, in the order
    /// of llama.cpp's tiled K-quant matmul (x86, Q6_K); `None` where that order is not written.
    pub fn func4_tiled(&self) -> Option<VecDot4Fn> {
        self.f4t
    }

    /// Eight rows at once in the order of [`Self::func4_grouped`] (x86 Q4_K), for the quads of
    /// a sequence's batch; `None` where there is no such kernel.
    pub fn rows8_grouped(&self) -> Option<VecDotRows8Fn> {
        self.r8g
    }

    /// Eight rows at once in the order of [`Self::func4_tiled`] (x86 Q6_K), for every token of
    /// a sequence's batch of at least [`TILED_MIN_ROWS`] tokens; `None` where there is none.
    pub fn rows8_tiled(&self) -> Option<VecDotRows8Fn> {
        self.r8t
    }

    /// Bytes of one weight row and one activation row of length `n`, or an error if `n` is not a
    /// whole number of blocks of both types.
    pub fn row_bytes(&self, n: usize) -> Result<(usize, usize), QuantError> {
        Ok((
            crate::row_bytes(self.w_ty, n)?,
            crate::row_bytes(self.act_ty, n)?,
        ))
    }

    /// Checks that rows of `w_len` and `a_len` bytes are rows of length `n`.
    pub fn check_rows(&self, n: usize, w_len: usize, a_len: usize) -> Result<(), QuantError> {
        let (wb, ab) = self.row_bytes(n)?;
        if w_len != wb {
            return Err(QuantError::SizeMismatch {
                ty: self.w_ty,
                n,
                expected: wb,
                got: w_len,
            });
        }
        if a_len != ab {
            return Err(QuantError::SizeMismatch {
                ty: self.act_ty,
                n,
                expected: ab,
                got: a_len,
            });
        }
        Ok(())
    }

    /// One dot product (lengths as checked by [`Self::check_rows`]; not re-checked here).
    #[inline]
    pub fn dot(&self, n: usize, w_row: &[u8], a_row: &[u8]) -> f32 {
        (self.f)(n, w_row, a_row)
    }
}
