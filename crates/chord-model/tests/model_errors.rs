//! Loading and running models with bad input gives typed errors, never a panic.

use chord_gguf::{GgufWriter, Value, ValueType};
use chord_model::{Config, Logits, Model, ModelError, ModelFile, Scratch};

/// A small reference backend: dequantize each weight row, f32 dot products.
struct Plain;

impl chord_model::Backend for Plain {
    fn name(&self) -> String {
        "plain".into()
    }
    fn matmul(
        &self,
        w: chord_model::MatRef<'_>,
        x: &[f32],
        n: usize,
        y: &mut [f32],
    ) -> chord_model::Result<()> {
        let rb = w.data.len() / w.rows;
        let mut row = vec![0f32; w.cols];
        for r in 0..w.rows {
            chord_quant::dequantize(w.ty, &w.data[r * rb..(r + 1) * rb], &mut row)
                .map_err(|e| ModelError::Backend(e.to_string()))?;
            for t in 0..n {
                y[t * w.rows + r] = row
                    .iter()
                    .zip(&x[t * w.cols..(t + 1) * w.cols])
                    .map(|(a, b)| a * b)
                    .sum();
            }
        }
        Ok(())
    }
}

fn metadata_only(arch: &str) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_kv("general.architecture", Value::String(arch.into()));
    w.add_kv(
        "tokenizer.ggml.tokens",
        Value::Array(ValueType::String, vec![Value::String("a".into())]),
    );
    w.to_bytes()
}

#[test]
fn unknown_architecture_lists_the_supported_ones() {
    let bytes = metadata_only("mamba");
    let file = ModelFile::from_bytes(bytes).expect("valid container");
    let err = Config::from_metadata(&file.header().metadata).expect_err("mamba is not supported");
    let msg = err.to_string();
    assert!(
        msg.contains("mamba") && msg.contains("llama, qwen2, gemma3"),
        "{msg}"
    );
}

#[test]
fn missing_hyperparameter_and_truncated_file_are_named() {
    let err = Config::from_metadata(
        &ModelFile::from_bytes(metadata_only("llama"))
            .unwrap()
            .header()
            .metadata,
    )
    .expect_err("no hyperparameters");
    assert!(
        matches!(err, ModelError::MissingKey(ref k) if k == "llama.embedding_length"),
        "{err}"
    );

    // The tiny fixture's header with its tensor data cut off is rejected by the container.
    let full = std::fs::read(chord_testkit::fixture("tiny-llama-q8_0.gguf")).unwrap();
    let err = ModelFile::from_bytes(full[..full.len() / 2].to_vec())
        .err()
        .expect("truncated file");
    assert!(
        err.to_string().contains("beyond the end of the file"),
        "{err}"
    );
}

#[test]
fn context_limit_and_bad_tokens_are_errors_and_leave_the_cache_usable() {
    let model = Model::open(chord_testkit::fixture("tiny-llama-q8_0.gguf")).expect("fixture loads");
    let mut cache = model.new_cache(4);
    let mut scratch = Scratch::default();
    let err = model
        .forward(
            &Plain,
            &mut cache,
            &[1, 2, 3, 4, 5],
            Logits::Last,
            &mut scratch,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ContextFull {
                needed: 5,
                n_ctx: 4
            }
        ),
        "{err}"
    );
    assert_eq!(cache.len(), 0, "nothing was written");
    let err = model
        .forward(
            &Plain,
            &mut cache,
            &[1, 999_999],
            Logits::Last,
            &mut scratch,
        )
        .unwrap_err();
    assert!(
        matches!(err, ModelError::BadToken { id: 999_999, .. }),
        "{err}"
    );
    let err = model
        .forward(&Plain, &mut cache, &[], Logits::Last, &mut scratch)
        .unwrap_err();
    assert!(matches!(err, ModelError::EmptyBatch), "{err}");
    // Still usable: four tokens fit, a fifth does not.
    let logits = model
        .forward(&Plain, &mut cache, &[1, 2, 3, 4], Logits::All, &mut scratch)
        .expect("fits");
    assert_eq!(logits.len(), 4 * model.config.n_vocab);
    assert!(logits.iter().all(|v| v.is_finite()));
    assert!(model
        .forward(&Plain, &mut cache, &[5], Logits::Last, &mut scratch)
        .is_err());
}
