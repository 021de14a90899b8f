//! Generation on a worker thread, read from Python as an iterator of text pieces.
//!
//! The engine reports tokens through a callback and cannot be paused, so a worker thread runs
//! the whole generation (holding the model's session, never the GIL) and sends complete UTF-8
//! text pieces through a channel. The Python side waits for each piece with the GIL released and
//! runs `check_signals` every [`POLL`]: Ctrl-C raises `KeyboardInterrupt` within that time even
//! while a long prompt is being processed, and tells the worker to stop after its current token.
//! The session stays consistent (a cancelled generation is an ordinary stop), so the model is
//! usable again as soon as the worker has let go of it; a later call simply waits for that.

use crate::errors::{Failure, ModelError};
use crate::model::Core;
use chord_engine::{ChatMessage, GenerateOptions, Generation};
use chord_model::tokenizer::Utf8Stream;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How often a waiting reader checks for signals (Ctrl-C latency).
const POLL: Duration = Duration::from_millis(50);

/// What to generate from.
pub enum Job {
    Prompt(String),
    Chat(Vec<ChatMessage>),
}

enum Msg {
    Text(String),
    /// The last message: the finish reason, or why generation failed.
    Done(Result<&'static str, Failure>),
}

/// An iterator over the text pieces of a generation as they are produced (complete UTF-8
/// characters; a stop string is never shown, even in part). Dropping the iterator, calling
/// `cancel()`, or starting another generation or `reset()` on the same model stops it. Errors from the model
/// are raised by the iteration that meets them.
#[pyclass(module = "wasm_chord", frozen)]
pub struct TextStream {
    /// `None` while a reader has moved it out to wait without the GIL.
    rx: Mutex<Option<Receiver<Msg>>>,
    cancel: Arc<AtomicBool>,
    finish_reason: Mutex<Option<&'static str>>,
}

impl TextStream {
    /// Starts generating on a worker thread. A `stream` registers itself as the one a later
    /// generation cancels; a plain `generate` (read to the end by its caller) never is, so
    /// calls from several Python threads simply take turns.
    pub fn start(
        core: Arc<Core>,
        job: Job,
        opts: GenerateOptions,
        stream: bool,
    ) -> PyResult<TextStream> {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        // A new generation ends an unfinished stream (e.g. one abandoned by a KeyboardInterrupt
        // raised in Python code between two pieces) instead of waiting behind it.
        let mine = stream.then(|| cancel.clone());
        if let Some(prev) = std::mem::replace(&mut *lock(&core.current), mine) {
            prev.store(true, Ordering::Relaxed);
        }
        std::thread::Builder::new()
            .name("wasm-chord-generate".into())
            .spawn(move || {
                let result = run(&core, &job, &opts, &stop, &tx);
                // The reader may be gone (iterator dropped): nothing left to tell.
                let _ = tx.send(Msg::Done(result));
            })
            .map_err(|e| ModelError::new_err(format!("cannot start a generation thread: {e}")))?;
        Ok(TextStream {
            rx: Mutex::new(Some(rx)),
            cancel,
            finish_reason: Mutex::new(None),
        })
    }

    /// The next piece, `None` at the end. Waits without the GIL, checking for signals.
    pub fn next_piece(&self, py: Python<'_>) -> PyResult<Option<String>> {
        // try_lock: blocking here while holding the GIL could deadlock with a reader that is
        // waiting to take the GIL back.
        let mut slot = match self.rx.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "this stream is being read by another thread",
                ))
            }
        };
        let Some(mut rx) = slot.take() else {
            return Ok(None); // finished (or another reader failed): the stream is over
        };
        loop {
            // The receiver moves into the GIL-free closure and back (it is Send, not Sync).
            let (back, msg) = py.detach(move || {
                let m = rx.recv_timeout(POLL);
                (rx, m)
            });
            rx = back;
            // Checked on every wake-up, not only when idle: tokens may come faster than POLL.
            if let Err(e) = py.check_signals() {
                // KeyboardInterrupt (or whatever a handler raised): stop the worker and end this
                // stream; the model is free again after the current token.
                self.cancel.store(true, Ordering::Relaxed);
                *lock(&self.finish_reason) = Some("cancelled");
                return Err(e);
            }
            match msg {
                Ok(Msg::Text(s)) => {
                    *slot = Some(rx);
                    return Ok(Some(s));
                }
                Ok(Msg::Done(Ok(reason))) => {
                    *lock(&self.finish_reason) = Some(reason);
                    return Ok(None);
                }
                Ok(Msg::Done(Err(f))) => return Err(f.into()),
                Err(RecvTimeoutError::Disconnected) => return Err(Failure::Lost.into()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

#[pymethods]
impl TextStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.next_piece(py)
    }

    /// Why generation ended, once the stream is exhausted: "stop" (end-of-generation token or a
    /// stop string), "length" (max_tokens or the context is full) or "cancelled"; None before.
    #[getter]
    fn finish_reason(&self) -> Option<&'static str> {
        *lock(&self.finish_reason)
    }

    /// Stops the generation (the iterator then ends).
    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for TextStream {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data is still
/// usable (the session is reset after a panic, see `run`).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The worker: runs one generation on the model's session, sending text as it is produced.
fn run(
    core: &Core,
    job: &Job,
    opts: &GenerateOptions,
    cancel: &AtomicBool,
    tx: &Sender<Msg>,
) -> Result<&'static str, Failure> {
    let mut cell = lock(&core.session);
    if cancel.load(Ordering::Relaxed) {
        return Ok("cancelled"); // replaced before it started: no work for nobody
    }
    let mut utf8 = Utf8Stream::new();
    let mut on_token = |output: &[u8]| -> bool {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        let text = utf8.push(output);
        // A send fails only when the reader is gone: stop generating for nobody.
        (text.is_empty() || tx.send(Msg::Text(text)).is_ok()) && !cancel.load(Ordering::Relaxed)
    };
    // A panic is a bug, but it must not cross into Python nor leave a half-updated KV cache.
    let result = catch_unwind(AssertUnwindSafe(|| {
        cell.with_dependent_mut(|_, session| -> Result<Generation, _> {
            match job {
                Job::Prompt(p) => session.generate(p, opts, |ev| on_token(ev.output)),
                Job::Chat(m) => session.chat(m, opts, |ev| on_token(ev.output)),
            }
        })
    }));
    match result {
        Ok(Ok(gen)) => {
            // An incomplete character cut by the token limit ends as U+FFFD, as
            // `String::from_utf8_lossy` of the whole output would.
            let tail = utf8.finish();
            if !tail.is_empty() {
                let _ = tx.send(Msg::Text(tail));
            }
            Ok(gen.stop_reason.finish_reason())
        }
        Ok(Err(e)) => Err(Failure::Engine(e)),
        Err(panic) => {
            cell.with_dependent_mut(|_, session| session.reset());
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(Failure::Panic(msg))
        }
    }
}
