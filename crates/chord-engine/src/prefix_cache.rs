//! Prefix-cache reuse: a new request goes to the free slot that already holds the longest prefix
//! of its prompt under the same cache key (tenant); that slot's cache is cut back to the common
//! prefix and only the rest of the prompt is computed. Without a match, the least recently used
//! free slot is taken (empty slots count as oldest), so hot prefixes survive longest.

use crate::slots::Slots;

/// Shortest prefix worth reusing. Below it the saving is a few tokens of prefill, while the
/// rest of the prompt would run as a shifted chunk: the kernels follow llama.cpp's order for a
/// chunk's length (groups of four rows, tiled from eight), so a shifted chunk can round the
/// last bits differently from the same prompt run alone. Every Gemma prompt shares its BOS; a
/// 1-token "hit" must not make a request's output depend on what ran in its slot before.
pub(crate) const MIN_REUSE: usize = 16;

/// The slot chosen for a prompt and how many of its cached tokens are kept.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    pub slot: usize,
    pub reuse: usize,
}

/// Picks a free slot for `prompt` (None when all are busy) and prepares it: the slot's cache is
/// truncated to the reused prefix and its key set to `key`.
pub(crate) fn place(slots: &mut Slots, key: &str, prompt: &[u32]) -> Option<Placement> {
    let mut best: Option<(usize, usize, u64)> = None; // (slot, reuse, last_used)
    for (i, s) in slots.slots.iter().enumerate() {
        if s.busy {
            continue;
        }
        let common = if s.key == key {
            common_prefix(&s.tokens, prompt)
        } else {
            0
        };
        // The last prompt token is always recomputed: its logits start the generation.
        let reuse = match common.min(prompt.len().saturating_sub(1)) {
            r if r >= MIN_REUSE => r,
            _ => 0,
        };
        let better = match best {
            None => true,
            Some((_, r, used)) => reuse > r || (reuse == r && s.last_used < used),
        };
        if better {
            best = Some((i, reuse, s.last_used));
        }
    }
    let (slot, reuse, _) = best?;
    let s = &mut slots.slots[slot];
    if s.key != key {
        s.truncate(0);
        s.key = key.to_string();
    }
    s.truncate(reuse);
    Some(Placement { slot, reuse })
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
