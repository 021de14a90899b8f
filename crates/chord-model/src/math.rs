//! The transcendental functions of the forward pass (exp, tanh, pow, cos, sin), from one
//! pure-Rust implementation (the `libm` crate, the same code Rust's std uses on wasm32) on every
//! platform. The platform's own libm differs in the last bit for a few percent of inputs (glibc
//! vs musl-derived), which is enough to flip a greedy choice where the model's top two logits are
//! nearly tied; with one implementation the native portable path and the wasm build compute the
//! same bits.

#[inline]
pub fn expf(x: f32) -> f32 {
    libm::expf(x)
}

#[inline]
pub fn tanhf(x: f32) -> f32 {
    libm::tanhf(x)
}

#[inline]
pub fn powf(x: f32, y: f32) -> f32 {
    libm::powf(x, y)
}

#[inline]
pub fn cosf(x: f32) -> f32 {
    libm::cosf(x)
}

#[inline]
pub fn sinf(x: f32) -> f32 {
    libm::sinf(x)
}
