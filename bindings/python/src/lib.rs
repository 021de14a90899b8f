//! The `wasm_chord` Python package's native part (`wasm_chord._native`): a thin face over
//! chord-engine. Models resolve by path or by name through chord-hub (like `chord run -m`);
//! generation runs on a worker thread without the GIL while the calling thread waits for text
//! pieces and checks for signals, so Ctrl-C interrupts it promptly and leaves the model usable.
//! Nothing here tokenizes, samples or schedules: that is the engine's job.

mod args;
mod errors;
mod metadata;
mod model;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::Model>()?;
    m.add_class::<stream::TextStream>()?;
    m.add("ModelError", m.py().get_type::<errors::ModelError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The CPU kernel flavour this process runs (`CHORD_ISA` or the best the CPU has): tells
    // whether results are llama.cpp's AVX-512 build's bits ("avx512", "avx512emu").
    m.add("kernel_isa", chord_quant::selected_isa().name())?;
    Ok(())
}
