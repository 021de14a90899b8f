//! Receiving a model file in chunks. The JS side streams the bytes (fetch body, `Blob.stream()`,
//! a Node file handle) straight into a buffer inside wasm memory, so the file is never held twice
//! in full; progress is reported by the JS side as chunks arrive.

use crate::model::Model;
use chord_engine::{Engine, EngineOptions};
use chord_model::ModelFile;
use wasm_bindgen::prelude::*;

/// A model file being received. `new(expectedBytes)` reserves the whole file up front when its
/// size is known (so a file too large for memory fails at once, with an error, not midway).
#[wasm_bindgen]
pub struct ModelLoader {
    bytes: Vec<u8>,
    /// Declared size, if known; more or fewer bytes than this are an error.
    expected: Option<usize>,
}

#[wasm_bindgen]
impl ModelLoader {
    /// `expected_bytes`: the file size, or 0 / a negative number if unknown.
    #[wasm_bindgen(constructor)]
    pub fn new(expected_bytes: f64) -> Result<ModelLoader, JsError> {
        let expected = expected_size(expected_bytes)?;
        let mut bytes = Vec::new();
        if let Some(n) = expected {
            bytes.try_reserve_exact(n).map_err(|_| {
                JsError::new(&format!(
                    "cannot allocate {n} bytes for the model in WebAssembly memory"
                ))
            })?;
        }
        Ok(ModelLoader { bytes, expected })
    }

    /// Appends the next chunk of the file.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        let total = self.bytes.len() + chunk.len();
        if let Some(n) = self.expected {
            if total > n {
                return Err(JsError::new(&format!(
                    "model data is longer than the declared {n} bytes"
                )));
            }
        }
        self.bytes.try_reserve(chunk.len()).map_err(|_| {
            JsError::new(&format!(
                "cannot grow the model buffer to {total} bytes in WebAssembly memory"
            ))
        })?;
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// Bytes received so far.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> f64 {
        self.bytes.len() as f64
    }

    /// Parses and validates the file and builds the engine. Consumes the loader.
    pub fn finish(self) -> Result<Model, JsError> {
        load(self.bytes, self.expected).map_err(|e| JsError::new(&e))
    }
}

/// Interprets the JS-side size: whole, non-negative, and addressable on this target.
fn expected_size(n: f64) -> Result<Option<usize>, JsError> {
    if !n.is_finite() || n <= 0.0 {
        return Ok(None);
    }
    if n.fract() != 0.0 || n > usize::MAX as f64 {
        return Err(JsError::new(&format!(
            "model size {n} is not a byte count this build can address"
        )));
    }
    Ok(Some(n as usize))
}

/// The native-testable core of [`ModelLoader::finish`].
pub(crate) fn load(bytes: Vec<u8>, expected: Option<usize>) -> Result<Model, String> {
    if let Some(n) = expected {
        if bytes.len() != n {
            return Err(format!(
                "model data ended after {} of {n} bytes (truncated download or file?)",
                bytes.len()
            ));
        }
    }
    let file = ModelFile::from_bytes(bytes).map_err(|e| format!("not a usable GGUF model: {e}"))?;
    // One thread: wasm32 without the atomics feature cannot spawn.
    let opts = EngineOptions {
        n_threads: 1,
        ..EngineOptions::default()
    };
    let engine =
        Engine::from_file(file, &opts).map_err(|e| format!("cannot load the model: {e}"))?;
    Ok(Model::new(engine))
}
