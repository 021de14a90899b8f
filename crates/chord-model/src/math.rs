//! The transcendental functions of the forward pass (exp, tanh, pow, cos, sin), each from one
//! pure-Rust implementation on every platform, so the native portable path and the wasm build
//! compute the same bits. cos and sin (RoPE's tables, [`crate::sincosf`]) and tanh (the GELU
//! table, [`crate::tanhf`]) are our ports of glibc's algorithms, so those tables also equal
//! llama.cpp's on Linux bit for bit; exp and pow come from the `libm` crate (the code Rust's
//! std uses on wasm32; where llama.cpp's results depend on exp it uses ggml's own vectorised
//! exp, mirrored in chord-cpu). A platform libm differs in the
//! last bit for a few percent of inputs, which is enough to flip a greedy choice where the
//! model's top two logits are nearly tied.

#[inline]
pub fn expf(x: f32) -> f32 {
    libm::expf(x)
}

#[inline]
pub fn tanhf(x: f32) -> f32 {
    crate::tanhf::tanhf(x)
}

#[inline]
pub fn powf(x: f32, y: f32) -> f32 {
    libm::powf(x, y)
}

#[inline]
pub fn cosf(x: f32) -> f32 {
    crate::sincosf::cosf(x)
}

#[inline]
pub fn sinf(x: f32) -> f32 {
    crate::sincosf::sinf(x)
}
