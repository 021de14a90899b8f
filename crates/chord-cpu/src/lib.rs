//! chord-cpu: the CPU implementation of `chord_model::Backend`.
//!
//! A matrix product quantizes each activation row once into the weight type's dot-product
//! partner (Q8_0, Q8_1, Q8_K, F16, BF16 or F32, as llama.cpp pairs them), then every output is
//! one `chord_quant` vec-dot of a weight row with an activation row, the weights read in place.
//! Rows of the weight matrix are split across threads; within a thread, each weight row is
//! used for every token of the batch while it is hot in cache.

mod matmul;

pub use matmul::CpuBackend;
