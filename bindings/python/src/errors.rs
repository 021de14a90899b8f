//! Rust errors as Python exceptions: `wasm_chord.ModelError` for anything the model, its file or
//! the engine reports, `ValueError` for arguments the caller got wrong. The Rust message is kept.

use chord_engine::EngineError;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::PyErr;

create_exception!(
    wasm_chord,
    ModelError,
    PyException,
    "A model could not be found, loaded or run (the message is the runtime's)."
);

/// Why a generation failed, as the worker thread reports it.
#[derive(Debug)]
pub enum Failure {
    Engine(EngineError),
    /// A bug: a panic inside the engine, caught on the worker thread.
    Panic(String),
    /// The worker thread vanished without a result.
    Lost,
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        match f {
            Failure::Engine(e) => engine_err(e),
            Failure::Panic(msg) => ModelError::new_err(format!("internal error: {msg}")),
            Failure::Lost => ModelError::new_err("the generation thread ended without a result"),
        }
    }
}

/// Prompts that cannot be run at all are the caller's mistake; everything else is the model's.
pub fn engine_err(e: EngineError) -> PyErr {
    match e {
        EngineError::EmptyPrompt | EngineError::PromptTooLong { .. } => {
            PyValueError::new_err(e.to_string())
        }
        other => ModelError::new_err(other.to_string()),
    }
}

pub fn model_err(e: impl std::fmt::Display) -> PyErr {
    ModelError::new_err(e.to_string())
}

pub fn value_err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}
