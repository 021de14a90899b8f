use crate::error::EngineError;
use crate::session::Session;
use chord_cpu::CpuBackend;
use chord_model::chat::ChatTemplate;
use chord_model::tokenizer::Tokenizer;
use chord_model::{Backend, KvCache, KvType, Model, ModelFile};
#[cfg(all(feature = "native", unix))]
use chord_model::{ModelError, StreamOptions};

/// How to load an engine.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// CPU threads (0 = all cores).
    pub n_threads: usize,
    /// Element type of the KV caches of sessions (F16 by default, as llama.cpp).
    pub kv_type: KvType,
}

/// A loaded model ready to generate: weights, tokenizer, chat template, backend.
pub struct Engine {
    pub model: Model,
    pub kv_type: KvType,
    pub tokenizer: Tokenizer,
    pub chat: ChatTemplate,
    pub backend: Box<dyn Backend>,
}

impl Engine {
    /// Loads from a model file (memory-mapped natively, or bytes in memory).
    pub fn from_file(file: ModelFile, opts: &EngineOptions) -> Result<Engine, EngineError> {
        let model = Model::load(file)?;
        let meta = &model.file.header().metadata;
        let tokenizer = Tokenizer::from_metadata(meta)?;
        let text = |id: Option<u32>| {
            id.and_then(|i| tokenizer.token_text(i))
                .unwrap_or_default()
                .to_string()
        };
        let bos = text(tokenizer.bos());
        let eos = text(tokenizer.eos());
        let chat =
            ChatTemplate::from_metadata(meta, &bos, &eos, |t| tokenizer.token_id(t).is_some())?;
        Ok(Engine {
            model,
            kv_type: opts.kv_type,
            tokenizer,
            chat,
            backend: Box::new(CpuBackend::new(opts.n_threads)),
        })
    }

    /// Memory-maps and loads a model file (native builds; wasm32 has no mmap).
    #[cfg(all(feature = "native", not(target_arch = "wasm32")))]
    pub fn open(
        path: impl AsRef<std::path::Path>,
        opts: &EngineOptions,
    ) -> Result<Engine, EngineError> {
        Engine::from_file(ModelFile::open(path)?, opts)
    }

    /// Loads a model file for layer streaming: at most `stream.budget` bytes of its weights are
    /// in memory at once, read from the file as the forward pass needs them (positioned reads,
    /// no mmap) with `stream.prefetch` units read ahead by a thread.
    #[cfg(all(feature = "native", unix))]
    pub fn open_streamed(
        path: impl AsRef<std::path::Path>,
        stream: StreamOptions,
        opts: &EngineOptions,
    ) -> Result<Engine, EngineError> {
        let path = path.as_ref();
        let src = chord_gguf::FileSource::open(path).map_err(|source| {
            ModelError::Gguf(chord_gguf::GgufError::Io {
                what: path.display().to_string(),
                source,
            })
        })?;
        Engine::from_file(ModelFile::stream(std::sync::Arc::new(src), stream)?, opts)
    }

    /// A new conversation with a context of `n_ctx` tokens (0 = the model's training context,
    /// capped at 4096 to bound memory).
    pub fn session(&self, n_ctx: usize) -> Session<'_> {
        let n = if n_ctx == 0 {
            self.model.config.n_ctx_train.min(4096)
        } else {
            n_ctx
        };
        Session::new(self, n)
    }

    /// An empty KV cache of `n_ctx` positions in the engine's KV type.
    pub fn new_cache(&self, n_ctx: usize) -> KvCache {
        self.model.new_cache_with(n_ctx, self.kv_type)
    }

    /// Tokenizes like llama.cpp's tools: the model's add-BOS setting, special-token text parsed.
    pub fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<u32>, EngineError> {
        Ok(self.tokenizer.encode(text, add_special, true)?)
    }
}
