//! Activation quantization on the device: the weight type's dot partner (Q8_0, Q8_K or F16,
//! as `chord_quant::vec_dot_type` pairs them) written by a kernel whose bytes equal
//! `chord_quant::quantize_activation`'s, so a product fed from the device quantizer has the
//! bits of one fed from the host's. The kernels are `wgsl/quant_{q8_0,q8_k,f16}.wgsl`;
//! a device step (`step.rs`) records them before its products through [`QuantKernel`] (the
//! pipeline's name, source and dispatch size), and [`GpuBackend::quantize_activation`] runs
//! one on host data (their test). The per-op path still quantizes on the host.

use crate::backend::{GpuBackend, WG};
use crate::error::{GpuError, Result};
use crate::kernels;
use chord_gguf::GgmlType;

/// A quantizer kernel: its pipeline name and source, and the workgroups for `n` values.
#[derive(Clone, Copy, Debug)]
pub struct QuantKernel {
    pub name: &'static str,
    pub source: &'static str,
    /// Values one invocation handles (two Q8_0 blocks: they are not word-aligned).
    per_invocation: usize,
    /// Values per block (1 for F16): `n` must be a multiple.
    block: usize,
}

impl QuantKernel {
    /// The quantizer into `ty`, if there is one on the device.
    pub fn for_type(ty: GgmlType) -> Option<QuantKernel> {
        let (name, source, per_invocation, block) = match ty {
            GgmlType::Q8_0 => ("quant_q8_0", kernels::QUANT_Q8_0, 64, 32),
            GgmlType::Q8_K => ("quant_q8_k", kernels::QUANT_Q8_K, 256, 256),
            GgmlType::F16 => ("quant_f16", kernels::QUANT_F16, 2, 1),
            _ => return None,
        };
        Some(QuantKernel {
            name,
            source,
            per_invocation,
            block,
        })
    }

    /// The uniform block of `n` values: blocks (or values, for F16), then padding.
    pub fn params(&self, n: usize) -> [u32; 4] {
        [(n / self.block) as u32, 0, 0, 0]
    }

    /// Workgroups for `n` values.
    pub fn groups(&self, n: usize) -> usize {
        n.div_ceil(self.per_invocation).div_ceil(WG)
    }

    /// Whether `n` values quantize (whole blocks).
    pub fn fits(&self, n: usize) -> bool {
        n.is_multiple_of(self.block)
    }
}

impl GpuBackend {
    /// `x` quantized into `ty` on the device: the bytes of
    /// `chord_quant::quantize_activation(ty, x, ..)`.
    pub fn quantize_activation(&self, ty: GgmlType, x: &[f32]) -> Result<Vec<u8>> {
        let k = QuantKernel::for_type(ty).ok_or_else(|| GpuError::Unsupported {
            name: "activation quantization".into(),
            ty,
        })?;
        if !k.fits(x.len()) {
            return Err(GpuError::Shape(format!(
                "quantize {ty}: {} values are not whole blocks",
                x.len()
            )));
        }
        let len = chord_quant::row_bytes(ty, x.len())
            .map_err(|e| GpuError::Shape(format!("quantize {ty}: {e}")))?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut words = vec![0f32; len.div_ceil(4)];
        self.run_simple(
            k.name,
            k.source,
            &[x],
            &k.params(x.len()),
            k.groups(x.len()),
            &mut words,
        )?;
        let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        bytes.truncate(len);
        Ok(bytes)
    }
}
