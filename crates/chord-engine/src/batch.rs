//! One forward pass over several sequences. This is a local stand-in with the signature of
//! `chord_model::Model::forward_batch` (coming from the model crate): it runs each sequence's
//! tokens through `Model::forward` in turn. The scheduler calls only [`forward_batch`], so the
//! switch to the true batched pass (weights read once per step) is this one file.

use chord_model::{Backend, KvCache, Logits, Model, Result, Scratch};

/// One sequence's share of a batched forward pass.
pub struct SeqBatch<'a> {
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
    pub logits: Logits,
}

/// Buffers of [`forward_batch`]: the model's scratch plus the concatenated logits rows.
#[derive(Default)]
pub struct BatchScratch {
    scratch: Scratch,
    out: Vec<f32>,
}

/// Runs every sequence's tokens and returns the logits rows concatenated in the order of
/// `seqs` (one row for `Logits::Last`, `tokens.len()` rows for `Logits::All`). On error no
/// cache is changed.
pub fn forward_batch<'s>(
    model: &Model,
    backend: &dyn Backend,
    seqs: &mut [SeqBatch<'_>],
    s: &'s mut BatchScratch,
) -> Result<&'s [f32]> {
    s.out.clear();
    for i in 0..seqs.len() {
        let seq = &mut seqs[i];
        match model.forward(backend, seq.cache, seq.tokens, seq.logits, &mut s.scratch) {
            Ok(rows) => s.out.extend_from_slice(rows),
            Err(e) => {
                // Undo the sequences already run: the contract is all or nothing.
                for done in &mut seqs[..i] {
                    let len = done.cache.len() - done.tokens.len();
                    done.cache.truncate(len);
                }
                return Err(e);
            }
        }
    }
    Ok(&s.out)
}
