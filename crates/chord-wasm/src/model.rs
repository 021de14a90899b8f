//! A loaded model as JS sees it: the engine, one conversation (a session with its KV cache) and
//! at most one generation in progress, stepped a token per call.

use crate::options::{parse_messages, GenerateRequest};
use chord_engine::{Engine, Generating, Generation, Session, StopReason, TokenEvent};
use chord_gguf::Value;
use serde_json::{json, Map, Value as Json};
use wasm_bindgen::prelude::*;

/// One step of a generation: a token and the bytes it makes safe to show (which may be part of
/// a UTF-8 character, or empty while held back for a possible stop string). The last event of a
/// generation may carry only held-back bytes (then `id` repeats the previous token's).
#[wasm_bindgen(getter_with_clone)]
pub struct Token {
    pub id: u32,
    /// 0-based index among the generated tokens.
    pub index: u32,
    /// Output bytes released by this step.
    pub bytes: Vec<u8>,
}

impl From<&TokenEvent<'_>> for Token {
    fn from(ev: &TokenEvent<'_>) -> Self {
        Token {
            id: ev.id,
            index: ev.index as u32,
            bytes: ev.output.to_vec(),
        }
    }
}

/// A loaded model, its conversation state and the generation in progress.
#[wasm_bindgen]
pub struct Model {
    // Declared (and dropped, see `Drop`) before the engine they borrow.
    gen: Option<Generating>,
    last: Option<Generation>,
    session: Option<Session<'static>>,
    /// Context size for the session (0 = the model's, capped by the engine).
    n_ctx: usize,
    /// The GPU backend once `useGpu` has put the model on it (also held by the engine).
    #[cfg(feature = "gpu")]
    gpu: Option<std::sync::Arc<chord_gpu::GpuBackend>>,
    /// Owned: made by `Box::into_raw` in `Model::new`, freed in `Drop` after the session.
    engine: *mut Engine,
}

impl Drop for Model {
    fn drop(&mut self) {
        self.gen = None;
        self.session = None;
        // SAFETY: `engine` came from `Box::into_raw` and is freed only here, once; the only
        // borrow of it that outlives a method call is the session, dropped on the line above.
        drop(unsafe { Box::from_raw(self.engine) });
    }
}

impl Model {
    pub(crate) fn new(engine: Engine) -> Model {
        Model {
            gen: None,
            last: None,
            session: None,
            n_ctx: 0,
            #[cfg(feature = "gpu")]
            gpu: None,
            engine: Box::into_raw(Box::new(engine)),
        }
    }

    fn engine(&self) -> &'static Engine {
        // SAFETY: the engine lives until `Drop` (it is never moved: it is boxed), and every
        // `'static` borrow handed out here is stored only in `self.session`, which `Drop`
        // releases before freeing the engine.
        unsafe { &*self.engine }
    }

    fn session(&mut self) -> &mut Session<'static> {
        let engine = self.engine();
        let n_ctx = self.n_ctx;
        self.session.get_or_insert_with(|| engine.session(n_ctx))
    }

    /// Starts generating from prompt tokens (the native-testable core of the exports).
    pub(crate) fn start_ids(&mut self, ids: &[u32], req: &GenerateRequest) -> Result<(), String> {
        self.gen = None;
        self.last = None;
        let opts = req.to_options();
        let g = self
            .session()
            .start(ids, &opts)
            .map_err(|e| e.to_string())?;
        self.gen = Some(g);
        Ok(())
    }

    /// The next token of the generation in progress (None when it has ended).
    pub(crate) fn next_token(&mut self) -> Result<Option<Token>, String> {
        let Some(g) = self.gen.as_mut() else {
            return Ok(None);
        };
        let session = self
            .session
            .as_mut()
            .ok_or("internal: a generation without a session")?;
        match session.step(g) {
            Ok(Some(ev)) => Ok(Some(Token::from(&ev))),
            Ok(None) => {
                self.last = self.gen.take().map(Generating::into_generation);
                Ok(None)
            }
            Err(e) => {
                self.gen = None;
                Err(e.to_string())
            }
        }
    }
}

/// The GPU path (the package's `gpu` build only; see `gpu.rs`).
#[cfg(feature = "gpu")]
#[wasm_bindgen]
impl Model {
    /// Moves the model onto the browser's WebGPU device (resets the conversation). Suspends
    /// (JSPI) while the browser answers: call it through `WebAssembly.promising`. Returns JSON
    /// describing the adapter; an error if there is none or it refuses a device.
    #[wasm_bindgen(js_name = useGpu)]
    pub fn use_gpu(&mut self) -> Result<String, JsError> {
        self.gen = None;
        self.last = None;
        self.session = None;
        let gpu = crate::gpu::open().map_err(|e| JsError::new(&e))?;
        let info = crate::gpu::adapter_json(&gpu).to_string();
        // SAFETY: the engine is boxed and alive until `Drop`; the session, the only borrow of
        // it that outlives a call, was dropped above, so this is the one reference.
        let engine = unsafe { &mut *self.engine };
        // The engine gets one handle; `self.gpu` keeps another to read the dispatch counts.
        engine.backend = Box::new(gpu.clone());
        self.gpu = Some(gpu);
        Ok(info)
    }

    /// Matrix products per GPU kernel so far as JSON (`{}` on the CPU), to show that the GPU
    /// path ran.
    #[wasm_bindgen(js_name = gpuDispatchJson)]
    pub fn gpu_dispatch_json(&self) -> String {
        self.gpu
            .as_deref()
            .map(crate::gpu::dispatch_json)
            .unwrap_or_else(|| json!({}))
            .to_string()
    }
}

#[wasm_bindgen]
impl Model {
    /// Sets the context size (tokens) of the conversation; 0 = the model's training context,
    /// capped at 4096. Resets the conversation.
    #[wasm_bindgen(js_name = setContextSize)]
    pub fn set_context_size(&mut self, n_ctx: usize) {
        self.gen = None;
        self.session = None;
        self.n_ctx = n_ctx;
    }

    /// Forgets the conversation (the KV cache).
    pub fn reset(&mut self) {
        self.gen = None;
        if let Some(s) = self.session.as_mut() {
            s.reset();
        }
    }

    /// Token ids of `text`, as llama.cpp tokenizes (`add_special`: BOS/EOS as the model's
    /// metadata says; `parse_special`: special-token text becomes the special token).
    pub fn tokenize(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, JsError> {
        Ok(self
            .engine()
            .tokenizer
            .encode(text, add_special, parse_special)?)
    }

    /// Bytes of token ids (llama.cpp's `llama_detokenize`).
    pub fn detokenize(
        &self,
        ids: &[u32],
        remove_special: bool,
        unparse_special: bool,
    ) -> Result<Vec<u8>, JsError> {
        Ok(self
            .engine()
            .tokenizer
            .detokenize(ids, remove_special, unparse_special)?)
    }

    /// The model's chat template applied to a JSON array of `{role, content}` messages, with
    /// the assistant turn opened.
    #[wasm_bindgen(js_name = renderChat)]
    pub fn render_chat(&self, messages_json: &str) -> Result<String, JsError> {
        let msgs = parse_messages(messages_json)?;
        Ok(self.engine().chat.render(&msgs, true)?)
    }

    /// Starts a generation after a text prompt (options: JSON, see `GenerateRequest`).
    #[wasm_bindgen(js_name = startGenerate)]
    pub fn start_generate(&mut self, prompt: &str, options_json: &str) -> Result<(), JsError> {
        let req = GenerateRequest::parse(options_json)?;
        let opts = req.to_options();
        let ids = self
            .engine()
            .tokenizer
            .encode(prompt, opts.add_special, opts.parse_special)?;
        self.start_ids(&ids, &req).map_err(|e| JsError::new(&e))
    }

    /// Starts the assistant's reply to a JSON array of `{role, content}` messages, rendered with
    /// the model's chat template (as `chord chat` does).
    #[wasm_bindgen(js_name = startChat)]
    pub fn start_chat(&mut self, messages_json: &str, options_json: &str) -> Result<(), JsError> {
        let req = GenerateRequest::parse(options_json)?;
        let text = self.render_chat(messages_json)?;
        // As Session::chat: the template omits BOS text when the tokenizer adds it.
        let ids = self.engine().tokenizer.encode(&text, true, true)?;
        self.start_ids(&ids, &req).map_err(|e| JsError::new(&e))
    }

    /// Runs one step: returns the next token, or `undefined` once the generation has ended
    /// (then `resultJson()` has the result).
    pub fn step(&mut self) -> Result<Option<Token>, JsError> {
        self.next_token().map_err(|e| JsError::new(&e))
    }

    /// Ends the generation in progress as cancelled; returns held-back output bytes, if any.
    pub fn cancel(&mut self) -> Option<Token> {
        let mut g = self.gen.take()?;
        let flush = g.cancel().map(|ev| Token::from(&ev));
        self.last = Some(g.into_generation());
        flush
    }

    /// The finished generation as JSON: `text`, `tokens`, `stop_reason` (`max_tokens`,
    /// `end_of_generation`, `stop_string`, `context_full`, `cancelled`), `finish_reason`
    /// (OpenAI's), `stop_index`, and `usage` {`prompt_tokens`, `completion_tokens`,
    /// `cached_tokens`}; `null` if none has finished.
    #[wasm_bindgen(js_name = resultJson)]
    pub fn result_json(&self) -> String {
        self.last
            .as_ref()
            .map(generation_json)
            .unwrap_or(Json::Null)
            .to_string()
    }

    /// What the model is: architecture, name, hyperparameters, tokenizer, chat template, and
    /// the GGUF metadata (arrays longer than 16 items summarised), as JSON.
    #[wasm_bindgen(js_name = metadataJson)]
    pub fn metadata_json(&self) -> String {
        metadata_json(self.engine()).to_string()
    }

    /// For a streamed model, what its layer cache did, as JSON (`budget`, `units`, `hits`,
    /// `misses`, `hit_rate`, `evictions`, `bytes_read`, `resident_bytes`); `null` otherwise.
    #[wasm_bindgen(js_name = streamStatsJson)]
    pub fn stream_stats_json(&self) -> String {
        match self.engine().model.stream_stats() {
            None => Json::Null.to_string(),
            Some(s) => json!({
                "budget": s.budget,
                "units": s.units,
                "unit_bytes": s.unit_bytes,
                "hits": s.hits,
                "misses": s.misses,
                "hit_rate": s.hit_rate(),
                "prefetched": s.prefetched,
                "evictions": s.evictions,
                "bytes_read": s.bytes_read,
                "resident_bytes": s.resident_bytes,
            })
            .to_string(),
        }
    }
}

fn generation_json(g: &Generation) -> Json {
    let (reason, index) = match g.stop_reason {
        StopReason::MaxTokens => ("max_tokens", None),
        StopReason::EndOfGeneration => ("end_of_generation", None),
        StopReason::StopString(i) => ("stop_string", Some(i)),
        StopReason::ContextFull => ("context_full", None),
        StopReason::Cancelled => ("cancelled", None),
    };
    json!({
        "text": String::from_utf8_lossy(&g.output),
        "tokens": g.tokens,
        "stop_reason": reason,
        "finish_reason": g.stop_reason.finish_reason(),
        "stop_index": index,
        "usage": {
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.tokens.len(),
            "cached_tokens": g.cached_tokens,
        },
    })
}

fn metadata_json(e: &Engine) -> Json {
    let h = e.model.file.header();
    let c = &e.model.config;
    let mut md = Map::new();
    for (k, v) in h.metadata.iter() {
        md.insert(k.to_string(), value_json(v));
    }
    let tok = &e.tokenizer;
    json!({
        "architecture": c.arch.name(),
        "name": h.metadata.get("general.name").and_then(Value::as_str),
        "file_size": e.model.file.len(),
        "tensor_count": h.tensors.len(),
        "parameters": h.tensors.iter().map(|t| t.dims.iter().product::<u64>()).sum::<u64>(),
        "hyperparameters": {
            "context_length": c.n_ctx_train,
            "embedding_length": c.n_embd,
            "block_count": c.n_layer,
            "feed_forward_length": c.n_ff,
            "head_count": c.n_head,
            "head_count_kv": c.n_head_kv,
            "head_dim": c.head_dim,
            "vocab_size": c.n_vocab,
        },
        "tokenizer": {
            "vocab_size": tok.n_vocab(),
            "bos": tok.bos(),
            "eos": tok.eos(),
            "add_bos": tok.add_bos(),
        },
        "chat_template": h.metadata.contains("tokenizer.chat_template"),
        "backend": e.backend.name(),
        "metadata": md,
    })
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Array(ty, items) if items.len() > 16 => json!({
            "type": "array", "element_type": ty.name(), "len": items.len(),
        }),
        Value::Array(_, items) => Json::Array(items.iter().map(value_json).collect()),
        Value::String(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::F32(x) => json!(x),
        Value::F64(x) => json!(x),
        other => other
            .as_int()
            .map(|i| json!(i as f64))
            .unwrap_or(Json::Null),
    }
}
