//! Bit-exactness against llama.cpp's own C code (`tools/ggml_ref_expected.py` compiles
//! `ggml-quants.c` and `ggml-cpu/quants.c` unmodified and records outputs in
//! `tests/data/quant/ggml_ref.json`): reference quantization to Q8_0/Q8_1/Q8_K/Q4_0 (and the
//! F32/F16/BF16 conversions) must give the same bytes, and every vec-dot kernel (scalar and
//! AVX2) the same f32 bits as `ggml_vec_dot_*_generic` / the scalar `ggml_vec_dot_{f32,f16,bf16}`;
//! dequantization of the same rows must equal `dequantize_row_*` (SHA-256 of the f32 output).

mod common;

use chord_gguf::GgmlType;
use chord_quant::{dequantize, quantize, row_bytes, vec_dot_type, Isa, VecDotKernel};
use sha2::{Digest, Sha256};

fn sha256_f32(v: &[f32]) -> String {
    let mut h = Sha256::new();
    for x in v {
        h.update(x.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn ty(name: &str) -> GgmlType {
    GgmlType::ALL
        .iter()
        .copied()
        .find(|t| t.to_string() == name)
        .unwrap_or_else(|| panic!("unknown type {name}"))
}

#[test]
fn quantization_and_vec_dot_match_llama_cpp_bit_for_bit() {
    let doc = common::expected_json("ggml_ref.gguf");
    let cases = doc["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    // The scalar flavour is ggml's generic C; the SIMD flavours follow ggml's x86 kernels
    // (another summation order) and are checked against scalar in tests/vec_dot.rs.
    let isas = [Isa::Scalar];
    let mut n_dots = 0;
    let mut n_dequant = 0;
    for case in cases {
        let n = case["n"].as_u64().unwrap() as usize;
        let x: Vec<f32> = common::from_hex(case["x"].as_str().unwrap())
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(x.len(), n);
        for q in [
            GgmlType::Q8_0,
            GgmlType::Q8_1,
            GgmlType::Q8_K,
            GgmlType::Q4_0,
        ] {
            let want = common::from_hex(case[q.name().to_lowercase().as_str()].as_str().unwrap());
            let mut got = vec![0u8; row_bytes(q, n).unwrap()];
            quantize(q, &x, &mut got).unwrap();
            let bs = q.type_size() as usize;
            for (i, (g, w)) in got.chunks(bs).zip(want.chunks(bs)).enumerate() {
                assert_eq!(
                    g,
                    w,
                    "n={n}: {q} block {i} differs from quantize_row_{}_ref",
                    q.name()
                );
            }
        }
        let q8k = common::from_hex(case["q8_k"].as_str().unwrap());
        let mut f = vec![0f32; n];
        dequantize(GgmlType::Q8_K, &q8k, &mut f).unwrap();
        assert_eq!(
            sha256_f32(&f),
            case["q8_k_dequant_sha256"].as_str().unwrap(),
            "n={n}: dequantize_row_q8_K"
        );
        for d in case["dots"].as_array().unwrap() {
            let w_ty = ty(d["type"].as_str().unwrap());
            let act_ty = vec_dot_type(w_ty).unwrap();
            let w = common::from_hex(d["w"].as_str().unwrap());
            let a = common::from_hex(
                case[act_ty.name().to_lowercase().as_str()]
                    .as_str()
                    .unwrap(),
            );
            if let Some(sha) = d.get("dequant_sha256") {
                let mut f = vec![0f32; n];
                dequantize(w_ty, &w, &mut f).unwrap();
                assert_eq!(
                    sha256_f32(&f),
                    sha.as_str().unwrap(),
                    "n={n}: {w_ty} dequantize_row"
                );
                n_dequant += 1;
            }
            let want = d["bits"].as_u64().unwrap() as u32;
            for &isa in &isas {
                let k = VecDotKernel::with_isa(w_ty, isa).unwrap();
                k.check_rows(n, w.len(), a.len()).unwrap();
                let got = k.dot(n, &w, &a);
                assert_eq!(
                    got.to_bits(),
                    want,
                    "n={n}: {} gives {got}, llama.cpp {}",
                    k.name,
                    f32::from_bits(want)
                );
            }
            n_dots += 1;
        }
    }
    // Two rows of each of the 15 weight types per case.
    assert_eq!(n_dots, 2 * 15 * cases.len(), "dot products checked");
    assert_eq!(
        n_dequant,
        2 * 12 * cases.len(),
        "quantized rows dequantized"
    );
}
