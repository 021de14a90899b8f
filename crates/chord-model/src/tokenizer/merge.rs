//! The two subword algorithms: SentencePiece-style best-score merging over characters, and
//! byte-level BPE rank merging inside pre-tokenized words. Both work on a linked list of
//! symbols (byte ranges of the input) and a priority queue of candidate pairs.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug)]
struct Sym {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
    /// BPE only: id of the symbol's text in the merge table (`NO_ID` if none).
    id: u32,
}

pub(crate) const NO_ID: u32 = u32::MAX;

/// Splits `text` into one symbol per UTF-8 character.
fn char_symbols(text: &str, mut id_of: impl FnMut(&str) -> u32) -> Vec<Sym> {
    let n = text.chars().count();
    let mut syms = Vec::with_capacity(n);
    for (i, (start, ch)) in text.char_indices().enumerate() {
        let len = ch.len_utf8();
        syms.push(Sym {
            start: start as u32,
            len: len as u32,
            prev: i as i32 - 1,
            next: if i + 1 == n { -1 } else { i as i32 + 1 },
            id: id_of(&text[start..start + len]),
        });
    }
    syms
}

fn sym_text<'t>(text: &'t str, s: &Sym) -> &'t str {
    &text[s.start as usize..(s.start + s.len) as usize]
}

/// Text of two adjacent symbols together.
fn pair_text<'t>(text: &'t str, l: &Sym, r: &Sym) -> &'t str {
    &text[l.start as usize..(l.start + l.len + r.len) as usize]
}

/// Merges `syms[right]` into `syms[left]` and unlinks it.
fn merge_into(syms: &mut [Sym], left: usize, right: usize) {
    syms[left].len += syms[right].len;
    syms[right].len = 0;
    let next = syms[right].next;
    syms[left].next = next;
    if next >= 0 {
        syms[next as usize].prev = left as i32;
    }
}

#[derive(Clone, Copy, Debug)]
struct SpmPair {
    score: f32,
    left: u32,
    right: u32,
    size: u32,
}

impl Ord for SpmPair {
    fn cmp(&self, o: &Self) -> Ordering {
        // Highest score first; on a tie, the leftmost pair.
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.left.cmp(&self.left))
    }
}
impl PartialOrd for SpmPair {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for SpmPair {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for SpmPair {}

/// SentencePiece (llama.cpp "SPM") merging: repeatedly join the adjacent pair whose joined text
/// is the highest-scoring token. `lookup` gives (id, score) of a token text. Returns the final
/// pieces in order: `Ok(id)` for a token, `Err(range)` for text no token covers (to be spelled
/// with byte tokens).
pub(crate) fn spm_merge(
    text: &str,
    lookup: impl Fn(&str) -> Option<(u32, f32)>,
    mut emit: impl FnMut(Result<u32, &str>),
) {
    if text.is_empty() {
        return;
    }
    let mut syms = char_symbols(text, |_| NO_ID);
    let mut heap = BinaryHeap::with_capacity(syms.len());
    let push = |heap: &mut BinaryHeap<SpmPair>, syms: &[Sym], l: i32, r: i32| {
        if l < 0 || r < 0 {
            return;
        }
        let (ls, rs) = (&syms[l as usize], &syms[r as usize]);
        let joined = pair_text(text, ls, rs);
        if let Some((_, score)) = lookup(joined) {
            heap.push(SpmPair {
                score,
                left: l as u32,
                right: r as u32,
                size: joined.len() as u32,
            });
        }
    };
    for i in 1..syms.len() {
        push(&mut heap, &syms, i as i32 - 1, i as i32);
    }
    while let Some(p) = heap.pop() {
        let (l, r) = (p.left as usize, p.right as usize);
        if syms[l].len == 0 || syms[r].len == 0 || syms[l].len + syms[r].len != p.size {
            continue; // stale: one side was merged away or grew
        }
        merge_into(&mut syms, l, r);
        push(&mut heap, &syms, syms[l].prev, l as i32);
        push(&mut heap, &syms, l as i32, syms[l].next);
    }
    let mut i = 0i32;
    while i >= 0 {
        let s = &syms[i as usize];
        let piece = sym_text(text, s);
        match lookup(piece) {
            Some((id, _)) => emit(Ok(id)),
            None => emit(Err(piece)),
        }
        i = s.next;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BpePair {
    rank: u32,
    left: u32,
    right: u32,
    size: u32,
}

impl Ord for BpePair {
    fn cmp(&self, o: &Self) -> Ordering {
        // Lowest rank first; on a tie, the leftmost pair.
        o.rank.cmp(&self.rank).then_with(|| o.left.cmp(&self.left))
    }
}
impl PartialOrd for BpePair {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Byte-level BPE merging of one (byte-encoded) word. `id_of` maps a text to its id in the merge
/// table (vocabulary ids, plus extra ids for merge halves that are not tokens), `rank` gives the
/// rank of merging two ids. Emits the final symbols' texts in order.
pub(crate) fn bpe_merge<'w>(
    word: &'w str,
    id_of: impl Fn(&str) -> u32,
    rank: impl Fn(u32, u32) -> Option<u32>,
    mut emit: impl FnMut(&'w str),
) {
    if word.is_empty() {
        return;
    }
    let mut syms = char_symbols(word, &id_of);
    let mut heap = BinaryHeap::with_capacity(syms.len());
    let push = |heap: &mut BinaryHeap<BpePair>, syms: &[Sym], l: i32, r: i32| {
        if l < 0 || r < 0 {
            return;
        }
        let (ls, rs) = (&syms[l as usize], &syms[r as usize]);
        if ls.id == NO_ID || rs.id == NO_ID {
            return;
        }
        if let Some(rk) = rank(ls.id, rs.id) {
            heap.push(BpePair {
                rank: rk,
                left: l as u32,
                right: r as u32,
                size: ls.len + rs.len,
            });
        }
    };
    for i in 1..syms.len() {
        push(&mut heap, &syms, i as i32 - 1, i as i32);
    }
    while let Some(p) = heap.pop() {
        let (l, r) = (p.left as usize, p.right as usize);
        if syms[l].len == 0 || syms[r].len == 0 || syms[l].len + syms[r].len != p.size {
            continue;
        }
        merge_into(&mut syms, l, r);
        syms[l].id = id_of(sym_text(word, &syms[l]));
        push(&mut heap, &syms, syms[l].prev, l as i32);
        push(&mut heap, &syms, l as i32, syms[l].next);
    }
    let mut i = 0i32;
    while i >= 0 {
        let s = &syms[i as usize];
        emit(sym_text(word, s));
        i = s.next;
    }
}
