//! Weights, read in place. A [`ModelFile`] owns the file bytes (a memory map natively, an owned
//! buffer in wasm); each weight matrix is a [`TensorRef`]: its type, shape and byte range in that
//! file. Matrices stay in their quantized format and are never copied; only the small 1-D
//! tensors (norm weights, biases) are converted to f32 at load.

use crate::backend::MatRef;
use crate::config::Config;
use crate::error::{ModelError, Result};
use chord_gguf::{GgmlType, Header, TensorInfo};
use std::ops::Range;

/// The bytes of a GGUF model file and its parsed header.
pub struct ModelFile {
    header: Header,
    storage: Storage,
}

enum Storage {
    #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
    Mmap(chord_gguf::GgufMmap),
    Owned(Vec<u8>),
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
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
            Storage::Mmap(m) => m.bytes(),
            Storage::Owned(v) => v,
        }
    }
    /// A weight matrix's bytes.
    pub fn data(&self, t: &TensorRef) -> &[u8] {
        // Ranges come from the validated header of this very file.
        &self.bytes()[t.range.clone()]
    }
    pub fn mat<'a>(&'a self, t: &'a TensorRef) -> MatRef<'a> {
        MatRef {
            name: &t.name,
            ty: t.ty,
            rows: t.rows,
            cols: t.cols,
            data: self.data(t),
        }
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
        chord_quant::dequantize(
            t.ty,
            &self.file.bytes()[r.start as usize..r.end as usize],
            &mut out,
        )
        .map_err(|e| ModelError::Backend(format!("tensor {name}: {e}")))?;
        Ok(out)
    }
}
