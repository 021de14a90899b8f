//! `wasm_chord.Model`: a loaded model with one conversation session (its KV cache is reused
//! across calls: a prompt that starts like the previous one only computes the new part).

use crate::args::{count, messages as messages_arg, Sampling};
use crate::errors::{model_err, value_err};
use crate::metadata;
use crate::stream::{lock, Job, TextStream};
use chord_engine::{Engine, EngineOptions, KvType, Session};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

self_cell::self_cell!(
    /// The engine and the one session that borrows it, kept together.
    pub struct SessionCell {
        owner: Arc<Engine>,
        #[covariant]
        dependent: Session,
    }
);

/// What a Model and its running generations share. Tokenizing needs only the engine, so it
/// never waits for a generation; generating takes the session.
pub struct Core {
    pub engine: Arc<Engine>,
    pub session: Mutex<SessionCell>,
    /// The cancel flag of the latest stream (the next generation cancels it).
    pub current: Mutex<Option<Arc<AtomicBool>>>,
}

/// A GGUF model loaded for generation.
///
/// `path_or_name` is a path to a .gguf file or a known model name (e.g. "gemma3-270m",
/// "qwen2.5-coder-0.5b"), resolved like `chord run -m`: known models live in
/// `$CHORD_HOME/models` or `~/.cache/wasm-chord/models` (`chord pull NAME` fetches them).
/// `n_threads=None` uses every core; `n_ctx` is the context size in tokens (0 = the model's
/// training context, capped at 4096); `kv_type` is the KV cache's element type, "f16" (as
/// llama.cpp and `chord run` by default) or "f32" (`--kv-type f32`).
///
/// Raises ModelError if the file cannot be found, read or run, ValueError for bad arguments.
#[pyclass(module = "wasm_chord", frozen)]
pub struct Model {
    core: Arc<Core>,
    path: String,
    n_ctx: usize,
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (path_or_name, n_threads=None, n_ctx=4096, kv_type="f16"))]
    fn new(
        py: Python<'_>,
        path_or_name: &str,
        n_threads: Option<i64>,
        n_ctx: i64,
        kv_type: &str,
    ) -> PyResult<Model> {
        let kv_type = match kv_type {
            "f16" => KvType::F16,
            "f32" => KvType::F32,
            other => {
                return Err(value_err(format!(
                    "kv_type must be \"f16\" or \"f32\", got {other:?}"
                )))
            }
        };
        let n_threads = match n_threads {
            None => 0,
            Some(0) => return Err(value_err("n_threads must be >= 1 (or None for all cores)")),
            Some(n) => count("n_threads", n)?,
        };
        let n_ctx = count("n_ctx", n_ctx)?;
        let name = path_or_name.to_owned();
        let (engine, path) = py.detach(move || {
            let path = chord_hub::resolve(&name).map_err(model_err)?;
            let engine = Engine::open(&path, &EngineOptions { n_threads, kv_type })
                .map_err(|e| model_err(format!("loading {}: {e}", path.display())))?;
            Ok::<_, PyErr>((engine, path))
        })?;
        let engine = Arc::new(engine);
        let session = SessionCell::new(engine.clone(), |e| e.session(n_ctx));
        let n_ctx = session.borrow_dependent().n_ctx();
        Ok(Model {
            core: Arc::new(Core {
                engine,
                session: Mutex::new(session),
                current: Mutex::new(None),
            }),
            path: path.display().to_string(),
            n_ctx,
        })
    }

    /// Generates a continuation of `prompt` (tokenized with the model's BOS setting; special-token
    /// text such as "<|im_start|>" is parsed as the special token).
    ///
    /// Returns the generated text, or with `stream=True` an iterator of text pieces as they are
    /// produced. `temperature=0` is greedy decoding (the same text as `chord run --temp 0`);
    /// otherwise llama.cpp's sampler chain (top-k, top-p, min-p, temperature) with `seed`
    /// (None = a fixed default). Generation ends at an end-of-generation token, after
    /// `max_tokens`, when the context is full, or before the first occurrence of a `stop`
    /// string (which is not returned).
    #[pyo3(signature = (prompt, max_tokens=256, temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
                        repeat_penalty=1.0, seed=None, stop=None, stream=false))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn generate<'py>(
        &self,
        py: Python<'py>,
        prompt: &str,
        max_tokens: i64,
        temperature: f64,
        top_k: i64,
        top_p: f64,
        min_p: f64,
        repeat_penalty: f64,
        seed: Option<i128>,
        stop: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = Sampling {
            max_tokens,
            temperature,
            top_k,
            top_p,
            min_p,
            repeat_penalty,
            seed,
            stop,
        };
        self.start(py, Job::Prompt(prompt.to_owned()), &s, stream)
    }

    /// Generates the assistant's reply to `messages` (a list of {"role", "content"} dicts),
    /// rendered with the model's chat template (the built-in one for its family when the file
    /// has none). Same options and return value as `generate`.
    #[pyo3(signature = (messages, max_tokens=256, temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
                        repeat_penalty=1.0, seed=None, stop=None, stream=false))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn chat<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
        max_tokens: i64,
        temperature: f64,
        top_k: i64,
        top_p: f64,
        min_p: f64,
        repeat_penalty: f64,
        seed: Option<i128>,
        stop: Option<Bound<'py, PyAny>>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let job = Job::Chat(messages_arg(messages)?);
        let s = Sampling {
            max_tokens,
            temperature,
            top_k,
            top_p,
            min_p,
            repeat_penalty,
            seed,
            stop,
        };
        self.start(py, job, &s, stream)
    }

    /// Token ids of `text`: BOS added when the model's metadata asks for it (`add_special`),
    /// special-token text parsed as special tokens (`parse_special`). Equals `chord tokenize`.
    #[pyo3(signature = (text, add_special=true, parse_special=true))]
    fn tokenize(
        &self,
        py: Python<'_>,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> PyResult<Vec<u32>> {
        let engine = &self.core.engine;
        py.detach(|| engine.tokenizer.encode(text, add_special, parse_special))
            .map_err(|e| value_err(e.to_string()))
    }

    /// The text of token ids: a leading BOS (when the model adds one) is dropped and special
    /// tokens are rendered as their text, so `detokenize(tokenize(s)) == s`. Bytes that are not
    /// valid UTF-8 become U+FFFD. Raises ValueError for an id outside the vocabulary.
    fn detokenize(&self, py: Python<'_>, ids: Vec<i64>) -> PyResult<String> {
        let n_vocab = self.core.engine.tokenizer.n_vocab();
        let ids = ids
            .into_iter()
            .map(|id| {
                u32::try_from(id)
                    .ok()
                    .filter(|&i| (i as usize) < n_vocab)
                    .ok_or_else(|| {
                        value_err(format!(
                            "token id {id} is not in the vocabulary (0..{n_vocab})"
                        ))
                    })
            })
            .collect::<PyResult<Vec<u32>>>()?;
        let engine = &self.core.engine;
        let bytes = py
            .detach(|| engine.tokenizer.detokenize(&ids, true, true))
            .map_err(|e| value_err(e.to_string()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Forgets the conversation: the next call starts with an empty KV cache. An unfinished
    /// stream is cancelled.
    fn reset(&self, py: Python<'_>) {
        let core = &self.core;
        if let Some(c) = lock(&core.current).take() {
            c.store(true, Ordering::Relaxed);
        }
        // Waits (without the GIL) for a running generation to let go of the session.
        py.detach(|| lock(&core.session).with_dependent_mut(|_, s| s.reset()));
    }

    /// The GGUF metadata as a dict, as in `chord inspect --json` (arrays longer than 16 items,
    /// such as the vocabulary, are summarised as {"type", "element_type", "len", "head"}).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        metadata::to_dict(py, &self.core.engine.model.file.header().metadata)
    }

    /// The model file's path.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// The context size in tokens.
    #[getter]
    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Number of tokens in the vocabulary.
    #[getter]
    fn n_vocab(&self) -> usize {
        self.core.engine.tokenizer.n_vocab()
    }

    fn __repr__(&self) -> String {
        format!("Model({:?})", self.path)
    }
}

impl Model {
    fn start<'py>(
        &self,
        py: Python<'py>,
        job: Job,
        s: &Sampling<'py>,
        stream: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = s.options()?;
        let it = TextStream::start(self.core.clone(), job, opts, stream)?;
        if stream {
            return Ok(Bound::new(py, it)?.into_any());
        }
        let mut text = String::new();
        while let Some(piece) = it.next_piece(py)? {
            text.push_str(&piece);
        }
        Ok(pyo3::types::PyString::new(py, &text).into_any())
    }
}
