//! GGUF container format (v2 and v3), as written by llama.cpp.
//!
//! Layout of a file:
//! ```text
//! magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
//! n_kv × (key: string, type: u32, value)
//! n_tensors × (name: string, n_dims: u32, dims: n_dims × u64, type: u32, offset: u64)
//! padding to `general.alignment` (default 32)
//! data section: tensor bytes; each tensor's offset is relative to the start of this section
//! ```
//! All integers are little-endian. Strings are `u64 length + UTF-8 bytes` (no terminator).
//!
//! Three ways in, one parser:
//! - [`GgufSlice`]: a byte slice already in memory (wasm, tests); tensor data is borrowed.
//! - [`GgufMmap`]: a memory-mapped file (native); tensor data is borrowed from the map.
//! - [`GgufStream`]: any [`RangeSource`] that can fetch a byte range on demand (HTTP Range
//!   requests, `Blob.slice`); only the header is read up front, tensors are fetched when asked.
//!
//! Nothing here knows about transformers: this crate is the container and nothing more.

mod error;
mod file;
mod header;
mod source;
mod types;
mod value;
mod writer;

pub use error::{GgufError, Result};
#[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
pub use file::GgufMmap;
pub use file::GgufSlice;
pub use file::GgufStream;
pub use header::{Header, TensorInfo, DEFAULT_ALIGNMENT, GGUF_MAGIC};
#[cfg(unix)]
pub use source::FileSource;
pub use source::RangeSource;
pub use types::GgmlType;
pub use value::{Metadata, Value, ValueType};
pub use writer::GgufWriter;
