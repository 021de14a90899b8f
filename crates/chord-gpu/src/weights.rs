//! Weight matrices on the device, in their quantized block format (never expanded to F32).
//! A matrix is uploaded once, on first use, and split by whole rows into buffers no larger than
//! the adapter's largest storage binding (128 MiB on lavapipe), so Qwen's 150k-row embedding
//! fits; each part is dispatched with its first row as an offset.

use crate::error::{GpuError, Result};
use crate::Gpu;
use chord_gguf::GgmlType;
use chord_model::MatRef;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows `row0 .. row0 + rows` of a matrix in one buffer.
pub struct Part {
    pub buf: wgpu::Buffer,
    pub row0: usize,
    pub rows: usize,
}

pub struct GpuMatrix {
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub row_bytes: usize,
    pub parts: Vec<Part>,
}

impl GpuMatrix {
    pub fn bytes(&self) -> usize {
        self.rows * self.row_bytes
    }
}

/// Splits `rows` rows of `row_bytes` each into runs that fit `max_bytes`.
pub fn split_rows(rows: usize, row_bytes: usize, max_bytes: u64) -> Result<Vec<(usize, usize)>> {
    let per = (max_bytes / row_bytes.max(1) as u64) as usize;
    if per == 0 {
        return Err(GpuError::Shape(format!(
            "a row of {row_bytes} bytes exceeds the adapter's largest storage binding ({max_bytes} bytes)"
        )));
    }
    Ok((0..rows)
        .step_by(per)
        .map(|r0| (r0, per.min(rows - r0)))
        .collect())
}

/// Uploads `w` (checked against its type and shape) as one or more buffers.
pub fn upload(gpu: &Gpu, w: &MatRef<'_>) -> Result<GpuMatrix> {
    let row_bytes = chord_quant::row_bytes(w.ty, w.cols)
        .map_err(|e| GpuError::Shape(format!("matmul {}: {e}", w.name)))?;
    if w.data.len() != row_bytes * w.rows {
        return Err(GpuError::Shape(format!(
            "matmul {}: {} bytes for {} rows of {row_bytes}",
            w.name,
            w.data.len(),
            w.rows
        )));
    }
    let mut parts = Vec::new();
    for (row0, rows) in split_rows(w.rows, row_bytes, gpu.max_binding_bytes())? {
        let bytes = &w.data[row0 * row_bytes..(row0 + rows) * row_bytes];
        // Mapped buffers must be a multiple of 4 bytes; the padding is never read as a row.
        let size = (bytes.len() as u64).div_ceil(4) * 4;
        let buf = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(w.name),
            size: size.max(4),
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: true,
        });
        gpu.check()?;
        {
            let mut view = buf
                .slice(..)
                .get_mapped_range_mut()
                .map_err(|e| GpuError::OutOfMemory(format!("{}: {e}", w.name)))?;
            view.slice(..bytes.len()).copy_from_slice(bytes);
        }
        buf.unmap();
        parts.push(Part { buf, row0, rows });
    }
    gpu.check()?;
    Ok(GpuMatrix {
        name: w.name.to_string(),
        ty: w.ty,
        rows: w.rows,
        cols: w.cols,
        row_bytes,
        parts,
    })
}

/// What identifies a matrix in host memory: where its bytes live (the model file stays mapped
/// for the model's life), their length, name, type and shape, and a fingerprint of sampled
/// bytes, so that other bytes later placed at a freed address (another model, a test's buffer)
/// are not mistaken for an uploaded matrix.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    addr: usize,
    len: usize,
    name: String,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    sample: u64,
}

/// FNV-1a over up to 512 bytes spread evenly through `data`.
fn fingerprint(data: &[u8]) -> u64 {
    let step = (data.len() / 512).max(1);
    data.iter()
        .step_by(step)
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Matrices already on the device (see [`Key`]). `clear` drops them all.
#[derive(Default)]
pub struct WeightCache {
    map: HashMap<Key, Arc<GpuMatrix>>,
    bytes: usize,
}

impl WeightCache {
    pub fn get_or_upload(&mut self, gpu: &Gpu, w: &MatRef<'_>) -> Result<Arc<GpuMatrix>> {
        let key = Key {
            addr: w.data.as_ptr() as usize,
            len: w.data.len(),
            name: w.name.to_string(),
            ty: w.ty,
            rows: w.rows,
            cols: w.cols,
            sample: fingerprint(w.data),
        };
        if let Some(m) = self.map.get(&key) {
            return Ok(m.clone());
        }
        let m = Arc::new(upload(gpu, w)?);
        self.bytes += m.bytes();
        self.map.insert(key, m.clone());
        Ok(m)
    }
    /// Bytes of weights resident on the device.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}
