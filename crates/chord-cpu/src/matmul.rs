use chord_model::{Backend, MatRef, ModelError, Result};
use std::sync::Mutex;

/// CPU backend: a thread count and a reusable buffer for quantized activations.
pub struct CpuBackend {
    n_threads: usize,
    act: Mutex<Vec<u8>>,
}

impl CpuBackend {
    /// `n_threads` = 0 picks the number of available cores.
    pub fn new(n_threads: usize) -> Self {
        let n = if n_threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            n_threads
        };
        Self {
            n_threads: n,
            act: Mutex::new(Vec::new()),
        }
    }
    pub fn n_threads(&self) -> usize {
        self.n_threads
    }
}

/// Output pointer shared by the threads of one matmul. Each thread writes only the rows of its
/// own disjoint range, so no two threads touch the same element.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: see above: writes through it are to disjoint indices, and the scope joins all threads
// before the borrow of `y` ends.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// SAFETY: the caller guarantees `i` is in bounds of the output and that no other thread
    /// writes index `i`.
    unsafe fn write(self, i: usize, v: f32) {
        unsafe { *self.0.add(i) = v };
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!(
            "cpu ({} threads, {})",
            self.n_threads,
            chord_quant::selected_isa().name()
        )
    }

    fn matmul(&self, w: MatRef<'_>, x: &[f32], n_tokens: usize, y: &mut [f32]) -> Result<()> {
        let qerr =
            |e: chord_quant::QuantError| ModelError::Backend(format!("matmul {}: {e}", w.name));
        if x.len() < n_tokens * w.cols || y.len() < n_tokens * w.rows {
            return Err(ModelError::Backend(format!(
                "matmul {}: buffer sizes do not match the shape",
                w.name
            )));
        }
        let kernel = chord_quant::VecDotKernel::new(w.ty).map_err(qerr)?;
        let act_ty = kernel.act_ty;
        let (w_row, a_row) = kernel.row_bytes(w.cols).map_err(qerr)?;
        if w.data.len() != w_row * w.rows {
            return Err(ModelError::Backend(format!(
                "matmul {}: {} bytes for {} rows of {w_row}",
                w.name,
                w.data.len(),
                w.rows
            )));
        }
        let dot = kernel.func();
        tracing::trace!(target: "chord_cpu", weight = w.name, ty = %w.ty, rows = w.rows, cols = w.cols, n_tokens, kernel = kernel.name, "matmul");

        let mut act = self.act.lock().unwrap_or_else(|p| p.into_inner());
        if act.len() < n_tokens * a_row {
            act.resize(n_tokens * a_row, 0);
        }
        for t in 0..n_tokens {
            chord_quant::quantize_activation(
                act_ty,
                &x[t * w.cols..(t + 1) * w.cols],
                &mut act[t * a_row..(t + 1) * a_row],
            )
            .map_err(qerr)?;
        }
        let act = &act[..n_tokens * a_row];
        let out = OutPtr(y.as_mut_ptr());
        let rows = w.rows;
        let work = move |r0: usize, r1: usize| {
            for r in r0..r1 {
                let wr = &w.data[r * w_row..(r + 1) * w_row];
                for t in 0..n_tokens {
                    let v = dot(w.cols, wr, &act[t * a_row..(t + 1) * a_row]);
                    // SAFETY: r < rows and t < n_tokens, checked against y.len() above; each
                    // (t, r) is written by exactly one thread (r ranges are disjoint).
                    unsafe { out.write(t * rows + r, v) };
                }
            }
        };
        let n_threads = self.n_threads.min(rows).max(1);
        if n_threads == 1 || rows * w.cols * n_tokens < 32 * 1024 {
            work(0, rows);
        } else {
            let per = rows.div_ceil(n_threads);
            std::thread::scope(|s| {
                for i in 1..n_threads {
                    let (r0, r1) = (i * per, ((i + 1) * per).min(rows));
                    if r0 < r1 {
                        s.spawn(move || work(r0, r1));
                    }
                }
                work(0, per.min(rows));
            });
        }
        Ok(())
    }
}
