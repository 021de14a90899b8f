//! Fast lookups built once per vocabulary: text → id without copying the texts, and a small
//! non-cryptographic hasher for the integer-keyed maps.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style hasher (rustc's): fast on short keys, fine for non-adversarial vocabularies.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            self.add(u64::from_le_bytes(a));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut a = [0u8; 8];
            a[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(a) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    // Final avalanche so the low bits used for slot selection depend on every input bit.
    let mut x = h.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// Open-addressing map from text to id whose keys live in the caller's `texts` (no copies).
/// Each slot keeps the id and 32 bits of the text's hash, so probing rarely touches the texts.
pub(crate) struct IdTable {
    slots: Vec<(u32, u32)>,
    mask: usize,
    len: usize,
}

const EMPTY: u32 = u32::MAX;

impl IdTable {
    /// Indexes `texts` (id = position). A text that appears twice maps to its last id.
    pub(crate) fn build(texts: &[String]) -> Self {
        let mut t = IdTable::with_capacity(texts.len());
        for (id, s) in texts.iter().enumerate() {
            t.insert(texts, s, id as u32);
        }
        t
    }

    fn with_capacity(n: usize) -> Self {
        let cap = (n.max(4) * 2).next_power_of_two();
        IdTable {
            slots: vec![(EMPTY, 0); cap],
            mask: cap - 1,
            len: 0,
        }
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let cap = old.len() * 2;
        self.slots = vec![(EMPTY, 0); cap];
        self.mask = cap - 1;
        for (id, h) in old.into_iter().filter(|s| s.0 != EMPTY) {
            let mut i = Self::home(h, self.mask);
            while self.slots[i].0 != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = (id, h);
        }
    }

    #[inline]
    fn home(h: u32, mask: usize) -> usize {
        // The hash is already mixed; tables are far smaller than 2^32 slots.
        h as usize & mask
    }

    /// Maps `text` (which must be `texts[id]`) to `id`, replacing an earlier id of the same text.
    pub(crate) fn insert(&mut self, texts: &[String], text: &str, id: u32) {
        let h = hash_str(text) as u32;
        let mut i = Self::home(h, self.mask);
        loop {
            let (cur, ch) = self.slots[i];
            if cur == EMPTY {
                self.slots[i] = (id, h);
                self.len += 1;
                break;
            }
            if ch == h && texts[cur as usize] == text {
                self.slots[i] = (id, h);
                return;
            }
            i = (i + 1) & self.mask;
        }
        // Keep the load factor at or below 1/2.
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
    }

    #[inline]
    pub(crate) fn get(&self, texts: &[String], text: &str) -> Option<u32> {
        let h = hash_str(text) as u32;
        let mut i = Self::home(h, self.mask);
        loop {
            let (cur, ch) = self.slots[i];
            if cur == EMPTY {
                return None;
            }
            if ch == h && texts[cur as usize] == text {
                return Some(cur);
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_growth() {
        let mut texts: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
        texts.push("t5".into()); // duplicate: the last id wins
        let mut t = IdTable::build(&texts);
        assert_eq!(t.get(&texts, "t0"), Some(0));
        assert_eq!(t.get(&texts, "t999"), Some(999));
        assert_eq!(t.get(&texts, "t5"), Some(1000));
        assert_eq!(t.get(&texts, "nope"), None);
        for i in 0..5000 {
            let s = format!("x{i}");
            texts.push(s.clone());
            t.insert(&texts, &s, texts.len() as u32 - 1);
        }
        assert_eq!(t.get(&texts, "x4999"), Some(texts.len() as u32 - 1));
        assert_eq!(t.get(&texts, "t999"), Some(999));
    }
}
