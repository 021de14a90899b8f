//! The memory64 check: wasm32 caps linear memory at 4 GiB; in the wasm64 build
//! (`bindings/js/build-wasm64.sh`: nightly `-Z build-std=std,panic_abort --target
//! wasm64-unknown-unknown`) `memory64Check(nCtx)` runs the real forward pass on a synthetic
//! model (written with `GgufWriter`) whose F32 KV cache has `nCtx` positions, so with a large
//! one the later layers' caches lie above 4 GiB, and returns a checksum of the logits and the
//! size of linear memory. The Node 24 test (`bindings/js/test/wasm64/`) checks that a cache
//! past 4 GiB gives the bits of a small one (a wrapped or truncated address would not).

use chord_cpu::CpuBackend;
use chord_gguf::{GgufWriter, Value, ValueType};
use chord_model::{KvType, Logits, Model, ModelFile, Scratch};

const N_EMBD: usize = 256;
const N_HEAD: usize = 4;
const N_FF: usize = 512;
const N_VOCAB: usize = 1024;
const N_LAYER: usize = 4;

/// Deterministic weights in [-0.5, 0.5) scaled (xorshift).
fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
        })
        .collect()
}

/// A small Llama-architecture GGUF file (F32 weights).
pub fn synthetic_model() -> Result<Vec<u8>, String> {
    let mut w = GgufWriter::new();
    let u = |v: usize| Value::U32(v as u32);
    w.add_kv("general.architecture", Value::String("llama".into()));
    w.add_kv("llama.embedding_length", u(N_EMBD));
    w.add_kv("llama.attention.head_count", u(N_HEAD));
    w.add_kv("llama.block_count", u(N_LAYER));
    w.add_kv("llama.feed_forward_length", u(N_FF));
    w.add_kv("llama.context_length", u(1 << 24));
    w.add_kv("llama.vocab_size", u(N_VOCAB));
    w.add_kv("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5));
    w.add_kv(
        "tokenizer.ggml.tokens",
        Value::Array(
            ValueType::String,
            (0..N_VOCAB)
                .map(|i| Value::String(format!("t{i}")))
                .collect(),
        ),
    );
    let e = N_EMBD as u64;
    let mut seed = 1;
    let mut mat = |w: &mut GgufWriter, name: &str, rows: usize, cols: usize| {
        seed += 1;
        let scale = 2.0 / (cols as f32).sqrt();
        w.add_f32(
            name,
            &[cols as u64, rows as u64],
            &values(seed, rows * cols, scale),
        )
        .map(|_| ())
        .map_err(|err| err.to_string())
    };
    mat(&mut w, "token_embd.weight", N_VOCAB, N_EMBD)?;
    for i in 0..N_LAYER {
        let n = |s: &str| format!("blk.{i}.{s}");
        for (name, rows, cols) in [
            ("attn_q.weight", N_EMBD, N_EMBD),
            ("attn_k.weight", N_EMBD, N_EMBD),
            ("attn_v.weight", N_EMBD, N_EMBD),
            ("attn_output.weight", N_EMBD, N_EMBD),
            ("ffn_gate.weight", N_FF, N_EMBD),
            ("ffn_up.weight", N_FF, N_EMBD),
            ("ffn_down.weight", N_EMBD, N_FF),
        ] {
            mat(&mut w, &n(name), rows, cols)?;
        }
        for name in ["attn_norm.weight", "ffn_norm.weight"] {
            w.add_f32(n(name), &[e], &vec![1.0; N_EMBD])
                .map_err(|err| err.to_string())?;
        }
    }
    w.add_f32("output_norm.weight", &[e], &vec![1.0; N_EMBD])
        .map_err(|err| err.to_string())?;
    mat(&mut w, "output.weight", N_VOCAB, N_EMBD)?;
    Ok(w.to_bytes())
}

/// Runs 8 tokens through the synthetic model with an F32 KV cache of `n_ctx` positions and
/// folds the bits of every logit into one number.
pub fn logits_checksum(n_ctx: usize) -> Result<u64, String> {
    let file = ModelFile::from_bytes(synthetic_model()?).map_err(|e| e.to_string())?;
    let model = Model::load(file).map_err(|e| e.to_string())?;
    let mut cache = model.new_cache_with(n_ctx, KvType::F32);
    let backend = CpuBackend::new(1);
    let mut scratch = Scratch::default();
    let tokens = [1u32, 17, 300, 5, 999, 42, 7, 512];
    let mut sum = 0xcbf2_9ce4_8422_2325u64;
    // A prompt, then two single-token steps (attention over the cached positions).
    for chunk in [&tokens[..6], &tokens[6..7], &tokens[7..]] {
        let logits = model
            .forward(&backend, &mut cache, chunk, Logits::All, &mut scratch)
            .map_err(|e| e.to_string())?;
        for v in logits {
            sum = (sum ^ v.to_bits() as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    Ok(sum)
}

/// Bytes of one layer's K (or V) cache at `n_ctx` positions.
pub fn kv_layer_bytes(n_ctx: usize) -> u64 {
    (n_ctx * N_EMBD * 4) as u64
}

/// `{checksum, memory_bytes, kv_bytes}` as JSON: see the module docs.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = memory64Check)]
pub fn memory64_check(n_ctx: f64) -> Result<String, wasm_bindgen::JsError> {
    if !(n_ctx.is_finite() && n_ctx >= 8.0 && n_ctx.fract() == 0.0 && n_ctx <= usize::MAX as f64) {
        return Err(wasm_bindgen::JsError::new(&format!(
            "memory64Check: {n_ctx} positions is not a whole number >= 8 this build can address"
        )));
    }
    let n_ctx = n_ctx as usize;
    let sum = logits_checksum(n_ctx).map_err(|e| wasm_bindgen::JsError::new(&e))?;
    Ok(format!(
        "{{\"checksum\":\"{sum:016x}\",\"memory_bytes\":{},\"kv_bytes\":{}}}",
        memory_bytes(),
        2 * N_LAYER as u64 * kv_layer_bytes(n_ctx)
    ))
}

/// Current size of linear memory in bytes (0 natively).
fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm64")]
    {
        (core::arch::wasm64::memory_size::<0>() as u64) * 65536
    }
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size::<0>() as u64) * 65536
    }
    #[cfg(not(target_family = "wasm"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksum_does_not_depend_on_the_cache_size() {
        let a = super::logits_checksum(16).unwrap();
        assert_eq!(a, super::logits_checksum(4096).unwrap());
    }
}
