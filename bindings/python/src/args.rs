//! Python arguments to engine options, with `ValueError` for values out of range and
//! `TypeError` for values of the wrong type (checked here, before any work starts).

use crate::errors::value_err;
use chord_engine::{ChatMessage, GenerateOptions, SamplerConfig};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The sampling arguments shared by `generate` and `chat`, as Python passed them.
pub struct Sampling<'py> {
    pub max_tokens: i64,
    pub temperature: f64,
    pub top_k: i64,
    pub top_p: f64,
    pub min_p: f64,
    pub repeat_penalty: f64,
    pub seed: Option<i128>,
    pub stop: Option<Bound<'py, PyAny>>,
}

impl Sampling<'_> {
    pub fn options(&self) -> PyResult<GenerateOptions> {
        let sampler = SamplerConfig {
            temperature: finite("temperature", self.temperature)?,
            top_k: count("top_k", self.top_k)?,
            top_p: finite("top_p", self.top_p)?,
            min_p: finite("min_p", self.min_p)?,
            repeat_penalty: finite("repeat_penalty", self.repeat_penalty)?,
            seed: match self.seed {
                None => SamplerConfig::default().seed,
                Some(s) => u64::try_from(s)
                    .map_err(|_| value_err(format!("seed must be in 0..2**64, got {s}")))?,
            },
            ..SamplerConfig::default()
        };
        // The engine's own checks (e.g. repeat_penalty > 0), raised now rather than mid-stream.
        sampler.validate().map_err(|e| value_err(e.to_string()))?;
        Ok(GenerateOptions {
            max_tokens: count("max_tokens", self.max_tokens)?,
            sampler,
            stop: stop_list(self.stop.as_ref())?,
            ..GenerateOptions::default()
        })
    }
}

/// A count that must not be negative.
pub fn count(name: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| value_err(format!("{name} must be >= 0, got {v}")))
}

/// A float setting that must be finite, as the f32 the sampler uses.
fn finite(name: &str, v: f64) -> PyResult<f32> {
    let f = v as f32;
    if f.is_finite() {
        Ok(f)
    } else {
        Err(value_err(format!(
            "{name} must be a finite number, got {v}"
        )))
    }
}

/// `stop`: None, one string, or an iterable of strings.
pub fn stop_list(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![s.extract::<String>()?]);
    }
    let not_strings = || PyTypeError::new_err("stop must be a string or a list of strings");
    let mut out = Vec::new();
    for item in obj.try_iter().map_err(|_| not_strings())? {
        out.push(item?.extract::<String>().map_err(|_| not_strings())?);
    }
    Ok(out)
}

/// `messages`: a list of `{"role": str, "content": str}` mappings (OpenAI style).
pub fn messages(obj: &Bound<'_, PyAny>) -> PyResult<Vec<ChatMessage>> {
    let shape = "messages must be a list of {'role': str, 'content': str} dicts";
    // A string is iterable too, but never what was meant.
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(shape));
    }
    let mut out = Vec::new();
    for (i, item) in obj
        .try_iter()
        .map_err(|_| PyTypeError::new_err(shape))?
        .enumerate()
    {
        let item = item?;
        let field = |key: &str| -> PyResult<String> {
            let v = item.get_item(key).map_err(|e| {
                if e.is_instance_of::<PyKeyError>(item.py()) {
                    value_err(format!("messages[{i}] has no '{key}'"))
                } else {
                    PyTypeError::new_err(format!("messages[{i}]: {shape}"))
                }
            })?;
            v.extract::<String>().map_err(|_| {
                PyTypeError::new_err(format!("messages[{i}]['{key}'] must be a string"))
            })
        };
        out.push(ChatMessage {
            role: field("role")?,
            content: field("content")?,
        });
    }
    if out.is_empty() {
        return Err(value_err("messages must not be empty"));
    }
    Ok(out)
}
