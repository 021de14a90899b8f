//! Building tokenizers from hand-made metadata: unsupported kinds and malformed arrays are typed
//! errors, and the small SPM/BPE paths work without a model file.

use chord_gguf::{Metadata, Value, ValueType};
use chord_model::tokenizer::{Tokenizer, TokenizerError, Utf8Stream};

fn strings(v: &[&str]) -> Value {
    Value::Array(
        ValueType::String,
        v.iter().map(|s| Value::String(s.to_string())).collect(),
    )
}

fn meta(entries: Vec<(&str, Value)>) -> Metadata {
    let mut m = Metadata::new();
    for (k, v) in entries {
        m.insert(k.to_string(), v);
    }
    m
}

fn spm_tokens() -> Vec<String> {
    let mut t: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    t.extend((0..256).map(|b| format!("<0x{b:02X}>")));
    t.extend(
        ["▁", "a", "b", "▁a", "ab", "▁ab"]
            .iter()
            .map(|s| s.to_string()),
    );
    t
}

fn spm_meta() -> Metadata {
    let tokens = spm_tokens();
    let n = tokens.len();
    let refs: Vec<&str> = tokens.iter().map(|s| s.as_str()).collect();
    let mut types = vec![2i32, 3, 3];
    types.extend(std::iter::repeat_n(6, 256));
    types.extend(std::iter::repeat_n(1, n - 259));
    let scores: Vec<f32> = (0..n)
        .map(|i| if i >= 259 { i as f32 } else { 0.0 })
        .collect();
    meta(vec![
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.tokens", strings(&refs)),
        (
            "tokenizer.ggml.scores",
            Value::Array(ValueType::F32, scores.into_iter().map(Value::F32).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(ValueType::I32, types.into_iter().map(Value::I32).collect()),
        ),
    ])
}

#[test]
fn spm_small_vocab() {
    let tok = Tokenizer::from_metadata(&spm_meta()).unwrap();
    assert_eq!(tok.bos(), Some(1));
    assert_eq!(tok.eos(), Some(2));
    assert!(tok.add_bos() && tok.add_space_prefix());
    let ab = tok.token_id("▁ab").unwrap();
    let ids = tok.encode("ab c", true, false).unwrap();
    // "▁ab" then "▁" + byte fallback for "c".
    assert_eq!(ids, [1, ab, tok.token_id("▁").unwrap(), 3 + b'c' as u32]);
    assert_eq!(tok.decode(&ids[1..], false).unwrap(), b"ab c");
    assert_eq!(tok.detokenize(&ids, true, false).unwrap(), b" ab c");
    assert_eq!(tok.token_to_piece(3 + 0xE2, false).unwrap(), [0xE2]);
    assert_eq!(tok.token_to_piece(1, false).unwrap(), b"");
    assert_eq!(tok.token_to_piece(1, true).unwrap(), b"<s>");
    // "<s>" in text is BOS only when parsing special tokens.
    assert_eq!(tok.encode("<s>", false, true).unwrap(), [1]);
    assert!(tok.is_eog(2));
    assert!(matches!(
        tok.decode(&[9999], false),
        Err(TokenizerError::TokenOutOfRange { id: 9999, .. })
    ));
}

#[test]
fn bpe_small_vocab() {
    // Byte-level BPE over "Ġ" (space) and letters with merges h+i, Ġ+hi.
    let tokens = ["h", "i", "Ġ", "hi", "Ġhi", "<|end|>", "!"];
    let m = meta(vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("qwen2".into())),
        ("tokenizer.ggml.tokens", strings(&tokens)),
        ("tokenizer.ggml.merges", strings(&["h i", "Ġ hi"])),
        (
            "tokenizer.ggml.token_type",
            Value::Array(
                ValueType::I32,
                [1, 1, 1, 1, 1, 3, 1].into_iter().map(Value::I32).collect(),
            ),
        ),
        ("tokenizer.ggml.eos_token_id", Value::U32(5)),
    ]);
    let tok = Tokenizer::from_metadata(&m).unwrap();
    assert!(!tok.add_bos());
    assert_eq!(
        tok.encode("hi hi!<|end|>", true, true).unwrap(),
        [3, 4, 6, 5]
    );
    assert_eq!(tok.decode(&[3, 4, 6, 5], false).unwrap(), b"hi hi!");
    assert_eq!(tok.decode(&[3, 4, 6, 5], true).unwrap(), b"hi hi!<|end|>");
    assert!(tok.is_eog(5));
}

#[test]
fn unsupported_and_malformed_metadata() {
    let mut m = spm_meta();
    let bad = meta(vec![("tokenizer.ggml.model", Value::String("t5".into()))]);
    let e = Tokenizer::from_metadata(&bad).unwrap_err();
    assert!(matches!(e, TokenizerError::UnsupportedModel(_)));
    assert!(e.to_string().contains("llama") && e.to_string().contains("gpt2"));

    let e = Tokenizer::from_metadata(&Metadata::new()).unwrap_err();
    assert!(matches!(
        e,
        TokenizerError::MissingKey("tokenizer.ggml.model")
    ));

    let pre = meta(vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("no-such-pre".into())),
        ("tokenizer.ggml.tokens", strings(&["a"])),
        ("tokenizer.ggml.merges", strings(&[])),
    ]);
    let e = Tokenizer::from_metadata(&pre).unwrap_err();
    assert!(matches!(e, TokenizerError::UnsupportedPre { .. }), "{e}");
    assert!(e.to_string().contains("qwen2"));

    let no_merges = meta(vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens", strings(&["a"])),
    ]);
    assert!(matches!(
        Tokenizer::from_metadata(&no_merges).unwrap_err(),
        TokenizerError::MissingKey("tokenizer.ggml.merges")
    ));

    // Scores shorter than the vocabulary.
    let tokens: Vec<String> = spm_tokens();
    let refs: Vec<&str> = tokens.iter().map(|s| s.as_str()).collect();
    let short = meta(vec![
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.tokens", strings(&refs)),
        (
            "tokenizer.ggml.scores",
            Value::Array(ValueType::F32, vec![Value::F32(0.0); 3]),
        ),
    ]);
    assert!(matches!(
        Tokenizer::from_metadata(&short).unwrap_err(),
        TokenizerError::LengthMismatch {
            key: "tokenizer.ggml.scores",
            found: 3,
            ..
        }
    ));

    // Wrong value type is a metadata error, not a panic.
    m.insert("tokenizer.ggml.pre".into(), Value::U32(3));
    assert!(matches!(
        Tokenizer::from_metadata(&m).unwrap_err(),
        TokenizerError::Metadata(_)
    ));
}

#[test]
fn utf8_stream_never_splits_a_character() {
    let text = "añ日🙂z";
    let bytes = text.as_bytes();
    for split in 0..=bytes.len() {
        let mut s = Utf8Stream::new();
        let mut out = s.push(&bytes[..split]);
        // Whatever came out is a prefix of the text ending on a character boundary.
        assert!(text.starts_with(&out));
        out.push_str(&s.push(&bytes[split..]));
        out.push_str(&s.finish());
        assert_eq!(out, text);
    }
    let mut s = Utf8Stream::new();
    assert_eq!(s.push(&[0xF0, 0x9F, 0x99]), "");
    assert_eq!(s.finish(), "\u{FFFD}");
}

#[test]
fn tokenizer_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tokenizer>();
    assert_send_sync::<Utf8Stream>();
}
