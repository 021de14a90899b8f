//! Which attention kernel a call runs: `attention.wgsl` (one invocation per token × head, each
//! reading the K/V rows itself) for decode, `attention_flash.wgsl` (a workgroup per block of
//! tokens × KV head, each K/V chunk read once into workgroup memory) for prefill. Both have the
//! scalar CPU's bits, so the choice is only about speed.

use crate::backend::WG;
use crate::kernels;
use chord_model::AttentionShape;

/// Calls with at least this many tokens take the flash kernel (a single token has nobody to
/// share its K/V reads with).
pub const FLASH_MIN_TOKENS: usize = 2;

/// An attention kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionKernel {
    /// One invocation per (token, head): `attention.wgsl`.
    PerRow,
    /// A workgroup per (block of tokens, KV head) sharing its K/V chunks: `attention_flash.wgsl`.
    Flash,
}

impl AttentionKernel {
    /// The kernel for a call of this shape (the shape already passed `check_attention`) on an
    /// adapter that is (`cpu_adapter`) or is not a CPU emulation. On a CPU adapter (lavapipe,
    /// SwiftShader) the per-row kernel stays: its K/V re-reads hit the CPU's caches, and the
    /// flash kernel's barriers and idle invocations made Gemma 3 270M's 96- and 128-token
    /// prefills slower there (BENCHMARKS.md); the shared reads are what pays on a real GPU.
    pub fn for_shape(sh: &AttentionShape, cpu_adapter: bool) -> Self {
        if !cpu_adapter && sh.n_tokens >= FLASH_MIN_TOKENS && Self::Flash.fits(sh) {
            Self::Flash
        } else {
            Self::PerRow
        }
    }

    /// Whether this kernel can run the shape: the flash kernel puts a KV head's whole group of
    /// query heads in one workgroup of 64, and its grid must stay within 65535 per dimension.
    pub fn fits(self, sh: &AttentionShape) -> bool {
        let (x, y) = self.groups(sh);
        x <= 65535 && y <= 65535 && (self == Self::PerRow || sh.n_head / sh.n_head_kv <= WG)
    }

    /// Pipeline name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::PerRow => "attention",
            Self::Flash => "attention_flash",
        }
    }

    /// WGSL source.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Self::PerRow => kernels::ATTENTION,
            Self::Flash => kernels::ATTENTION_FLASH,
        }
    }

    /// Workgroups to dispatch (x, y).
    pub(crate) fn groups(self, sh: &AttentionShape) -> (usize, usize) {
        match self {
            Self::PerRow => ((sh.n_tokens * sh.n_head).div_ceil(WG), 1),
            Self::Flash => {
                let group = (sh.n_head / sh.n_head_kv.max(1)).max(1);
                let tokens_per_group = (WG / group).max(1);
                (sh.n_tokens.div_ceil(tokens_per_group), sh.n_head_kv)
            }
        }
    }
}
