//! The three ways to hold a GGUF file: a borrowed byte slice, a memory map, or a random-access
//! stream. The first two hand out tensor bytes by reference (zero-copy); the stream fetches a
//! tensor's bytes on request.

use crate::error::{GgufError, Result};
use crate::header::{Header, TensorInfo};
use crate::source::RangeSource;

/// A GGUF file held in memory; tensor data is borrowed from the slice.
pub struct GgufSlice<'a> {
    header: Header,
    bytes: &'a [u8],
}

impl<'a> GgufSlice<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let header = Header::parse(bytes)?;
        Ok(Self { header, bytes })
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn into_header(self) -> Header {
        self.header
    }
    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// A tensor's bytes (validated at parse time to lie within the file).
    pub fn tensor_data(&self, t: &TensorInfo) -> &'a [u8] {
        tensor_slice(&self.header, self.bytes, t)
    }
    /// A tensor's info and bytes by name.
    pub fn tensor(&self, name: &str) -> Result<(&TensorInfo, &'a [u8])> {
        let t = self
            .header
            .tensor(name)
            .ok_or_else(|| GgufError::TensorNotFound(name.to_string()))?;
        Ok((t, self.tensor_data(t)))
    }
}

fn tensor_slice<'b>(h: &Header, bytes: &'b [u8], t: &TensorInfo) -> &'b [u8] {
    let r = h.tensor_range(t);
    // The header validated r against the file length, and `bytes` is that file.
    &bytes[r.start as usize..r.end as usize]
}

/// A memory-mapped GGUF file (native only). Weights are read in place from the page cache.
#[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
pub struct GgufMmap {
    header: Header,
    map: memmap2::Mmap,
    path: std::path::PathBuf,
}

#[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
impl GgufMmap {
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let what = || path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| GgufError::Io {
            what: what(),
            source,
        })?;
        // SAFETY: the map is read-only. If another process truncates the file while it is
        // mapped, reads past the new end fault; that is the usual contract of mmap-based
        // loaders (llama.cpp's too) and cannot be prevented from inside the process.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| GgufError::Io {
            what: what(),
            source,
        })?;
        let header = Header::parse(&map[..])?;
        Ok(Self {
            header,
            map,
            path: path.to_path_buf(),
        })
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        tensor_slice(&self.header, &self.map, t)
    }
    pub fn tensor(&self, name: &str) -> Result<(&TensorInfo, &[u8])> {
        let t = self
            .header
            .tensor(name)
            .ok_or_else(|| GgufError::TensorNotFound(name.to_string()))?;
        Ok((t, self.tensor_data(t)))
    }
}

/// A GGUF file behind a random-access source: the header is parsed up front, tensor bytes are
/// fetched on demand (used to stream layers into a bounded cache).
pub struct GgufStream<S: RangeSource> {
    header: Header,
    src: S,
}

impl<S: RangeSource> GgufStream<S> {
    pub fn open(src: S) -> Result<Self> {
        let header = Header::parse(&src)?;
        Ok(Self { header, src })
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn source(&self) -> &S {
        &self.src
    }
    /// Reads a tensor's bytes into `buf` (resized to fit; reuse it to avoid allocation).
    pub fn read_tensor(&self, t: &TensorInfo, buf: &mut Vec<u8>) -> Result<()> {
        let r = self.header.tensor_range(t);
        buf.resize(t.n_bytes as usize, 0);
        self.src
            .read_at(r.start, buf)
            .map_err(|source| GgufError::Io {
                what: format!("tensor '{}'", t.name),
                source,
            })
    }
}
