//! Layer streaming (the design for models larger than memory; not yet used by the forward pass).
//!
//! Weights stay in a random-access source (a file, HTTP Range requests, `Blob.slice`) and a
//! bounded cache holds the transformer layers being computed: [`LayerCache::get`] returns one
//! layer's tensors (loading it, evicting the least recently used layers to stay within the byte
//! budget), [`LayerCache::prefetch`] loads the next layers ahead without ever evicting the one in
//! use. Decoding visits layers 0..n in order once per token, so a budget of k layers gives hits
//! for the prefetched ones and a miss per layer beyond the budget per token; [`CacheStats`]
//! measures it.
//!
//! What the forward pass needs to use it (`forward.rs` is being reworked, so this stays apart):
//! 1. read weights through a store (`fn layer(&mut self, i) -> LayerView`, plus the embedding
//!    rows of the batch's token ids and the LM head as its own "layer") instead of slicing
//!    `ModelFile::bytes()` directly; the in-memory file is the store whose every layer is
//!    resident;
//! 2. a resumable pass (`begin(tokens)`, `run_layer(i)`, `finish()`), so that in a browser the JS
//!    side can `await` a layer's Range reads between layers (wasm cannot block on a promise),
//!    and natively a thread can prefetch layer i+1 while layer i computes;
//! 3. the norms/biases (small) loaded once at start, as today.

use chord_gguf::{Header, RangeSource};
use std::ops::Range;

/// The tensors of one layer: names and absolute byte ranges in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSpan {
    pub tensors: Vec<(String, Range<u64>)>,
}

impl LayerSpan {
    /// Bytes the layer occupies when resident.
    pub fn bytes(&self) -> u64 {
        self.tensors.iter().map(|(_, r)| r.end - r.start).sum()
    }
}

/// Groups the file's `blk.{i}.*` tensors by layer `i` (0..n_layer), in file order.
pub fn plan_layers(header: &Header, n_layer: usize) -> Result<Vec<LayerSpan>, LayerCacheError> {
    let mut layers = vec![
        LayerSpan {
            tensors: Vec::new()
        };
        n_layer
    ];
    for t in &header.tensors {
        let Some(rest) = t.name.strip_prefix("blk.") else {
            continue;
        };
        let idx = rest.split('.').next().and_then(|s| s.parse::<usize>().ok());
        match idx {
            Some(i) if i < n_layer => layers[i]
                .tensors
                .push((t.name.clone(), header.tensor_range(t))),
            _ => {
                return Err(LayerCacheError::NotALayer {
                    name: t.name.clone(),
                    n_layer,
                })
            }
        }
    }
    Ok(layers)
}

/// What the cache did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// `get` found the layer resident (loaded earlier or prefetched).
    pub hits: u64,
    /// `get` had to read the layer.
    pub misses: u64,
    /// Layers loaded by `prefetch`.
    pub prefetched: u64,
    pub evictions: u64,
    pub bytes_read: u64,
}

impl CacheStats {
    pub fn hit_rate(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerCacheError {
    #[error("tensor {name} is not in a layer 0..{n_layer}")]
    NotALayer { name: String, n_layer: usize },
    #[error("layer {layer} takes {bytes} bytes, more than the cache budget of {budget}")]
    LayerTooLarge {
        layer: usize,
        bytes: u64,
        budget: u64,
    },
    #[error("no layer {layer} (the model has {n_layer})")]
    NoSuchLayer { layer: usize, n_layer: usize },
    #[error("reading layer {layer}: {source}")]
    Io {
        layer: usize,
        source: std::io::Error,
    },
}

struct Resident {
    bytes: Vec<u8>,
    last_use: u64,
}

/// One resident layer: its tensors' bytes by name.
pub struct LayerView<'a> {
    span: &'a LayerSpan,
    bytes: &'a [u8],
}

impl<'a> LayerView<'a> {
    /// The bytes of tensor `name` of this layer.
    pub fn tensor(&self, name: &str) -> Option<&'a [u8]> {
        let mut at = 0usize;
        for (n, r) in &self.span.tensors {
            let len = (r.end - r.start) as usize;
            if n == name {
                return self.bytes.get(at..at + len);
            }
            at += len;
        }
        None
    }
}

/// A bounded LRU cache of layers over a random-access source.
pub struct LayerCache<S: RangeSource> {
    src: S,
    layers: Vec<LayerSpan>,
    budget: u64,
    resident: Vec<Option<Resident>>,
    used: u64,
    tick: u64,
    /// The layer returned by the last `get`: prefetching never evicts it.
    current: Option<usize>,
    stats: CacheStats,
}

impl<S: RangeSource> LayerCache<S> {
    /// A cache of at most `budget` bytes of layers; every layer must fit on its own.
    pub fn new(src: S, layers: Vec<LayerSpan>, budget: u64) -> Result<Self, LayerCacheError> {
        for (i, l) in layers.iter().enumerate() {
            if l.bytes() > budget {
                return Err(LayerCacheError::LayerTooLarge {
                    layer: i,
                    bytes: l.bytes(),
                    budget,
                });
            }
        }
        let n = layers.len();
        Ok(Self {
            src,
            layers,
            budget,
            resident: (0..n).map(|_| None).collect(),
            used: 0,
            tick: 0,
            current: None,
            stats: CacheStats::default(),
        })
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }
    /// Bytes of the resident layers (never above the budget).
    pub fn resident_bytes(&self) -> u64 {
        self.used
    }

    /// Layer `i`, read from the source if it is not resident.
    pub fn get(&mut self, i: usize) -> Result<LayerView<'_>, LayerCacheError> {
        self.check(i)?;
        self.tick += 1;
        if self.resident[i].is_some() {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
            self.load(i, None)?;
        }
        self.current = Some(i);
        let tick = self.tick;
        let r = self.resident[i]
            .as_mut()
            .ok_or(LayerCacheError::NoSuchLayer {
                layer: i,
                n_layer: self.layers.len(),
            })?;
        r.last_use = tick;
        Ok(LayerView {
            span: &self.layers[i],
            bytes: &r.bytes,
        })
    }

    /// Loads layer `i` ahead of use if it can be made to fit without evicting the current
    /// layer; returns whether it is now resident.
    pub fn prefetch(&mut self, i: usize) -> Result<bool, LayerCacheError> {
        self.check(i)?;
        if self.resident[i].is_some() {
            return Ok(true);
        }
        let keep = self.current;
        let keep_bytes = keep.map_or(0, |k| self.layers[k].bytes());
        if keep_bytes + self.layers[i].bytes() > self.budget {
            return Ok(false);
        }
        self.load(i, keep)?;
        self.stats.prefetched += 1;
        // Prefetched layers count as just used: they are needed soon.
        self.tick += 1;
        if let Some(r) = self.resident[i].as_mut() {
            r.last_use = self.tick;
        }
        Ok(true)
    }

    fn check(&self, i: usize) -> Result<(), LayerCacheError> {
        if i >= self.layers.len() {
            return Err(LayerCacheError::NoSuchLayer {
                layer: i,
                n_layer: self.layers.len(),
            });
        }
        Ok(())
    }

    /// Evicts least recently used layers (never `keep`) until layer `i` fits, then reads it.
    fn load(&mut self, i: usize, keep: Option<usize>) -> Result<(), LayerCacheError> {
        let need = self.layers[i].bytes();
        while self.used + need > self.budget {
            let victim = (0..self.layers.len())
                .filter(|&j| Some(j) != keep)
                .filter_map(|j| self.resident[j].as_ref().map(|r| (r.last_use, j)))
                .min()
                .map(|(_, j)| j);
            let Some(v) = victim else { break };
            self.resident[v] = None;
            self.used -= self.layers[v].bytes();
            self.stats.evictions += 1;
        }
        let mut bytes = vec![0u8; need as usize];
        let mut at = 0usize;
        for (_, r) in &self.layers[i].tensors {
            let len = (r.end - r.start) as usize;
            self.src
                .read_at(r.start, &mut bytes[at..at + len])
                .map_err(|source| LayerCacheError::Io { layer: i, source })?;
            at += len;
        }
        self.stats.bytes_read += need;
        self.used += need;
        self.resident[i] = Some(Resident {
            bytes,
            last_use: self.tick,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Counting {
        data: Vec<u8>,
        reads: Cell<u64>,
        fail_at: Option<u64>,
    }
    impl RangeSource for Counting {
        fn len(&self) -> u64 {
            self.data.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            if self.fail_at == Some(offset) {
                return Err(std::io::Error::other("network down"));
            }
            self.reads.set(self.reads.get() + buf.len() as u64);
            self.data.as_slice().read_at(offset, buf)
        }
    }

    /// 6 layers of two tensors (100 and 50 bytes), bytes = position mod 251.
    fn setup(fail_at: Option<u64>) -> (Counting, Vec<LayerSpan>) {
        let data: Vec<u8> = (0..900u32).map(|i| (i % 251) as u8).collect();
        let layers = (0..6u64)
            .map(|i| LayerSpan {
                tensors: vec![
                    ("a".into(), i * 150..i * 150 + 100),
                    ("b".into(), i * 150 + 100..i * 150 + 150),
                ],
            })
            .collect();
        let src = Counting {
            data,
            reads: Cell::new(0),
            fail_at,
        };
        (src, layers)
    }

    #[test]
    fn layers_read_back_exactly_within_the_budget() {
        let (src, layers) = setup(None);
        let mut c = LayerCache::new(&src, layers, 320).unwrap();
        for _token in 0..3 {
            for i in 0..6 {
                let l = c.get(i).unwrap();
                let a = l.tensor("a").unwrap();
                let b = l.tensor("b").unwrap();
                assert_eq!(a.len(), 100);
                assert_eq!(b.len(), 50);
                let base = i as u32 * 150;
                assert!(a
                    .iter()
                    .enumerate()
                    .all(|(k, &v)| v == ((base + k as u32) % 251) as u8));
                assert_eq!(b[0], ((base + 100) % 251) as u8);
                assert!(l.tensor("c").is_none());
                if i + 1 < 6 {
                    c.prefetch(i + 1).unwrap();
                }
                assert!(c.resident_bytes() <= 320);
            }
        }
        let s = c.stats();
        // Two layers fit: every get after the first is a prefetched hit.
        assert_eq!(s.misses, 3, "{s:?}");
        assert_eq!(s.hits, 15);
        assert_eq!(s.bytes_read, src.reads.get());
        assert!(s.hit_rate() > 0.8);
    }

    #[test]
    fn lru_keeps_the_recent_layers_and_errors_are_typed() {
        let (src, layers) = setup(None);
        let mut c = LayerCache::new(&src, layers.clone(), 450).unwrap(); // three layers
        for i in [0, 1, 2, 0, 3] {
            c.get(i).unwrap();
        }
        // 1 was least recently used when 3 came in.
        let before = c.stats().misses;
        c.get(0).unwrap();
        c.get(2).unwrap();
        assert_eq!(c.stats().misses, before);
        c.get(1).unwrap();
        assert_eq!(c.stats().misses, before + 1);
        assert!(matches!(
            c.get(6),
            Err(LayerCacheError::NoSuchLayer { layer: 6, .. })
        ));
        assert!(matches!(
            LayerCache::new(&src, layers.clone(), 100),
            Err(LayerCacheError::LayerTooLarge { layer: 0, .. })
        ));
        // Prefetch never evicts the layer in use.
        let mut c = LayerCache::new(&src, layers.clone(), 150).unwrap();
        c.get(0).unwrap();
        assert!(!c.prefetch(1).unwrap());
        assert!(c.get(0).is_ok());
        assert_eq!(c.stats().misses, 1);

        let (bad, layers) = setup(Some(300));
        let mut c = LayerCache::new(&bad, layers, 300).unwrap();
        assert!(c.get(1).is_ok());
        let e = c.get(2).err().expect("read error");
        assert!(matches!(e, LayerCacheError::Io { layer: 2, .. }), "{e}");
        assert!(e.to_string().contains("network down"));
        assert!(c.get(1).is_ok(), "usable after an error");
    }
}
