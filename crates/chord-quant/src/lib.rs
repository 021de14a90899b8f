//! chord-quant: ggml's quantized block formats — layouts, dequantization, reference
//! quantization, and the scalar vec-dot kernels that later SIMD kernels are tested against.
//!
//! Modules, one per block family:
//! - [`legacy`]: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 (32-element blocks)
//! - [`k`]: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K (256-element super-blocks)
//! - [`iq`]: IQ4_NL, IQ4_XS
//! - [`float`]: F32, F16, BF16
//!
//! Every block struct is `#[repr(C)]`, made of byte arrays only (alignment 1), with a
//! compile-time size assert, so it can be viewed in place over GGUF bytes at any offset
//! ([`block::as_blocks`]).
//!
//! # Exactness against the references
//! Dequantization follows the float operation order of llama.cpp's `dequantize_row_*`
//! (`ggml/src/ggml-quants.c`). For every type gguf-py 0.19's numpy port computes the same
//! operations in the same order, so **all types are bit-exact** against
//! `gguf.quants.dequantize` (checked by `tests/dequant_reference.rs` through SHA-256 of whole
//! tensors of 15 fixtures and three real models); no type needs the ≤ 1 ulp allowance:
//!
//! | type | op order (ours = llama.cpp = numpy) |
//! |---|---|
//! | Q4_0, Q5_0, Q8_0, Q8_1 | `q * d` |
//! | Q4_1, Q5_1 | `q * d + m` |
//! | Q2_K, Q4_K, Q5_K | `(d * sc) * q - (dmin * m)` |
//! | Q3_K | `(d * (sc - 32)) * q` |
//! | Q6_K | `(d * sc) * q` |
//! | IQ4_NL / IQ4_XS | `d * kv` / `(d * (ls - 32)) * kv` |
//! | Q8_K | `d * q` (f32 `d`; no Python version) |
//! | F32, F16, BF16 | exact conversions |
//!
//! `tests/ggml_ref.rs` also checks dequantization of random rows of every quantized type (and
//! Q8_K) against llama.cpp's compiled `dequantize_row_*`: identical output.
//!
//! Reference quantization ([`quantize`]) of Q4_0, Q8_0, Q8_1 and Q8_K is bit-exact with
//! llama.cpp's `quantize_row_*_ref`. The vec-dot kernels ([`vec_dot`], [`VecDotKernel`]) use the
//! integer arithmetic and float accumulation order of `ggml_vec_dot_*_generic`
//! (`ggml/src/ggml-cpu/quants.c`, and the non-SIMD branches of `vec.cpp` for F32/F16/BF16:
//! f32 products summed in f64). `tests/ggml_ref.rs` checks the quantized ones bit for bit
//! against llama.cpp's C compiled with `-ffp-contract=off` (every multiply and add rounded
//! separately, as written and as Rust compiles it). A llama.cpp build that lets the C compiler
//! contract `a * b + c` into FMA, or that uses its AVX2/NEON kernels (different summation
//! order), can differ from these in the last bits. Note too that llama.cpp's x86 build
//! quantizes Q8_0/Q8_1 activations with its AVX code (`id = 127 / amax`, round half to even)
//! rather than `quantize_row_q8_0_ref` (`id = 1 / (amax / 127)`, round half away from zero); the
//! two disagree on rare ties. Q8_K activations use the reference code on every platform.
//!
//! # Kernel flavours
//! [`Isa::Scalar`] is the reference (ggml's generic C order). The x86 flavours follow
//! llama.cpp's x86 builds instead: [`Isa::Avx2`] its AVX2 build, [`Isa::Avx512`] its AVX-512
//! build, and [`Isa::Avx512Emu`] the AVX-512 build's numbers with AVX2 instructions (see the
//! `dot` module). The flavour is picked once per process ([`selected_isa`], env
//! `CHORD_ISA=scalar|avx2|avx512emu|avx512`). Kernels never allocate.

pub mod block;
mod dot;
pub mod float;
pub mod iq;
pub mod k;
pub mod legacy;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_rows8;

pub use dot::{
    kernel_name, selected_isa, vec_dot_type, Isa, VecDot4Fn, VecDotFn, VecDotKernel, VecDotRows8Fn,
    TILED_MIN_ROWS,
};

use block::{as_blocks, as_blocks_mut};
use chord_gguf::GgmlType;
use thiserror::Error;

/// What can go wrong converting or multiplying tensor data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuantError {
    /// The type has no implementation here (the model loader adds the tensor name).
    #[error("unsupported tensor type {ty}")]
    Unsupported { ty: GgmlType },
    /// Not an operation this type supports (e.g. quantizing to a weight-only format).
    #[error("{op} is not implemented for tensor type {ty}")]
    UnsupportedOp { op: &'static str, ty: GgmlType },
    /// An element count that is not a whole number of blocks.
    #[error("{n} elements is not a whole number of {ty} blocks ({block} elements each)")]
    NotBlockMultiple {
        ty: GgmlType,
        n: usize,
        block: usize,
    },
    /// A byte buffer whose length is not what `n` elements of the type occupy.
    #[error("{n} elements of {ty} take {expected} bytes, but {got} bytes were given")]
    SizeMismatch {
        ty: GgmlType,
        n: usize,
        expected: usize,
        got: usize,
    },
    /// Source and destination element counts differ.
    #[error("length mismatch: {what} has {got} elements, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A kernel flavour this CPU cannot run.
    #[error("instruction set '{isa}' is not available on this CPU")]
    IsaUnavailable { isa: &'static str },
}

/// Every weight type with a vec-dot kernel (what model files may store matrices in), in ggml id
/// order. Q8_1 and Q8_K are activation-only types and are not in this list.
pub const WEIGHT_TYPES: [GgmlType; 15] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::IQ4_NL,
    GgmlType::IQ4_XS,
];

/// Two weight rows against one activation row (decode: the activation is loaded and widened
/// once for both rows): `(n, [weight row, weight row], activation row) -> [f32; 2]`, per row
/// exactly what the flavour's [`VecDotFn`] returns. Length rules as for [`VecDotFn`], with
/// blocks beyond the shortest of the three slices ignored.
pub type VecDotRows2Fn = fn(usize, [&[u8]; 2], &[u8]) -> [f32; 2];

/// The two-row kernel of weight type `w` in flavour `isa`, where there is one (SIMD128: Q4_0,
/// Q5_0, Q8_0); otherwise rows go one by one through [`VecDotKernel::func`].
pub fn vec_dot_rows2(w: GgmlType, isa: Isa) -> Option<VecDotRows2Fn> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if isa == Isa::Simd128 {
        return simd128::lookup_rows2(w);
    }
    let _ = (w, isa);
    None
}

/// Two weight rows against four activation rows (prefill: each token's block and side data are
/// loaded once for both rows): `(n, [weight row; 2], [activation row; 4]) -> [[f32; 4]; 2]`,
/// `[row][token]`. Per (row, token) exactly what [`VecDotKernel::func4`] returns, which for the
/// types that have one is also [`VecDotKernel::func4_grouped`] and the one-token kernel, so any
/// rows and any four tokens may be grouped. Length rules as for [`VecDotFn`].
pub type VecDotRows2x4Fn = fn(usize, [&[u8]; 2], [&[u8]; 4]) -> [[f32; 4]; 2];

/// The two-row four-token kernel of weight type `w` in flavour `isa`, where there is one (x86:
/// Q5_0, Q8_0); otherwise rows go one by one through [`VecDotKernel::func4`].
pub fn vec_dot_rows2x4(w: GgmlType, isa: Isa) -> Option<VecDotRows2x4Fn> {
    #[cfg(target_arch = "x86_64")]
    {
        if !isa.is_available() {
            return None;
        }
        // The integer sums are exact, so the AVX2 kernels serve `avx512emu` bit for bit.
        match (w, isa) {
            (GgmlType::Q5_0, Isa::Avx2 | Isa::Avx512Emu) => Some(x86::avx2::q5_0_q8_0_2x4),
            (GgmlType::Q8_0, Isa::Avx2 | Isa::Avx512Emu) => Some(x86::avx2::q8_0_q8_0_2x4),
            (GgmlType::Q5_0, Isa::Avx512) => Some(x86::avx512::q5_0_q8_0_2x4),
            (GgmlType::Q8_0, Isa::Avx512) => Some(x86::avx512::q8_0_q8_0_2x4),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (w, isa);
        None
    }
}

/// Bytes of one Q5_0 block unpacked for [`TileKernels`] (x86: 32 quants and an f32 scale).
pub const Q5_0_UNPACKED: usize = 36;

/// Kernels over weight rows unpacked once per tile of rows (prefill: each tile of rows is
/// passed by every token of the batch, so unpacking it once instead of once per four tokens
/// saves most of the per-block weight work). The unpacked layout is private to the kernels.
#[derive(Clone, Copy, Debug)]
pub struct TileKernels {
    /// Bytes of one unpacked row of length `n` (a whole number of blocks).
    pub row_bytes: fn(usize) -> usize,
    /// `(n, weight row, out)`: writes the unpacked row into `out` (`row_bytes(n)` bytes; blocks
    /// beyond the shorter of the two are skipped).
    pub unpack: fn(usize, &[u8], &mut [u8]),
    /// Two unpacked rows × four activation rows, `[row][token]`: per output exactly what
    /// [`vec_dot_rows2x4`] (and [`VecDotKernel::func4`]) returns on the packed rows. Length
    /// rules as for [`VecDotFn`].
    pub dot2x4: VecDotRows2x4Fn,
}

/// The tile kernels of weight type `w` in flavour `isa`, where there are some (x86: Q5_0).
pub fn tile_kernels(w: GgmlType, isa: Isa) -> Option<TileKernels> {
    #[cfg(target_arch = "x86_64")]
    {
        if !isa.is_available() || w != GgmlType::Q5_0 {
            return None;
        }
        let row_bytes = |n: usize| n / 32 * Q5_0_UNPACKED;
        // The integer sums are exact, so the AVX2 kernels serve `avx512emu` bit for bit.
        Some(match isa {
            Isa::Avx512 => TileKernels {
                row_bytes,
                unpack: x86::avx512::unpack_q5_0_row,
                dot2x4: x86::avx512::q5_0_unpacked_2x4,
            },
            Isa::Avx2 | Isa::Avx512Emu => TileKernels {
                row_bytes,
                unpack: x86::avx2::unpack_q5_0_row,
                dot2x4: x86::avx2::q5_0_unpacked_2x4,
            },
            _ => return None,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (w, isa);
        None
    }
}

/// Whether [`dequantize`] handles `ty` (and [`vec_dot`] has a kernel for it as weights, except
/// for the activation-only types Q8_1 and Q8_K).
pub fn is_supported(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        ty,
        F32 | F16
            | BF16
            | Q4_0
            | Q4_1
            | Q5_0
            | Q5_1
            | Q8_0
            | Q8_1
            | Q2_K
            | Q3_K
            | Q4_K
            | Q5_K
            | Q6_K
            | Q8_K
            | IQ4_NL
            | IQ4_XS
    )
}

/// Bytes of `n` elements of `ty`, or an error if `n` is not a whole number of blocks.
pub fn row_bytes(ty: GgmlType, n: usize) -> Result<usize, QuantError> {
    let block = ty.block_size() as usize;
    // (not `is_multiple_of`: the workspace MSRV is 1.80)
    if n / block * block != n {
        return Err(QuantError::NotBlockMultiple { ty, n, block });
    }
    (n / block)
        .checked_mul(ty.type_size() as usize)
        .ok_or(QuantError::NotBlockMultiple { ty, n, block })
}

fn check_bytes(ty: GgmlType, n: usize, got: usize) -> Result<(), QuantError> {
    let expected = row_bytes(ty, n)?;
    if got != expected {
        return Err(QuantError::SizeMismatch {
            ty,
            n,
            expected,
            got,
        });
    }
    Ok(())
}

/// Dequantizes `src` (whole blocks of `ty`) into `dst`; `dst.len()` is the element count and
/// `src.len()` must be exactly the bytes it implies.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    if !is_supported(ty) {
        return Err(QuantError::Unsupported { ty });
    }
    check_bytes(ty, dst.len(), src.len())?;
    use GgmlType::*;
    match ty {
        F32 => float::dequantize_f32(src, dst),
        F16 => float::dequantize_f16(src, dst),
        BF16 => float::dequantize_bf16(src, dst),
        Q4_0 => legacy::dequantize_q4_0(as_blocks(src), dst),
        Q4_1 => legacy::dequantize_q4_1(as_blocks(src), dst),
        Q5_0 => legacy::dequantize_q5_0(as_blocks(src), dst),
        Q5_1 => legacy::dequantize_q5_1(as_blocks(src), dst),
        Q8_0 => legacy::dequantize_q8_0(as_blocks(src), dst),
        Q8_1 => legacy::dequantize_q8_1(as_blocks(src), dst),
        Q2_K => k::dequantize_q2_k(as_blocks(src), dst),
        Q3_K => k::dequantize_q3_k(as_blocks(src), dst),
        Q4_K => k::dequantize_q4_k(as_blocks(src), dst),
        Q5_K => k::dequantize_q5_k(as_blocks(src), dst),
        Q6_K => k::dequantize_q6_k(as_blocks(src), dst),
        Q8_K => k::dequantize_q8_k(as_blocks(src), dst),
        IQ4_NL => iq::dequantize_iq4_nl(as_blocks(src), dst),
        IQ4_XS => iq::dequantize_iq4_xs(as_blocks(src), dst),
        _ => return Err(QuantError::Unsupported { ty }),
    }
    Ok(())
}

/// Whether [`quantize`] handles `ty`: the activation formats (F32, F16, BF16, Q8_0, Q8_1, Q8_K)
/// and Q4_0.
pub fn can_quantize(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(ty, F32 | F16 | BF16 | Q4_0 | Q8_0 | Q8_1 | Q8_K)
}

/// Reference quantization of `x` into `dst` (bytes of `x.len()` elements of `ty`), bit-exact with
/// llama.cpp's `quantize_row_*_ref` (and `ggml_compute_fp32_to_{fp16,bf16}` for F16/BF16).
pub fn quantize(ty: GgmlType, x: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    if !can_quantize(ty) {
        return Err(if is_supported(ty) {
            QuantError::UnsupportedOp {
                op: "quantization",
                ty,
            }
        } else {
            QuantError::Unsupported { ty }
        });
    }
    check_bytes(ty, x.len(), dst.len())?;
    use GgmlType::*;
    match ty {
        F32 => float::quantize_f32(x, dst),
        F16 => float::quantize_f16(x, dst),
        BF16 => float::quantize_bf16(x, dst),
        Q4_0 => legacy::quantize_q4_0(x, as_blocks_mut(dst)),
        Q8_0 => legacy::quantize_q8_0(x, as_blocks_mut(dst)),
        Q8_1 => legacy::quantize_q8_1(x, as_blocks_mut(dst)),
        Q8_K => k::quantize_q8_k(x, as_blocks_mut(dst)),
        _ => return Err(QuantError::Unsupported { ty }),
    }
    Ok(())
}

/// Quantizes one f32 activation row into `dst` bytes of `act_ty`, which must be an activation
/// type (a `vec_dot_type` of some weight type: F32 copies, F16/BF16 convert, Q8_K quantizes as
/// llama.cpp's `quantize_row_q8_K_ref`, Q8_0/Q8_1 as ggml-cpu's x86 run-time routines, which
/// round ties to even with `id = 127/amax`: see `legacy::quantize_q8_0_act`).
pub fn quantize_activation(act_ty: GgmlType, x: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    use GgmlType::*;
    if !matches!(act_ty, F32 | F16 | BF16 | Q8_0 | Q8_1 | Q8_K) {
        return Err(QuantError::UnsupportedOp {
            op: "activation quantization",
            ty: act_ty,
        });
    }
    match act_ty {
        Q8_0 => {
            check_bytes(act_ty, x.len(), dst.len())?;
            legacy::quantize_q8_0_act(x, as_blocks_mut(dst));
            Ok(())
        }
        Q8_1 => {
            check_bytes(act_ty, x.len(), dst.len())?;
            legacy::quantize_q8_1_act(x, as_blocks_mut(dst));
            Ok(())
        }
        _ => quantize(act_ty, x, dst),
    }
}

/// Bytes of side data that some kernels read right after an activation row of `act_ty` and
/// length `n`, when the caller provides it (0 where no kernel uses any): the x86 Q8_0 and Q5_0
/// kernels, one and four tokens, take each block's scale as an f32 and its pair sums from there
/// instead of recomputing them for every weight row. Rows passed without it give the same bits,
/// more slowly; kernels that do not use it ignore it. Today: Q8_0 rows,
/// [`legacy::Q8_0_EXTRA`] bytes per block (in the relaxed-SIMD wasm build: its Q8_0 kernels'
/// own format, the activations split into their positive and negative parts).
pub fn act_extra_bytes(act_ty: GgmlType, n: usize) -> usize {
    // The relaxed-SIMD wasm build's Q8_0 kernels read a format of their own.
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    if act_ty == GgmlType::Q8_0 {
        return simd128::q8_0_extra_bytes(n);
    }
    match act_ty {
        GgmlType::Q8_0 => n / 32 * legacy::Q8_0_EXTRA,
        _ => 0,
    }
}

/// Writes the side data of the activation row `row` (type `act_ty`, length `n`) into `extra`,
/// which must be [`act_extra_bytes`] long.
pub fn fill_act_extra(
    act_ty: GgmlType,
    n: usize,
    row: &[u8],
    extra: &mut [u8],
) -> Result<(), QuantError> {
    check_bytes(act_ty, n, row.len())?;
    let want = act_extra_bytes(act_ty, n);
    if extra.len() != want {
        return Err(QuantError::SizeMismatch {
            ty: act_ty,
            n,
            expected: want,
            got: extra.len(),
        });
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    if act_ty == GgmlType::Q8_0 {
        simd128::fill_q8_0_extra(as_blocks(row), extra);
        return Ok(());
    }
    if act_ty == GgmlType::Q8_0 {
        legacy::fill_q8_0_extra(as_blocks(row), extra);
    }
    Ok(())
}

/// Dot product of one row of `w_ty` weights (`w_row`) with one activation row (`a_row`, of type
/// `vec_dot_type(w_ty)`), both of length `n`; checks every length. For the hot loop, look up a
/// [`VecDotKernel`] once instead.
pub fn vec_dot(w_ty: GgmlType, n: usize, w_row: &[u8], a_row: &[u8]) -> Result<f32, QuantError> {
    let kern = VecDotKernel::new(w_ty)?;
    kern.check_rows(n, w_row.len(), a_row.len())?;
    Ok(kern.dot(n, w_row, a_row))
}
