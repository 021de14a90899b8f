//! Dequantization against gguf-py 0.19 (`tools/dequant_expected.py` →
//! `tests/data/quant/*.json`): every tensor of every fixture and of the three real models.
//!
//! All supported types are bit-exact against Python (see the crate docs), so every tensor is
//! compared by SHA-256 of its little-endian f32 bytes and by the exact bits of ~64 samples; the
//! f64 sum is checked too, with a tolerance for summation order (numpy sums pairwise).

mod common;

use chord_gguf::{GgmlType, GgufMmap};
use chord_quant::dequantize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

struct Expected<'a> {
    ty: &'a str,
    n: u64,
    sha256: &'a str,
    sum: f64,
    abs_sum: f64,
    samples: Vec<(usize, u32)>,
}

fn parse(doc: &serde_json::Value) -> HashMap<&str, Expected<'_>> {
    let tensors = doc["tensors"].as_array().expect("tensors array");
    let mut out = HashMap::new();
    for t in tensors {
        let samples = t["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .map(|s| {
                (
                    s[0].as_u64().expect("index") as usize,
                    s[1].as_u64().expect("bits") as u32,
                )
            })
            .collect();
        let e = Expected {
            ty: t["type"].as_str().expect("type"),
            n: t["n_elements"].as_u64().expect("n_elements"),
            sha256: t["sha256"].as_str().expect("sha256"),
            sum: t["sum"].as_f64().expect("sum"),
            abs_sum: t["abs_sum"].as_f64().expect("abs_sum"),
            samples,
        };
        out.insert(t["name"].as_str().expect("name"), e);
    }
    out
}

fn sha256_f32(values: &[f32], scratch: &mut Vec<u8>) -> String {
    let mut h = Sha256::new();
    for chunk in values.chunks(16384) {
        scratch.clear();
        for v in chunk {
            scratch.extend_from_slice(&v.to_le_bytes());
        }
        h.update(&scratch[..]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Dequantizes every tensor of `path` and compares with the expected JSON. Returns the number
/// of tensors checked per type.
fn check_file(path: &Path, json_name: &str) -> HashMap<GgmlType, usize> {
    let doc = common::expected_json(json_name);
    let expected = parse(&doc);
    let file = GgufMmap::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        file.bytes().len() as u64,
        doc["file_size"].as_u64().expect("file_size"),
        "{}: size differs from the file the expected values were made from ({})",
        path.display(),
        doc["file_sha256"]
    );
    let header = file.header();
    assert_eq!(
        header.tensors.len(),
        expected.len(),
        "{}: tensor count",
        path.display()
    );
    let mut buf: Vec<f32> = Vec::new();
    let mut scratch = Vec::with_capacity(16384 * 4);
    let mut counts = HashMap::new();
    for t in &header.tensors {
        let what = format!("{}: tensor {} ({})", path.display(), t.name, t.ty);
        let e = expected
            .get(t.name.as_str())
            .unwrap_or_else(|| panic!("{what}: not in the expected JSON"));
        assert_eq!(e.ty, t.ty.to_string(), "{what}: type");
        assert_eq!(e.n, t.n_elements, "{what}: element count");
        buf.clear();
        buf.resize(t.n_elements as usize, f32::NAN);
        dequantize(t.ty, file.tensor_data(t), &mut buf)
            .unwrap_or_else(|err| panic!("{what}: {err}"));

        for &(i, bits) in &e.samples {
            assert_eq!(
                buf[i].to_bits(),
                bits,
                "{what}: element {i} is {} but gguf-py gives {}",
                buf[i],
                f32::from_bits(bits)
            );
        }
        let sum: f64 = buf.iter().map(|&v| v as f64).sum();
        let tol = 1e-9 * e.abs_sum + 1e-12;
        assert!(
            (sum - e.sum).abs() <= tol,
            "{what}: sum {sum} vs {} (tolerance {tol})",
            e.sum
        );
        assert_eq!(
            sha256_f32(&buf, &mut scratch),
            e.sha256,
            "{what}: sha256 of f32 data"
        );
        *counts.entry(t.ty).or_insert(0) += 1;
    }
    counts
}

#[test]
fn fixtures_dequantize_like_gguf_py() {
    let mut seen = HashMap::new();
    for name in common::FIXTURES {
        for (ty, c) in check_file(&common::fixture(name), name) {
            *seen.entry(ty).or_insert(0) += c;
        }
    }
    // Every type the fixtures exist for was exercised.
    for ty in chord_quant::WEIGHT_TYPES {
        assert!(
            seen.get(&ty).copied().unwrap_or(0) > 0,
            "no {ty} tensor in the fixtures"
        );
    }
}

#[test]
fn gemma_3_270m_dequantizes_like_gguf_py() {
    let name = common::MODELS[0];
    let counts = check_file(&common::model(name), name);
    assert!(counts.contains_key(&GgmlType::Q4_K), "{counts:?}");
}

#[test]
fn qwen25_coder_05b_dequantizes_like_gguf_py() {
    let name = common::MODELS[1];
    let counts = check_file(&common::model(name), name);
    assert!(counts.contains_key(&GgmlType::Q4_K), "{counts:?}");
}

#[test]
fn qwen25_coder_15b_dequantizes_like_gguf_py() {
    let name = common::MODELS[2];
    let counts = check_file(&common::model(name), name);
    assert!(counts.contains_key(&GgmlType::Q4_K), "{counts:?}");
}
