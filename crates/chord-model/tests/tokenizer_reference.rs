//! Our tokenizers against llama.cpp's: every reference string and prompt of the three real models
//! and of the tiny fixtures must give exactly llama.cpp's ids, decode back to the input, and
//! render llama.cpp's greedy tokens to llama.cpp's bytes.
//!
//! Data: `tests/data/tokenizer/` (see its README.md). Models: `$CHORD_HOME/models/` or
//! `~/.cache/wasm-chord/models/`; fixtures: `$CHORD_FIXTURES` or `<repo>/../shared/fixtures/`.
//! A missing model fails the test with instructions; nothing is skipped.

use chord_gguf::{GgufMmap, Metadata, Value as GgufValue};
use chord_model::tokenizer::{Tokenizer, Utf8Stream};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chord_testkit::repo_root;

fn data_dir() -> PathBuf {
    repo_root().join("tests/data/tokenizer")
}

fn model_path(file: &str) -> PathBuf {
    chord_testkit::model(file)
}

fn fixture_path(file: &str) -> PathBuf {
    chord_testkit::fixture(file)
}

fn load_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("id array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load_tokenizer(path: &Path) -> Tokenizer {
    let file = GgufMmap::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t0 = Instant::now();
    let tok = Tokenizer::from_metadata(&file.header().metadata)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!(
        "{}: tokenizer built in {:.1} ms ({} tokens)",
        path.display(),
        t0.elapsed().as_secs_f64() * 1e3,
        tok.n_vocab()
    );
    tok
}

/// Checks one reference file against a tokenizer; returns the failures.
fn check_reference(tok: &Tokenizer, reference: &Value, label: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut cases: Vec<(String, String, Vec<u32>)> = Vec::new();
    for e in reference["tokenize"].as_array().expect("tokenize") {
        let text = e["text"].as_str().expect("text").to_string();
        cases.push((format!("string {text:?}"), text, ids_of(&e["ids"])));
    }
    for (name, p) in reference["prompts"].as_object().expect("prompts") {
        let text = p["text"].as_str().expect("text").to_string();
        cases.push((format!("prompt {name}"), text, ids_of(&p["prompt_ids"])));
    }
    let t0 = Instant::now();
    for (what, text, want) in &cases {
        let got = match tok.encode(text, true, true) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{label} {what}: error {e}"));
                continue;
            }
        };
        if &got != want {
            failures.push(format!(
                "{label} {what}: ids differ\n   ours: {got:?}\n  llama: {want:?}"
            ));
            continue;
        }
        // Round trip: without the BOS the model adds, detokenizing gives the text back
        // (special tokens rendered, as they were parsed from the text).
        let body = if tok.add_bos() && got.first().copied() == tok.bos() {
            &got[1..]
        } else {
            &got[..]
        };
        // A vocabulary without a "▁" token (the tiny fixtures) spells the SentencePiece space
        // with byte tokens, which llama.cpp (and we) render as the raw "▁" bytes.
        let expected =
            if tok.add_space_prefix() && tok.token_id("\u{2581}").is_none() && !text.is_empty() {
                format!("\u{2581}{}", text.replace(' ', "\u{2581}"))
            } else {
                text.clone()
            };
        match tok.decode(body, true) {
            Ok(bytes) if bytes == expected.as_bytes() => {}
            Ok(bytes) => failures.push(format!(
                "{label} {what}: round trip gave {:?}",
                String::from_utf8_lossy(&bytes)
            )),
            Err(e) => failures.push(format!("{label} {what}: decode error {e}")),
        }
    }
    eprintln!(
        "{label}: {} strings/prompts encoded and decoded in {:.2} ms",
        cases.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );

    // Greedy continuations: our pieces of llama.cpp's tokens are llama.cpp's bytes, and a
    // Utf8Stream fed piece by piece yields exactly their lossy UTF-8 text.
    for (name, p) in reference["prompts"].as_object().expect("prompts") {
        let ids = ids_of(&p["greedy_ids"]);
        let want = hex_bytes(p["greedy_bytes_hex"].as_str().expect("hex"));
        let mut got = Vec::new();
        let mut stream = Utf8Stream::new();
        let mut streamed = String::new();
        for &id in &ids {
            let piece = tok.token_to_piece(id, false).expect("piece");
            got.extend_from_slice(piece);
            streamed.push_str(&stream.push(piece));
        }
        streamed.push_str(&stream.finish());
        if got != want {
            failures.push(format!(
                "{label} greedy {name}: pieces {:?} != llama.cpp {:?}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            ));
        }
        if streamed != String::from_utf8_lossy(&want) {
            failures.push(format!("{label} greedy {name}: streamed text {streamed:?}"));
        }
    }
    failures
}

fn run_model(file: &str) {
    let tok = load_tokenizer(&model_path(file));
    let stem = file.trim_end_matches(".gguf");
    let reference = load_json(&data_dir().join(format!("{stem}.json")));
    let failures = check_reference(&tok, &reference, stem);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gemma3_270m_matches_llama_cpp() {
    run_model("gemma-3-270m-q4_k_m.gguf");
}

#[test]
fn qwen25_coder_05b_matches_llama_cpp() {
    run_model("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
}

#[test]
fn qwen25_coder_15b_matches_llama_cpp() {
    run_model("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf");
}

#[test]
fn tiny_fixtures_match_llama_cpp() {
    let dir = data_dir().join("tiny");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/tokenizer/tiny")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 15, "expected the 15 tiny-llama references");
    let mut failures = Vec::new();
    for f in files {
        let reference = load_json(&f);
        let model = reference["model"].as_str().expect("model").to_string();
        let tok = load_tokenizer(&fixture_path(&model));
        failures.extend(check_reference(&tok, &reference, &model));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn special_tokens_and_eog() {
    let gemma = load_tokenizer(&model_path("gemma-3-270m-q4_k_m.gguf"));
    assert_eq!(gemma.bos(), Some(2));
    assert_eq!(gemma.eos(), Some(1));
    assert!(gemma.add_bos() && !gemma.add_space_prefix());
    assert!(gemma.is_eog(1) && gemma.is_eog(106) && !gemma.is_eog(2));
    assert_eq!(gemma.token_id("<end_of_turn>"), Some(106));
    // Control tokens stay text unless parsed as special; they render only on request.
    let plain = gemma.encode("<start_of_turn>", false, false).unwrap();
    assert!(!plain.contains(&105), "{plain:?}");
    assert_eq!(gemma.encode("<start_of_turn>", false, true).unwrap(), [105]);
    assert_eq!(gemma.token_to_piece(105, false).unwrap(), b"");
    assert_eq!(gemma.token_to_piece(105, true).unwrap(), b"<start_of_turn>");
    // User-defined tokens ("\n\n") are cut out and rendered even without parse_special.
    assert_eq!(gemma.encode("a\n\nb", false, false).unwrap()[1], 108);
    assert_eq!(gemma.token_to_piece(108, false).unwrap(), b"\n\n");

    let qwen = load_tokenizer(&model_path("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"));
    assert_eq!(qwen.eos(), Some(151645));
    assert_eq!(qwen.eot(), Some(151645)); // <|im_end|>, as llama.cpp picks
    assert!(!qwen.add_bos());
    for id in [151643, 151645, 151662, 151663, 151664] {
        assert!(qwen.is_eog(id), "{id} should end generation");
    }
    assert!(!qwen.is_eog(151644));
    assert_eq!(qwen.token_text(151644), Some("<|im_start|>"));
    assert_eq!(qwen.encode("", true, true).unwrap(), Vec::<u32>::new());
    assert_eq!(qwen.decode(&[9707, 1879], false).unwrap(), b"Hello world");
    // Out-of-range ids are errors, not panics.
    assert!(qwen.decode(&[u32::MAX], false).is_err());
    assert!(qwen.token_to_piece(151936, false).is_err());
    assert_eq!(qwen.token_text(151936), None);
}

/// Random strings (see tests/data/tokenizer/fuzz/README.md) tokenized by llama.cpp with
/// (add_special, parse_special) = (true, true) and (false, false), and the first detokenized.
fn check_fuzz(tok: &Tokenizer, name: &str) -> Vec<String> {
    let dir = data_dir().join("fuzz");
    let strings = load_json(&dir.join("strings.json"));
    let strings = strings.as_array().expect("strings");
    let reference = load_json(&dir.join(format!("{name}.json")));
    let special = reference["special"].as_array().expect("special");
    let plain = reference["plain"].as_array().expect("plain");
    let decoded = reference["decode_hex"].as_array().expect("decode_hex");
    assert_eq!(strings.len(), special.len());
    assert_eq!(strings.len(), plain.len());
    assert_eq!(strings.len(), decoded.len());
    let mut failures = Vec::new();
    let t0 = Instant::now();
    for (i, s) in strings.iter().enumerate() {
        let s = s.as_str().expect("string");
        for (add, parse, want) in [(true, true, &special[i]), (false, false, &plain[i])] {
            let want = ids_of(want);
            match tok.encode(s, add, parse) {
                Ok(got) if got == want => {
                    if add {
                        let text = hex_bytes(decoded[i].as_str().expect("hex"));
                        match tok.decode(&got, false) {
                            Ok(d) if d == text => {}
                            other => failures.push(format!(
                                "{name} fuzz #{i} {s:?}: decode gave {other:?}, llama.cpp {:?}",
                                String::from_utf8_lossy(&text)
                            )),
                        }
                    }
                }
                Ok(got) => failures.push(format!(
                    "{name} fuzz #{i} {s:?} (special={add}): ids differ\n   ours: {got:?}\n  llama: {want:?}"
                )),
                Err(e) => failures.push(format!("{name} fuzz #{i} {s:?}: error {e}")),
            }
        }
    }
    eprintln!(
        "{name}: {} random strings encoded twice in {:.2} ms",
        strings.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    failures
}

/// The model's metadata with `tokenizer.ggml.pre` replaced.
fn with_pre(meta: &Metadata, pre: &str) -> Metadata {
    let mut out = Metadata::new();
    for (k, v) in meta.iter() {
        let v = if k == "tokenizer.ggml.pre" {
            GgufValue::String(pre.to_string())
        } else {
            v.clone()
        };
        out.insert(k.to_string(), v);
    }
    out
}

#[test]
fn random_strings_match_llama_cpp() {
    let mut failures = Vec::new();
    for (name, path) in [
        (
            "gemma-3-270m-q4_k_m",
            model_path("gemma-3-270m-q4_k_m.gguf"),
        ),
        (
            "qwen2.5-coder-0.5b-instruct-q4_k_m",
            model_path("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        ),
        ("tiny-llama-f32", fixture_path("tiny-llama-f32.gguf")),
    ] {
        let tok = load_tokenizer(&path);
        failures.extend(check_fuzz(&tok, name));
    }
    // The other BPE pre-tokenizers, on Qwen's vocabulary.
    let qwen = GgufMmap::open(model_path("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")).expect("qwen");
    for pre in ["llama-bpe", "gpt-2", "default", "starcoder"] {
        let meta = with_pre(&qwen.header().metadata, pre);
        let tok = Tokenizer::from_metadata(&meta).expect("tokenizer");
        failures.extend(check_fuzz(&tok, &format!("qwen-pre-{pre}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
