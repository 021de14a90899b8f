//! The forward pass as a sequence of operations on activation slots ([`Step`]), so one
//! description of the graph (`forward.rs`) drives both the host, where each op runs at once on
//! `Scratch` vectors (`host_step.rs`, today's code cut into methods, monomorphized so nothing
//! changes in speed or bits), and a device backend, which records every op into one command
//! submission and keeps the activations and KV cache resident (see ARCHITECTURE.md, "Resident
//! activations: the Step seam").
//!
//! A step knows its batch (the sequences, their positions and caches) from when it was made;
//! it tracks how many rows the residual stream carries (every token until
//! [`Step::keep_logit_rows`], then only the rows whose logits are wanted).

use crate::backend::MatRef;
use crate::config::{Activation, Config};
use crate::error::Result;
use crate::profile::Profile;

/// An activation buffer of the forward pass. Widths (floats per row): `X`, `Xn`, `Proj`:
/// `n_embd`; `Q`, `Att`: `n_head · head_dim`; `K`, `V`: `n_head_kv · head_dim`; `Gate`, `Up`:
/// `n_ff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    /// The residual stream.
    X,
    /// A normalized copy of `X`, the input of the matrix products.
    Xn,
    Q,
    K,
    V,
    /// Attention output.
    Att,
    /// Output of the attention and FFN projections, before the residual add.
    Proj,
    Gate,
    Up,
}

impl Act {
    /// Floats per row of this slot for the model `c` (every step implementation sizes its
    /// slots and ops by it).
    pub fn width(self, c: &Config) -> usize {
        match self {
            Act::X | Act::Xn | Act::Proj => c.n_embd,
            Act::Q | Act::Att => c.q_dim(),
            Act::K | Act::V => c.kv_dim(),
            Act::Gate | Act::Up => c.n_ff,
        }
    }
}

/// The operations of one forward step over activation slots. Every op acts on the step's
/// current rows. An op that fails leaves the caches unchanged (the step only commits the new
/// positions after the whole pass, in the caller).
pub trait Step {
    /// Timing per op kind, when profiling (only a host step times its ops).
    fn profile(&mut self) -> &mut Option<Profile>;

    /// `X` = the token embeddings of the batch, times `scale` (Gemma) when it is not 1.
    fn embed(&mut self, scale: f32) -> Result<()>;

    /// `dst = rms_norm(src) · w` per row (`w.len()` = the slots' width); `dst` may be `src`.
    fn rms_norm(&mut self, src: Act, w: &[f32], eps: f32, dst: Act);

    /// RMSNorm in place of every `w.len()`-long piece of the slot's rows (per-head q/k norms,
    /// Gemma's post-norms).
    fn rms_norm_pieces(&mut self, slot: Act, w: &[f32], eps: f32);

    /// `dsts[i] = ws[i] · src` (one to three matrices of one input), grouped per sequence as
    /// [`crate::Backend::matmul_multi_grouped`].
    fn matmul(&mut self, ws: &[MatRef<'_>], src: Act, dsts: &[Act]) -> Result<()>;

    /// `slot[row] += b` for every row.
    fn add_bias(&mut self, slot: Act, b: &[f32]);

    /// RoPE on `Q` and `K` with base `base` (table `table`: 0 for the global base, 1 for the
    /// sliding-window layers' base; the cos/sin rows of a table are built once per step).
    fn rope(&mut self, table: usize, base: f32, neox: bool);

    /// `slot *= f` element-wise.
    fn scale(&mut self, slot: Act, f: f32);

    /// Appends `K`/`V` to each sequence's cache at layer `layer` and runs attention of `Q`
    /// against it into `Att` (`window` 0 = none).
    fn attention(&mut self, layer: usize, window: usize) -> Result<()>;

    /// From now on carry only the rows whose logits are wanted (`X` and `Proj` gathered), as
    /// llama.cpp's `inp_out_ids` after the last layer's attention.
    fn keep_logit_rows(&mut self);

    /// `dst += src` element-wise.
    fn add(&mut self, dst: Act, src: Act);

    /// `Gate = act(Gate) · Up`.
    fn glu(&mut self, act: Activation);

    /// Logits of the current rows: `lm_head · Xn`, then `tanh(l / cap) · cap` when `cap > 0`.
    fn logits(&mut self, softcap: f32) -> Result<()>;

    /// Writes the slot's rows for `CHORD_DUMP_DIR` (see `debug_dump.rs`); a no-op elsewhere.
    fn dump(&mut self, _name: &str, _layer: usize, _slot: Act) {}
}
