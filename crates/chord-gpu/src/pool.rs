//! A pool of device buffers reused between operations: activations, outputs, uniforms and
//! read-back staging are taken for one submission and given back after it, so steady-state
//! decoding creates no buffers. Sizes are rounded up to powers of two (at least 256 bytes) so a
//! buffer serves every later request of its size class.

use std::collections::HashMap;

/// Sizes below this are rounded up to it (also the uniform-offset alignment of most adapters).
const MIN_SIZE: u64 = 256;

#[derive(Default)]
pub struct BufferPool {
    free: HashMap<(u32, u64), Vec<wgpu::Buffer>>,
    created: usize,
}

impl BufferPool {
    /// A buffer of at least `size` bytes with exactly `usage`.
    pub fn take(
        &mut self,
        device: &wgpu::Device,
        usage: wgpu::BufferUsages,
        size: u64,
    ) -> wgpu::Buffer {
        let class = size.max(MIN_SIZE).next_power_of_two();
        if let Some(b) = self.free.get_mut(&(usage.bits(), class)).and_then(Vec::pop) {
            return b;
        }
        self.created += 1;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("chord-gpu pool"),
            size: class,
            usage,
            mapped_at_creation: false,
        })
    }

    /// Returns a buffer taken from this pool.
    pub fn give(&mut self, b: wgpu::Buffer) {
        self.free
            .entry((b.usage().bits(), b.size()))
            .or_default()
            .push(b);
    }

    /// Buffers created so far (for tests: a second identical operation creates none).
    pub fn created(&self) -> usize {
        self.created
    }
}
