//! `chord inspect` and `chord pull` run as a user would: the built binary, on a fixture by path
//! and on the real models by name (from the model cache: `chord pull NAME` fetches them).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn chord(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chord"))
        .args(args)
        .output()
        .expect("run chord");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn inspect_json(model: &str) -> Value {
    let (ok, stdout, stderr) = chord(&["inspect", model, "--json"]);
    assert!(
        ok,
        "chord inspect {model} failed (if the model is missing: run `chord pull {model}`):\n{stderr}"
    );
    serde_json::from_str(&stdout).expect("inspect --json prints one JSON object")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(name)
}

/// Sum of bytes and counts in `tensor_types` agree with the tensor list.
fn check_consistency(j: &Value) {
    let tensors = j["tensors"].as_array().expect("tensors");
    assert_eq!(j["tensor_count"].as_u64(), Some(tensors.len() as u64));
    let types = j["tensor_types"].as_object().expect("tensor_types");
    let count: u64 = types.values().map(|t| t["count"].as_u64().unwrap()).sum();
    let bytes: u64 = types.values().map(|t| t["bytes"].as_u64().unwrap()).sum();
    assert_eq!(count, tensors.len() as u64);
    assert_eq!(
        bytes,
        tensors
            .iter()
            .map(|t| t["bytes"].as_u64().unwrap())
            .sum::<u64>()
    );
    let size = j["file_size"].as_u64().unwrap();
    for t in tensors {
        let end = t["offset"].as_u64().unwrap() + t["bytes"].as_u64().unwrap();
        assert!(end <= size, "{t}");
        assert!(t["offset"].as_u64().unwrap() >= j["data_offset"].as_u64().unwrap());
    }
}

#[test]
fn inspect_fixture_json() {
    let path = fixture("tiny-llama-q4_k.gguf");
    let j = inspect_json(path.to_str().unwrap());
    assert_eq!(
        j["file_size"].as_u64(),
        Some(std::fs::metadata(&path).unwrap().len())
    );
    assert_eq!(j["gguf_version"], 3);
    assert_eq!(j["architecture"], "llama");
    let hp = &j["hyperparameters"];
    assert_eq!(hp["block_count"], 2);
    assert_eq!(hp["embedding_length"], 256);
    assert_eq!(hp["head_count"], 8);
    assert_eq!(hp["head_count_kv"], 4);
    assert_eq!(hp["head_dim"], 32);
    assert_eq!(hp["feed_forward_length"], 512);
    assert_eq!(hp["context_length"], 512);
    assert_eq!(hp["rms_epsilon"], 1e-5);
    assert_eq!(hp["rope_freq_base"], 10000.0);
    assert_eq!(j["tokenizer"]["model"], "llama");
    assert_eq!(j["tokenizer"]["vocab_size"], 384);
    assert_eq!(j["chat_template"], false);
    assert_eq!(j["tensor_count"], 21);
    assert_eq!(j["tensors"][0]["name"], "output.weight");
    assert_eq!(j["tensors"][0]["type"], "Q4_K");
    assert_eq!(j["tensors"][0]["shape"], serde_json::json!([256, 384]));
    assert_eq!(j["tensors"][0]["bytes"], 55296);
    assert_eq!(j["tensors"][0]["offset"], j["data_offset"]);
    // 384-token arrays are summarised, scalars are plain.
    let toks = &j["metadata"]["tokenizer.ggml.tokens"];
    assert_eq!(toks["len"], 384);
    assert_eq!(toks["element_type"], "string");
    assert_eq!(toks["head"][1], "<s>");
    assert_eq!(j["metadata"]["llama.block_count"], 2);
    check_consistency(&j);
}

#[test]
fn inspect_fixture_human() {
    let path = fixture("tiny-llama-q8_0.gguf");
    let (ok, out, err) = chord(&["inspect", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    for needle in [
        "architecture:  llama",
        "block_count",
        "tokenizer:",
        "chat template          absent",
        "tokenizer.ggml.tokens",
        "(384 × string)",
        "blk.1.ffn_up.weight",
        "Q8_0",
        "tensors (21)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn inspect_gemma3_by_name() {
    let j = inspect_json("gemma3-270m");
    assert_eq!(j["architecture"], "gemma3");
    assert_eq!(j["file_size"], 253113024);
    let hp = &j["hyperparameters"];
    assert_eq!(hp["block_count"], 18);
    assert_eq!(hp["embedding_length"], 640);
    assert_eq!(hp["head_count"], 4);
    assert_eq!(hp["head_count_kv"], 1);
    assert_eq!(hp["key_length"], 256);
    assert_eq!(hp["head_dim"], 256);
    assert_eq!(hp["sliding_window"], 512);
    assert_eq!(j["tensor_count"], 236);
    assert_eq!(j["tokenizer"]["model"], "llama");
    assert_eq!(j["tokenizer"]["vocab_size"], 262144);
    assert_eq!(j["chat_template"], false);
    let params = j["parameters"].as_u64().unwrap();
    assert!((260_000_000..290_000_000).contains(&params), "{params}");
    check_consistency(&j);
}

#[test]
fn inspect_qwen_0_5b_by_alias() {
    let j = inspect_json("qwen-coder-0.5b");
    assert_eq!(j["architecture"], "qwen2");
    assert_eq!(j["hyperparameters"]["block_count"], 24);
    assert_eq!(j["tensor_count"], 291);
    assert_eq!(j["chat_template"], true);
    assert_eq!(j["tokenizer"]["model"], "gpt2");
    assert!(j["tokenizer"]["merges"].as_u64().unwrap() > 100_000);
    check_consistency(&j);
}

#[test]
fn unknown_model_and_bad_file_fail_cleanly() {
    let (ok, _, err) = chord(&["inspect", "no-such-model"]);
    assert!(!ok);
    assert!(
        err.contains("gemma3-270m") && err.contains("qwen2.5-coder-1.5b"),
        "{err}"
    );
    // A file that is not GGUF: a typed error message, not a panic.
    let (ok, _, err) = chord(&["inspect", env!("CARGO_MANIFEST_DIR")]);
    assert!(!ok);
    assert!(!err.contains("panicked"), "{err}");
    let (ok, _, err) = chord(&[
        "inspect",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli_inspect.rs"),
    ]);
    assert!(!ok);
    assert!(err.contains("not a GGUF file"), "{err}");
}

#[test]
fn pull_known_model_is_a_verified_no_op() {
    // The model is in the cache (scripts/setup.sh pulls it): pull verifies the sha256 and
    // prints the path without downloading.
    let (ok, out, err) = chord(&["pull", "gemma3-270m"]);
    assert!(ok, "chord pull gemma3-270m failed:\n{err}");
    assert!(out.trim().ends_with("gemma-3-270m-q4_k_m.gguf"), "{out}");
    assert!(
        !err.contains("download"),
        "should not download again:\n{err}"
    );
    let (ok, _, err) = chord(&["pull", "no-such-model"]);
    assert!(!ok);
    assert!(err.contains("known models"), "{err}");
}
