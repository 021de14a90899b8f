//! Writing GGUF v3 files: used by tests to build small synthetic models and by the fuzzer's seed
//! corpus. Tensor bytes are given already encoded in their storage type.

use crate::error::{GgufError, Result};
use crate::header::{tensor_size, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS};
use crate::types::GgmlType;
use crate::value::Value;
use std::io::Write;

struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ty: GgmlType,
    data: Vec<u8>,
}

/// Builds a GGUF file in memory, then writes it out.
pub struct GgufWriter {
    version: u32,
    alignment: u64,
    kv: Vec<(String, Value)>,
    tensors: Vec<PendingTensor>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl GgufWriter {
    pub fn new() -> Self {
        Self {
            version: 3,
            alignment: DEFAULT_ALIGNMENT,
            kv: Vec::new(),
            tensors: Vec::new(),
        }
    }
    /// Writes version 2 instead of 3 (same layout; v2 exists in older files).
    pub fn version(mut self, v: u32) -> Self {
        self.version = v;
        self
    }
    /// Sets `general.alignment` (written as a u32 key) and pads to it.
    pub fn alignment(mut self, a: u64) -> Result<Self> {
        if a == 0 || !a.is_power_of_two() || a > 65536 {
            return Err(GgufError::BadAlignment { alignment: a });
        }
        self.alignment = a;
        self.kv.retain(|(k, _)| k != "general.alignment");
        self.kv
            .push(("general.alignment".into(), Value::U32(a as u32)));
        Ok(self)
    }
    pub fn add_kv(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        self.kv.push((key.into(), value));
        self
    }
    /// Adds a tensor with `dims` in ggml order (`dims[0]` = row length) and its encoded bytes.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> Result<&mut Self> {
        let name = name.into();
        // The reader's rules (1..=4 dims, none zero, whole blocks, no overflow), so that what is
        // written can be read back.
        if dims.is_empty() || dims.len() > MAX_DIMS as usize {
            return Err(GgufError::Write(format!(
                "tensor '{name}': {} dimensions (must be 1..={MAX_DIMS})",
                dims.len()
            )));
        }
        let (_, expected) = tensor_size(&name, dims, ty)?;
        if expected != data.len() as u64 {
            return Err(GgufError::Write(format!(
                "tensor '{name}': {} bytes given, shape {dims:?} of {ty} needs {expected}",
                data.len()
            )));
        }
        self.tensors.push(PendingTensor {
            name,
            dims: dims.to_vec(),
            ty,
            data,
        });
        Ok(self)
    }
    /// Adds an F32 tensor from values.
    pub fn add_f32(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        values: &[f32],
    ) -> Result<&mut Self> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_tensor(name, dims, GgmlType::F32, data)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    pub fn write_to<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        let mut h = Vec::new();
        h.extend_from_slice(&GGUF_MAGIC);
        h.extend_from_slice(&self.version.to_le_bytes());
        h.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        h.extend_from_slice(&(self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            put_str(&mut h, k);
            h.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
            put_value(&mut h, v);
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for t in &self.tensors {
            put_str(&mut h, &t.name);
            h.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                h.extend_from_slice(&d.to_le_bytes());
            }
            h.extend_from_slice(&(t.ty as u32).to_le_bytes());
            h.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = (offset + t.data.len() as u64).div_ceil(self.alignment) * self.alignment;
        }
        pad(&mut h, self.alignment);
        w.write_all(&h)?;
        let mut written = 0u64;
        for (t, off) in self.tensors.iter().zip(offsets) {
            w.write_all(&vec![0u8; (off - written) as usize])?;
            w.write_all(&t.data)?;
            written = off + t.data.len() as u64;
        }
        Ok(())
    }
}

fn pad(h: &mut Vec<u8>, a: u64) {
    let len = h.len() as u64;
    h.resize((len.div_ceil(a) * a) as usize, 0);
}

fn put_str(h: &mut Vec<u8>, s: &str) {
    h.extend_from_slice(&(s.len() as u64).to_le_bytes());
    h.extend_from_slice(s.as_bytes());
}

fn put_value(h: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => h.push(*x),
        Value::I8(x) => h.push(*x as u8),
        Value::U16(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => h.push(*x as u8),
        Value::String(s) => put_str(h, s),
        Value::Array(t, items) => {
            h.extend_from_slice(&(*t as u32).to_le_bytes());
            h.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for it in items {
                put_value(h, it);
            }
        }
        Value::U64(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => h.extend_from_slice(&x.to_le_bytes()),
    }
}
