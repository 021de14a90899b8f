//! GGUF metadata as a Python dict, the same shape as `chord inspect --json`'s `metadata`: numbers,
//! strings and bools as themselves, floats in their shortest decimal form, arrays of up to 16
//! items as lists and longer ones (vocabularies, merges) summarised as
//! `{"type": "array", "element_type", "len", "head": [first 8]}` so reading it stays cheap.

use chord_gguf::{Metadata, Value};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;

/// Arrays longer than this are summarised (as `chord inspect --json` does).
const ARRAY_MAX: usize = 16;
/// Items kept in a summarised array's `head`.
const ARRAY_HEAD: usize = 8;

pub fn to_dict<'py>(py: Python<'py>, md: &Metadata) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in md.iter() {
        d.set_item(k, value(py, v)?)?;
    }
    Ok(d)
}

fn value<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    // An f32 printed shortest (1e-6, not 9.99999997e-7) then read as a Python float; NaN and
    // infinities become None, as in the JSON.
    let float = |s: String| -> PyResult<Bound<'py, PyAny>> {
        match s.parse::<f64>().ok().filter(|f| f.is_finite()) {
            Some(f) => f.into_bound_py_any(py),
            None => Ok(py.None().into_bound(py)),
        }
    };
    match v {
        Value::U8(x) => x.into_bound_py_any(py),
        Value::I8(x) => x.into_bound_py_any(py),
        Value::U16(x) => x.into_bound_py_any(py),
        Value::I16(x) => x.into_bound_py_any(py),
        Value::U32(x) => x.into_bound_py_any(py),
        Value::I32(x) => x.into_bound_py_any(py),
        Value::U64(x) => x.into_bound_py_any(py),
        Value::I64(x) => x.into_bound_py_any(py),
        Value::F32(x) => float(x.to_string()),
        Value::F64(x) => float(x.to_string()),
        Value::Bool(x) => x.into_bound_py_any(py),
        Value::String(x) => x.into_bound_py_any(py),
        Value::Array(ty, items) if items.len() > ARRAY_MAX => {
            let d = PyDict::new(py);
            d.set_item("type", "array")?;
            d.set_item("element_type", ty.name())?;
            d.set_item("len", items.len())?;
            d.set_item("head", list(py, &items[..ARRAY_HEAD])?)?;
            d.into_bound_py_any(py)
        }
        Value::Array(_, items) => list(py, items)?.into_bound_py_any(py),
    }
}

fn list<'py>(py: Python<'py>, items: &[Value]) -> PyResult<Bound<'py, PyList>> {
    let l = PyList::empty(py);
    for x in items {
        l.append(value(py, x)?)?;
    }
    Ok(l)
}
