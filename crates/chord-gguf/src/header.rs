//! Parsing and validating the GGUF header: metadata, tensor infos, data-section placement.

use crate::error::{GgufError, Result};
use crate::source::RangeSource;
use crate::types::GgmlType;
use crate::value::{Metadata, Value, ValueType};
use std::collections::HashMap;

pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most four dimensions.
pub const MAX_DIMS: u32 = 4;
/// Arrays of arrays deeper than this are rejected (real files use at most two levels).
const MAX_ARRAY_DEPTH: usize = 8;
/// Bytes fetched per read from a source while parsing the header.
const CHUNK: u64 = 1 << 20;

/// One tensor's description from the header.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the innermost (contiguous) dimension, i.e. the row length.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset of the tensor's bytes relative to the start of the data section.
    pub offset: u64,
    pub n_elements: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Elements per row (`dims[0]`).
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }
    /// Number of rows (product of all dims but the first).
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }
}

/// The parsed header of a GGUF file.
#[derive(Clone, Debug)]
pub struct Header {
    pub version: u32,
    pub metadata: Metadata,
    pub tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    pub alignment: u64,
    /// Absolute file offset of the data section.
    pub data_offset: u64,
    /// Length of the whole file.
    pub file_len: u64,
}

impl Header {
    /// Parses and validates the header of `src`. Every tensor's byte range is checked to lie
    /// within the file, aligned, without overlap, and of the size its shape and type imply.
    pub fn parse<S: RangeSource + ?Sized>(src: &S) -> Result<Header> {
        let mut c = Cursor::new(src);
        let mut magic = [0u8; 4];
        magic.copy_from_slice(c.take(4, "magic")?);
        if magic != GGUF_MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let version = c.u32("version")?;
        if version != 2 && version != 3 {
            return Err(GgufError::UnsupportedVersion { version });
        }
        let n_tensors = c.count("tensor count", 4 + 8 + 4 + 8 + 8)?;
        let n_kv = c.count("metadata key/value count", 8 + 4 + 1)?;

        let mut metadata = Metadata::new();
        for _ in 0..n_kv {
            let at = c.pos;
            let key = c.string("metadata key")?;
            let tid = c.u32("metadata value type")?;
            let ty = ValueType::from_id(tid).ok_or(GgufError::BadValueType {
                key: key.clone(),
                type_id: tid,
                offset: c.pos - 4,
            })?;
            let value = c.value(&key, ty, 0)?;
            if metadata.contains(&key) {
                return Err(GgufError::DuplicateKey { key, offset: at });
            }
            metadata.insert(key, value);
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => {
                let a = v.as_u64().ok_or_else(|| GgufError::WrongValueType {
                    key: "general.alignment".into(),
                    expected: "unsigned integer",
                    found: v.value_type().name(),
                })?;
                if a == 0 || !a.is_power_of_two() || a > 65536 {
                    return Err(GgufError::BadAlignment { alignment: a });
                }
                a
            }
        };

        let mut tensors = Vec::with_capacity(initial_capacity(n_tensors));
        let mut tensor_index = HashMap::with_capacity(initial_capacity(n_tensors));
        for _ in 0..n_tensors {
            let at = c.pos;
            let name = c.string("tensor name")?;
            let n_dims = c.u32("tensor dimension count")?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(GgufError::BadShape {
                    tensor: name,
                    dims: vec![],
                    why: format!("{n_dims} dimensions (must be 1..={MAX_DIMS})"),
                });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64("tensor dimension")?);
            }
            let tid = c.u32("tensor type")?;
            let ty = GgmlType::from_id(tid).ok_or_else(|| GgufError::UnknownTensorType {
                tensor: name.clone(),
                type_id: tid,
                offset: c.pos - 4,
            })?;
            let offset = c.u64("tensor data offset")?;
            let (n_elements, n_bytes) = tensor_size(&name, &dims, ty)?;
            if offset % alignment != 0 {
                return Err(GgufError::Misaligned {
                    tensor: name,
                    offset,
                    alignment,
                });
            }
            if tensor_index.insert(name.clone(), tensors.len()).is_some() {
                return Err(GgufError::DuplicateTensor { name, offset: at });
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ty,
                offset,
                n_elements,
                n_bytes,
            });
        }

        let file_len = c.len;
        let data_offset = align_up(c.pos, alignment);
        check_ranges(&tensors, data_offset, file_len)?;
        Ok(Header {
            version,
            metadata,
            tensors,
            tensor_index,
            alignment,
            data_offset,
            file_len,
        })
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// Absolute byte range of a tensor within the file.
    pub fn tensor_range(&self, t: &TensorInfo) -> std::ops::Range<u64> {
        let start = self.data_offset + t.offset;
        start..start + t.n_bytes
    }

    /// `general.architecture`, if present and a string.
    pub fn architecture(&self) -> Option<&str> {
        self.metadata
            .get("general.architecture")
            .and_then(Value::as_str)
    }
}

/// Up-front reservation for `n` parsed items. A count is only known to fit the file's bytes, and an
/// item in memory is larger than its encoding (a `Value` is 32 bytes, a u8 in the file is one), so
/// a damaged count must not reserve many times the file size before parsing proves the items are
/// there; vectors grow past this as items are actually read.
fn initial_capacity(n: u64) -> usize {
    n.min(1 << 16) as usize
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a).saturating_mul(a)
}

/// Element count and byte size implied by a shape and type, with every overflow an error.
pub(crate) fn tensor_size(name: &str, dims: &[u64], ty: GgmlType) -> Result<(u64, u64)> {
    let bad = |why: String| GgufError::BadShape {
        tensor: name.to_string(),
        dims: dims.to_vec(),
        why,
    };
    if dims.contains(&0) {
        return Err(bad("a dimension is zero".into()));
    }
    let n_elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(|| bad("element count overflows".into()))?;
    let row = ty.row_bytes(dims[0]).ok_or_else(|| {
        bad(format!(
            "row length {} is not a multiple of the {} block size {}",
            dims[0],
            ty,
            ty.block_size()
        ))
    })?;
    let n_bytes = row
        .checked_mul(n_elements / dims[0])
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(|| bad("byte size overflows".into()))?;
    Ok((n_elements, n_bytes))
}

/// Every tensor inside the file and no two sharing bytes.
fn check_ranges(tensors: &[TensorInfo], data_offset: u64, file_len: u64) -> Result<()> {
    for t in tensors {
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        match (start, end) {
            (Some(_), Some(e)) if e <= file_len => {}
            _ => {
                return Err(GgufError::TensorOutOfBounds {
                    tensor: t.name.clone(),
                    start: start.unwrap_or(u64::MAX),
                    end: end.unwrap_or(u64::MAX),
                    len: file_len,
                })
            }
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| t.offset);
    for w in order.windows(2) {
        if w[0].offset + w[0].n_bytes > w[1].offset {
            return Err(GgufError::Overlap {
                a: w[0].name.clone(),
                b: w[1].name.clone(),
                offset: w[1].offset,
            });
        }
    }
    Ok(())
}

/// Sequential reader over a random-access source, fetching in chunks.
struct Cursor<'s, S: RangeSource + ?Sized> {
    src: &'s S,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'s, S: RangeSource + ?Sized> Cursor<'s, S> {
    fn new(src: &'s S) -> Self {
        Self {
            src,
            len: src.len(),
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// The next `n` bytes; `what` names them in the error if the file ends first.
    fn take(&mut self, n: u64, what: &str) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                what: what.to_string(),
                offset: self.pos,
                needed: n,
                len: self.len,
            });
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos + n > buf_end {
            let want = n.max(CHUNK).min(self.remaining());
            self.buf.resize(want as usize, 0);
            self.src
                .read_at(self.pos, &mut self.buf)
                .map_err(|source| GgufError::Io {
                    what: what.to_string(),
                    source,
                })?;
            self.buf_start = self.pos;
        }
        let start = (self.pos - self.buf_start) as usize;
        self.pos += n;
        Ok(&self.buf[start..start + n as usize])
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of items each needing at least `min_item` bytes: rejected before anything is
    /// allocated if the rest of the file could not possibly hold them.
    fn count(&mut self, what: &str, min_item: u64) -> Result<u64> {
        let at = self.pos;
        let n = self.u64(what)?;
        let available = self.remaining();
        if n.checked_mul(min_item).is_none_or(|need| need > available) {
            return Err(GgufError::AbsurdCount {
                what: what.to_string(),
                count: n,
                offset: at,
                available,
            });
        }
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let at = self.pos;
        let n = self.count(what, 1)?;
        let bytes = self.take(n, what)?.to_vec();
        String::from_utf8(bytes).map_err(|_| GgufError::BadUtf8 {
            what: what.to_string(),
            offset: at + 8,
        })
    }

    fn value(&mut self, key: &str, ty: ValueType, depth: usize) -> Result<Value> {
        let what = || format!("value of '{key}'");
        Ok(match ty {
            ValueType::U8 => Value::U8(self.take(1, &what())?[0]),
            ValueType::I8 => Value::I8(self.take(1, &what())?[0] as i8),
            ValueType::Bool => {
                let at = self.pos;
                match self.take(1, &what())?[0] {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    b => {
                        return Err(GgufError::BadValueType {
                            key: key.to_string(),
                            type_id: 0x100 | b as u32,
                            offset: at,
                        })
                    }
                }
            }
            ValueType::U16 | ValueType::I16 => {
                let b = self.take(2, &what())?;
                let v = u16::from_le_bytes([b[0], b[1]]);
                if ty == ValueType::U16 {
                    Value::U16(v)
                } else {
                    Value::I16(v as i16)
                }
            }
            ValueType::U32 => Value::U32(self.u32(&what())?),
            ValueType::I32 => Value::I32(self.u32(&what())? as i32),
            ValueType::F32 => Value::F32(f32::from_bits(self.u32(&what())?)),
            ValueType::U64 => Value::U64(self.u64(&what())?),
            ValueType::I64 => Value::I64(self.u64(&what())? as i64),
            ValueType::F64 => Value::F64(f64::from_bits(self.u64(&what())?)),
            ValueType::String => Value::String(self.string(&what())?),
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(GgufError::TooDeep {
                        key: key.to_string(),
                        max: MAX_ARRAY_DEPTH,
                        offset: self.pos,
                    });
                }
                let tid = self.u32(&what())?;
                let ety = ValueType::from_id(tid).ok_or(GgufError::BadValueType {
                    key: key.to_string(),
                    type_id: tid,
                    offset: self.pos - 4,
                })?;
                let n = self.count(&format!("array length of '{key}'"), ety.min_encoded_size())?;
                let mut items = Vec::with_capacity(initial_capacity(n));
                for _ in 0..n {
                    items.push(self.value(key, ety, depth + 1)?);
                }
                Value::Array(ety, items)
            }
        })
    }
}
