//! Weights, read in place. A [`ModelFile`] owns the file bytes (a memory map natively, an owned
//! buffer in wasm) or streams them from a random-access source through a bounded cache (see
//! [`crate::stream`]); each weight matrix is a [`TensorRef`]: its type, shape and byte range in
//! that file. Matrices stay in their quantized format and are never copied out of a resident
//! file; only the small 1-D tensors (norm weights, biases) are converted to f32 at load.

use crate::backend::MatRef;
use crate::config::Config;
use crate::error::{ModelError, Result};
use crate::stream::{Plan, SharedSource, Store, StreamOptions, StreamStats, Unit};
use chord_gguf::{GgmlType, Header, TensorInfo};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The bytes of a GGUF model file and its parsed header.
pub struct ModelFile {
    header: Header,
    storage: Storage,
}

enum Storage {
    #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
    Mmap(chord_gguf::GgufMmap),
    Owned(Vec<u8>),
    Stream(Box<Streamed>),
}

/// A file behind a source; the store exists once the weights are known (`Model::load`).
struct Streamed {
    src: SharedSource,
    opts: StreamOptions,
    store: OnceLock<Store>,
    /// Bytes read outside the store's units (vectors at load, embedding rows).
    other_bytes: Arc<AtomicU64>,
}

impl ModelFile {
    /// Memory-maps a file (zero-copy).
    #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let map = chord_gguf::GgufMmap::open(path)?;
        let header = map.header().clone();
        Ok(Self {
            header,
            storage: Storage::Mmap(map),
        })
    }
    /// Takes ownership of a whole file already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let header = chord_gguf::Header::parse(bytes.as_slice())?;
        Ok(Self {
            header,
            storage: Storage::Owned(bytes),
        })
    }
    /// Reads the header from `src` and leaves the tensors there: the weights are read through a
    /// cache of at most `opts.budget` bytes as the forward pass needs them (layer streaming).
    /// The budget is checked against the model's units by `Model::load`.
    pub fn stream(src: SharedSource, opts: StreamOptions) -> Result<Self> {
        let header = chord_gguf::Header::parse(&*src)?;
        Ok(Self {
            header,
            storage: Storage::Stream(Box::new(Streamed {
                src,
                opts,
                store: OnceLock::new(),
                other_bytes: Arc::new(AtomicU64::new(0)),
            })),
        })
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        match &self.storage {
            #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
            Storage::Mmap(m) => m.bytes().len() as u64,
            Storage::Owned(v) => v.len() as u64,
            Storage::Stream(s) => s.src.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The whole file, if it is resident (not streamed).
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.storage {
            #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
            Storage::Mmap(m) => Some(m.bytes()),
            Storage::Owned(v) => Some(v),
            Storage::Stream(_) => None,
        }
    }
    pub fn is_streamed(&self) -> bool {
        matches!(self.storage, Storage::Stream(_))
    }
    /// What the layer cache did, for a streamed file.
    pub fn stream_stats(&self) -> Option<StreamStats> {
        match &self.storage {
            Storage::Stream(s) => Some(match s.store.get() {
                Some(store) => store.stats(),
                None => StreamStats {
                    budget: s.opts.budget,
                    bytes_read: s.other_bytes.load(Ordering::Relaxed),
                    ..StreamStats::default()
                },
            }),
            _ => None,
        }
    }
    /// A weight matrix of a resident file (a streamed one has its matrices in [`Self::layer`]).
    pub fn mat<'a>(&'a self, t: &'a TensorRef) -> Result<MatRef<'a>> {
        let bytes = self
            .bytes()
            .ok_or_else(|| ModelError::NotResident(t.name.clone()))?;
        Ok(MatRef {
            name: &t.name,
            ty: t.ty,
            rows: t.rows,
            cols: t.cols,
            data: &bytes[t.range.clone()],
        })
    }

    /// Plans a streamed file's units from its weights (checking each fits the budget) and starts
    /// its store; nothing for a resident file.
    pub(crate) fn start_streaming(&self, w: &Weights) -> Result<()> {
        if let Storage::Stream(s) = &self.storage {
            if s.store.get().is_none() {
                let plan = Plan::new(w, s.opts.budget)?;
                let store = Store::new(
                    Arc::clone(&s.src),
                    plan,
                    s.opts.budget,
                    s.opts.prefetch,
                    Arc::clone(&s.other_bytes),
                );
                // Only `Model::load` calls this, once per file.
                let _ = s.store.set(store);
            }
        }
        Ok(())
    }

    fn store(&self) -> Option<Result<&Store>> {
        match &self.storage {
            Storage::Stream(s) => Some(s.store.get().ok_or_else(|| {
                ModelError::Backend("streamed file used before Model::load".into())
            })),
            _ => None,
        }
    }

    /// The weights of transformer layer `il`: the whole file if resident, else the layer's unit
    /// (read now if it is not in the cache).
    pub fn layer(&self, il: usize) -> Result<WeightView<'_>> {
        match self.store() {
            None => self.resident_view(),
            Some(store) => {
                let store = store?;
                let p = store.plan();
                if il >= p.n_layer {
                    return Err(ModelError::Backend(format!("no layer {il}")));
                }
                Ok(WeightView(View::Unit {
                    unit: &p.units[il],
                    data: store.get(il)?,
                }))
            }
        }
    }

    /// How the LM head is read: `None` whole (resident file), else `(chunks, rows per chunk)`.
    pub fn head_chunks(&self) -> Result<Option<(usize, usize)>> {
        match self.store() {
            None => Ok(None),
            Some(store) => {
                let p = store?.plan();
                Ok(Some((p.head_chunks(), p.head_rows)))
            }
        }
    }

    /// LM-head chunk `c` of a streamed file (see [`Self::head_chunks`]).
    pub fn head_chunk(&self, c: usize) -> Result<WeightView<'_>> {
        match self.store() {
            None => self.resident_view(),
            Some(store) => {
                let store = store?;
                let u = store.plan().n_layer + c;
                let unit = store
                    .plan()
                    .units
                    .get(u)
                    .ok_or_else(|| ModelError::Backend(format!("no LM-head chunk {c}")))?;
                Ok(WeightView(View::Unit {
                    unit,
                    data: store.get(u)?,
                }))
            }
        }
    }

    fn resident_view(&self) -> Result<WeightView<'_>> {
        self.bytes()
            .map(|b| WeightView(View::File(b)))
            .ok_or_else(|| ModelError::Backend("file is neither resident nor streamed".into()))
    }

    /// The file bytes `r` (validated against the file by the header): borrowed from a resident
    /// file, read from a streamed one.
    pub fn read(&self, what: &str, r: Range<u64>) -> Result<Cow<'_, [u8]>> {
        match &self.storage {
            Storage::Stream(s) => {
                let mut buf = vec![0u8; (r.end - r.start) as usize];
                s.src
                    .read_at(r.start, &mut buf)
                    .map_err(|source| ModelError::StreamRead {
                        what: what.to_string(),
                        source,
                    })?;
                s.other_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                Ok(Cow::Owned(buf))
            }
            _ => self
                .bytes()
                .and_then(|b| b.get(r.start as usize..r.end as usize))
                .map(Cow::Borrowed)
                .ok_or_else(|| ModelError::Backend(format!("{what}: range beyond the file"))),
        }
    }
}

/// Weight bytes the forward pass computes with for a while: the whole resident file, or one
/// unit of a streamed one (kept alive while the view lives, even if the cache evicts it).
pub struct WeightView<'a>(View<'a>);

enum View<'a> {
    File(&'a [u8]),
    Unit { unit: &'a Unit, data: Arc<Vec<u8>> },
}

impl WeightView<'_> {
    /// The bytes at file range `r` (which must lie in this view: a tensor of its layer).
    pub fn slice(&self, what: &str, r: &Range<usize>) -> Result<&[u8]> {
        let found = match &self.0 {
            View::File(b) => b.get(r.clone()),
            View::Unit { unit, data } => unit.locate(r).and_then(|at| data.get(at)),
        };
        found.ok_or_else(|| ModelError::Backend(format!("{what}: not in the weights read")))
    }
    /// Matrix `t`, in place.
    pub fn mat<'b>(&'b self, t: &'b TensorRef) -> Result<MatRef<'b>> {
        Ok(MatRef {
            name: &t.name,
            ty: t.ty,
            rows: t.rows,
            cols: t.cols,
            data: self.slice(&t.name, &t.range)?,
        })
    }
}
/// A 2-D weight matrix in the file: `rows` outputs of `cols` inputs each (ggml dims [cols, rows]).
#[derive(Clone, Debug)]
pub struct TensorRef {
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub range: Range<usize>,
}

impl TensorRef {
    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.range.len() / self.rows.max(1)
    }
}

/// One transformer block's weights.
pub struct LayerWeights {
    pub attn_norm: Vec<f32>,
    pub wq: TensorRef,
    pub wk: TensorRef,
    pub wv: TensorRef,
    pub wo: TensorRef,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: TensorRef,
    pub up: TensorRef,
    pub down: TensorRef,
    pub post_ffn_norm: Option<Vec<f32>>,
}

pub struct Weights {
    pub tok_embd: TensorRef,
    pub output_norm: Vec<f32>,
    /// The LM head; the token embedding itself when the model ties them.
    pub output: TensorRef,
    /// Per-frequency RoPE divisors (Llama 3.1 `rope_freqs.weight`), if present.
    pub rope_freqs: Option<Vec<f32>>,
    pub layers: Vec<LayerWeights>,
}

impl Weights {
    /// Weight bytes one decoded token reads: every block matrix, the LM head, and one row of
    /// the token embedding (norm vectors are negligible and not counted).
    pub fn bytes_per_token(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]
                    .iter()
                    .map(|t| t.range.len())
                    .sum::<usize>()
            })
            .sum();
        layers + self.output.range.len() + self.tok_embd.row_bytes()
    }

    /// Finds and checks every tensor the config needs: present, of the expected shape, of a type
    /// we can compute with.
    pub fn load(file: &ModelFile, cfg: &Config) -> Result<Self> {
        let l = Loader { file };
        let e = cfg.n_embd;
        let tok_embd = l.matrix("token_embd.weight", cfg.n_vocab, e)?;
        let output = match file.header().tensor("output.weight") {
            Some(_) => l.matrix("output.weight", cfg.n_vocab, e)?,
            None => tok_embd.clone(),
        };
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            let opt_vec = |s: &str, len: usize, want: bool| -> Result<Option<Vec<f32>>> {
                if want {
                    l.vector(&n(s), len).map(Some)
                } else {
                    Ok(None)
                }
            };
            layers.push(LayerWeights {
                attn_norm: l.vector(&n("attn_norm.weight"), e)?,
                wq: l.matrix(&n("attn_q.weight"), cfg.q_dim(), e)?,
                wk: l.matrix(&n("attn_k.weight"), cfg.kv_dim(), e)?,
                wv: l.matrix(&n("attn_v.weight"), cfg.n_head_kv * cfg.head_dim_v, e)?,
                wo: l.matrix(&n("attn_output.weight"), e, cfg.n_head * cfg.head_dim_v)?,
                bq: opt_vec("attn_q.bias", cfg.q_dim(), cfg.qkv_bias)?,
                bk: opt_vec("attn_k.bias", cfg.kv_dim(), cfg.qkv_bias)?,
                bv: opt_vec("attn_v.bias", cfg.kv_dim(), cfg.qkv_bias)?,
                q_norm: opt_vec("attn_q_norm.weight", cfg.head_dim, cfg.qk_norm)?,
                k_norm: opt_vec("attn_k_norm.weight", cfg.head_dim, cfg.qk_norm)?,
                post_attn_norm: opt_vec("post_attention_norm.weight", e, cfg.post_norms)?,
                ffn_norm: l.vector(&n("ffn_norm.weight"), e)?,
                gate: l.matrix(&n("ffn_gate.weight"), cfg.n_ff, e)?,
                up: l.matrix(&n("ffn_up.weight"), cfg.n_ff, e)?,
                down: l.matrix(&n("ffn_down.weight"), e, cfg.n_ff)?,
                post_ffn_norm: opt_vec("post_ffw_norm.weight", e, cfg.post_norms)?,
            });
        }
        let rope_freqs = match file.header().tensor("rope_freqs.weight") {
            Some(_) => Some(l.vector("rope_freqs.weight", cfg.rope_dims / 2)?),
            None => None,
        };
        Ok(Weights {
            tok_embd,
            output_norm: l.vector("output_norm.weight", e)?,
            output,
            rope_freqs,
            layers,
        })
    }
}

struct Loader<'a> {
    file: &'a ModelFile,
}

impl Loader<'_> {
    fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.file
            .header()
            .tensor(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))
    }
    fn check_type(name: &str, ty: GgmlType) -> Result<()> {
        if chord_quant::is_supported(ty) {
            Ok(())
        } else {
            Err(ModelError::UnsupportedTensorType {
                name: name.to_string(),
                ty,
            })
        }
    }
    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<TensorRef> {
        let t = self.info(name)?;
        if t.dims != [cols as u64, rows as u64] {
            return Err(ModelError::BadTensorShape {
                name: name.to_string(),
                found: t.dims.clone(),
                expected: vec![cols as u64, rows as u64],
            });
        }
        Self::check_type(name, t.ty)?;
        let r = self.file.header().tensor_range(t);
        Ok(TensorRef {
            name: name.to_string(),
            ty: t.ty,
            rows,
            cols,
            range: r.start as usize..r.end as usize,
        })
    }
    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self.info(name)?;
        if t.n_elements != len as u64 {
            return Err(ModelError::BadTensorShape {
                name: name.to_string(),
                found: t.dims.clone(),
                expected: vec![len as u64],
            });
        }
        Self::check_type(name, t.ty)?;
        let r = self.file.header().tensor_range(t);
        let mut out = vec![0f32; len];
        let bytes = self.file.read(name, r)?;
        chord_quant::dequantize(t.ty, &bytes, &mut out)
            .map_err(|e| ModelError::Backend(format!("tensor {name}: {e}")))?;
        Ok(out)
    }
}
