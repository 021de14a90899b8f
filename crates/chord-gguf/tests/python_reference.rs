//! chord-gguf against the reference reader: every fixture and the three real models parse, and
//! their version, alignment, data offset, metadata keys/types and tensor table (names, types,
//! shapes, offsets, sizes) equal what llama.cpp's Python `gguf.GGUFReader` reported
//! (tests/data/gguf/*.json, made by tools/gguf_expected.py).

use chord_gguf::{GgufMmap, Value};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gguf")
}

fn fixtures_dir() -> PathBuf {
    chord_testkit::fixtures_dir()
}

/// A real model from the model cache; the error says to run `chord pull NAME` when absent.
fn model_path(name: &str) -> PathBuf {
    chord_testkit::model(name)
}

fn py_type_name(v: &Value) -> &'static str {
    use chord_gguf::ValueType::*;
    match v.value_type() {
        U8 => "UINT8",
        I8 => "INT8",
        U16 => "UINT16",
        I16 => "INT16",
        U32 => "UINT32",
        I32 => "INT32",
        F32 => "FLOAT32",
        Bool => "BOOL",
        String => "STRING",
        Array => "ARRAY",
        U64 => "UINT64",
        I64 => "INT64",
        F64 => "FLOAT64",
    }
}

fn compare(path: &Path, expected: &str) {
    let exp: Json = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join(expected))
            .unwrap_or_else(|e| panic!("{expected}: {e}")),
    )
    .unwrap();
    let f = GgufMmap::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = f.header();
    let ctx = path.display();
    assert_eq!(
        h.file_len,
        exp["file_size"].as_u64().unwrap(),
        "{ctx}: size"
    );
    assert_eq!(
        h.version as u64,
        exp["gguf_version"].as_u64().unwrap(),
        "{ctx}"
    );
    assert_eq!(h.alignment, exp["alignment"].as_u64().unwrap(), "{ctx}");
    assert_eq!(h.data_offset, exp["data_offset"].as_u64().unwrap(), "{ctx}");

    let types = exp["metadata_types"].as_object().unwrap();
    assert_eq!(h.metadata.len(), types.len(), "{ctx}: key count");
    for (k, v) in h.metadata.iter() {
        let t = types[k]
            .as_array()
            .unwrap_or_else(|| panic!("{ctx}: extra key {k}"));
        assert_eq!(t[0], py_type_name(v), "{ctx}: type of {k}");
        if let Value::Array(ety, items) = v {
            if let Some(first) = items.first() {
                assert_eq!(first.value_type(), *ety);
                assert_eq!(t[1], py_type_name(first), "{ctx}: element type of {k}");
            }
        }
    }

    let tensors = exp["tensors"].as_array().unwrap();
    assert_eq!(
        h.tensors.len() as u64,
        exp["tensor_count"].as_u64().unwrap()
    );
    assert_eq!(h.tensors.len(), tensors.len(), "{ctx}: tensor count");
    for (t, e) in h.tensors.iter().zip(tensors) {
        assert_eq!(t.name, e["name"].as_str().unwrap(), "{ctx}");
        let n = &t.name;
        assert_eq!(
            t.ty as u64,
            e["type_id"].as_u64().unwrap(),
            "{ctx}: {n} type"
        );
        assert_eq!(
            t.ty.to_string(),
            e["type"].as_str().unwrap(),
            "{ctx}: {n} type name"
        );
        let shape: Vec<u64> = e["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(t.dims, shape, "{ctx}: {n} shape");
        assert_eq!(
            h.tensor_range(t).start,
            e["offset"].as_u64().unwrap(),
            "{ctx}: {n} offset"
        );
        assert_eq!(t.n_bytes, e["bytes"].as_u64().unwrap(), "{ctx}: {n} bytes");
        assert_eq!(
            t.n_elements,
            e["elements"].as_u64().unwrap(),
            "{ctx}: {n} elements"
        );
        assert_eq!(f.tensor_data(t).len() as u64, t.n_bytes);
    }
}

#[test]
fn fixtures_match_python_gguf() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures_dir()).expect("../shared/fixtures beside the repo") {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "gguf") {
            let stem = p.file_stem().unwrap().to_str().unwrap();
            compare(&p, &format!("{stem}.json"));
            n += 1;
        }
    }
    assert_eq!(n, 15, "expected the 15 tiny-llama fixtures");
}

#[test]
fn gemma3_270m_matches_python_gguf() {
    let p = model_path("gemma3-270m");
    compare(&p, "gemma-3-270m-q4_k_m.json");
}

#[test]
fn qwen_coder_0_5b_matches_python_gguf() {
    let p = model_path("qwen2.5-coder-0.5b");
    compare(&p, "qwen2.5-coder-0.5b-instruct-q4_k_m.json");
}

#[test]
fn qwen_coder_1_5b_matches_python_gguf() {
    let p = model_path("qwen2.5-coder-1.5b");
    compare(&p, "qwen2.5-coder-1.5b-instruct-q4_k_m.json");
}
