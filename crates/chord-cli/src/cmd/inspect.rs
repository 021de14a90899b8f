//! `chord inspect MODEL [--json]`: what is in a GGUF file, like llama.cpp's `gguf-dump` plus
//! the hyperparameters a runtime cares about. MODEL is a path or a known model name.

use super::pull::human;
use anyhow::Context;
use chord_gguf::{GgufMmap, Header, Value};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(clap::Args)]
pub struct Args {
    /// A .gguf path or a known model name (see `chord pull`).
    pub model: String,
    /// One JSON object on stdout instead of the human-readable report.
    #[arg(long)]
    pub json: bool,
}

/// Arrays longer than this are summarised (type, length, first items) in the JSON metadata.
const JSON_ARRAY_MAX: usize = 16;
/// Items shown of an array in the human metadata table.
const HUMAN_ARRAY_ITEMS: usize = 4;

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = chord_hub::resolve(&args.model)?;
    let file = GgufMmap::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let info = Info::new(path.display().to_string(), file.header());
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&info.to_json())?;
        s.push('\n');
        s
    } else {
        info.to_text()
    };
    super::print_stdout(&text)
}

/// The hyperparameter keys shown, as (output name, metadata key suffix after `{arch}.`).
/// `vocab_size` falls back to the tokenizer's token count; `head_dim` is added (key_length, else
/// embedding_length / head_count).
const HPARAMS: &[(&str, &str)] = &[
    ("context_length", "context_length"),
    ("embedding_length", "embedding_length"),
    ("block_count", "block_count"),
    ("head_count", "attention.head_count"),
    ("head_count_kv", "attention.head_count_kv"),
    ("key_length", "attention.key_length"),
    ("value_length", "attention.value_length"),
    ("feed_forward_length", "feed_forward_length"),
    ("rope_freq_base", "rope.freq_base"),
    ("rope_dimension_count", "rope.dimension_count"),
    ("rms_epsilon", "attention.layer_norm_rms_epsilon"),
    ("layer_norm_epsilon", "attention.layer_norm_epsilon"),
    ("sliding_window", "attention.sliding_window"),
    ("vocab_size", "vocab_size"),
];

struct TypeStat {
    count: u64,
    bytes: u64,
}

/// Everything `inspect` reports, computed once from the header.
struct Info<'h> {
    file: String,
    h: &'h Header,
    arch: Option<&'h str>,
    /// (name, value) in HPARAMS order; absent keys are `None`.
    hparams: Vec<(&'static str, Option<Json>)>,
    head_dim: Option<u64>,
    tok_model: Option<&'h str>,
    tok_pre: Option<&'h str>,
    vocab_size: Option<usize>,
    merges: Option<usize>,
    chat_template: bool,
    parameters: u64,
    types: BTreeMap<String, TypeStat>,
}

impl<'h> Info<'h> {
    fn new(file: String, h: &'h Header) -> Self {
        let md = &h.metadata;
        let arch = h.architecture();
        let get = |suffix: &str| arch.and_then(|a| md.get(&format!("{a}.{suffix}")));
        let mut hparams: Vec<(&'static str, Option<Json>)> = HPARAMS
            .iter()
            .map(|&(name, suffix)| (name, get(suffix).map(|v| value_json(v, usize::MAX))))
            .collect();
        let len_of = |key: &str| md.get(key).and_then(Value::as_array).map(|(_, a)| a.len());
        let vocab_size = len_of("tokenizer.ggml.tokens");
        if let Some((_, v @ None)) = hparams.iter_mut().find(|(n, _)| *n == "vocab_size") {
            *v = vocab_size.map(|n| json!(n));
        }
        let as_u64 = |suffix: &str| get(suffix).and_then(Value::as_u64);
        let head_dim = as_u64("attention.key_length").or_else(|| {
            let e = as_u64("embedding_length")?;
            let n = as_u64("attention.head_count")?;
            (n > 0).then(|| e / n)
        });
        let mut types: BTreeMap<String, TypeStat> = BTreeMap::new();
        for t in &h.tensors {
            let s = types
                .entry(t.ty.to_string())
                .or_insert(TypeStat { count: 0, bytes: 0 });
            s.count += 1;
            s.bytes += t.n_bytes;
        }
        Self {
            file,
            h,
            arch,
            hparams,
            head_dim,
            tok_model: md.get("tokenizer.ggml.model").and_then(Value::as_str),
            tok_pre: md.get("tokenizer.ggml.pre").and_then(Value::as_str),
            vocab_size,
            merges: len_of("tokenizer.ggml.merges"),
            chat_template: md.contains("tokenizer.chat_template"),
            parameters: h.tensors.iter().map(|t| t.n_elements).sum(),
            types,
        }
    }

    fn to_json(&self) -> Json {
        let h = self.h;
        let mut hp = Map::new();
        for (name, v) in &self.hparams {
            hp.insert(name.to_string(), v.clone().unwrap_or(Json::Null));
        }
        hp.insert("head_dim".into(), json!(self.head_dim));
        let types: Map<String, Json> = self
            .types
            .iter()
            .map(|(k, s)| (k.clone(), json!({"count": s.count, "bytes": s.bytes})))
            .collect();
        let tensors: Vec<Json> = h
            .tensors
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "type": t.ty.to_string(),
                    "shape": t.dims,
                    "bytes": t.n_bytes,
                    "offset": h.tensor_range(t).start,
                })
            })
            .collect();
        let metadata: Map<String, Json> = h
            .metadata
            .iter()
            .map(|(k, v)| (k.to_string(), value_json(v, JSON_ARRAY_MAX)))
            .collect();
        json!({
            "file": self.file,
            "file_size": h.file_len,
            "gguf_version": h.version,
            "alignment": h.alignment,
            "data_offset": h.data_offset,
            "architecture": self.arch,
            "name": h.metadata.get("general.name").and_then(Value::as_str),
            "hyperparameters": hp,
            "tokenizer": {
                "model": self.tok_model,
                "pre": self.tok_pre,
                "vocab_size": self.vocab_size,
                "merges": self.merges,
            },
            "chat_template": self.chat_template,
            "parameters": self.parameters,
            "tensor_count": h.tensors.len(),
            "tensor_types": types,
            "tensors": tensors,
            "metadata": metadata,
        })
    }

    fn to_text(&self) -> String {
        let h = self.h;
        let mut s = String::new();
        let opt = |v: Option<&str>| v.unwrap_or("-").to_string();
        let _ = writeln!(s, "file:          {}", self.file);
        let _ = writeln!(
            s,
            "size:          {} ({} bytes)",
            human(h.file_len),
            h.file_len
        );
        let _ = writeln!(
            s,
            "GGUF:          v{}, alignment {}, data at offset {}",
            h.version, h.alignment, h.data_offset
        );
        let _ = writeln!(s, "architecture:  {}", opt(self.arch));
        if let Some(n) = h.metadata.get("general.name").and_then(Value::as_str) {
            let _ = writeln!(s, "name:          {n}");
        }
        let _ = writeln!(
            s,
            "parameters:    {} ({:.3} B)",
            self.parameters,
            self.parameters as f64 / 1e9
        );

        let _ = writeln!(s, "\nhyperparameters:");
        for (name, v) in &self.hparams {
            let shown = v.as_ref().map_or("-".to_string(), |v| v.to_string());
            let _ = writeln!(s, "  {name:<22} {shown}");
        }
        let hd = self.head_dim.map_or("-".to_string(), |d| d.to_string());
        let _ = writeln!(s, "  {:<22} {hd}", "head_dim");

        let _ = writeln!(s, "\ntokenizer:");
        let _ = writeln!(s, "  {:<22} {}", "model", opt(self.tok_model));
        let _ = writeln!(s, "  {:<22} {}", "pre", opt(self.tok_pre));
        let n = |v: Option<usize>| v.map_or("-".to_string(), |n| n.to_string());
        let _ = writeln!(s, "  {:<22} {}", "tokens", n(self.vocab_size));
        let _ = writeln!(s, "  {:<22} {}", "merges", n(self.merges));
        let ct = if self.chat_template {
            "present"
        } else {
            "absent"
        };
        let _ = writeln!(s, "  {:<22} {ct}", "chat template");

        let _ = writeln!(s, "\nmetadata ({} keys):", h.metadata.len());
        let width = h.metadata.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in h.metadata.iter() {
            let mut shown = v.display_short(HUMAN_ARRAY_ITEMS).replace('\n', "\\n");
            if shown.chars().count() > 100 {
                shown = shown.chars().take(97).collect::<String>() + "...";
            }
            let _ = writeln!(s, "  {k:<width$}  {:<6} {shown}", v.value_type().name());
        }

        let _ = writeln!(s, "\ntensors ({}):", h.tensors.len());
        let width = h.tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let _ = writeln!(
            s,
            "  {:>5}  {:<width$}  {:<7} {:<22} {:>12}  {:>12}",
            "#", "name", "type", "shape", "bytes", "offset"
        );
        for (i, t) in h.tensors.iter().enumerate() {
            let shape = format!("{:?}", t.dims);
            let _ = writeln!(
                s,
                "  {i:>5}  {:<width$}  {:<7} {shape:<22} {:>12}  {:>12}",
                t.name,
                t.ty.to_string(),
                t.n_bytes,
                h.tensor_range(t).start
            );
        }

        let _ = writeln!(s, "\ntensor types:");
        let total: u64 = self.types.values().map(|t| t.bytes).sum();
        for (ty, st) in &self.types {
            let _ = writeln!(
                s,
                "  {ty:<8} {:>5} tensors  {:>12}  {:>5.1}%",
                st.count,
                human(st.bytes),
                100.0 * st.bytes as f64 / total.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "  {:<8} {:>5} tensors  {:>12}",
            "total",
            h.tensors.len(),
            human(total)
        );
        s
    }
}

/// A metadata value as JSON. Arrays longer than `max_items` become
/// `{"type": "array", "element_type", "len", "head": [first 8]}`. Floats keep their shortest
/// decimal form (an f32 `1e-6` stays `1e-6`, not `9.99999997e-7`); non-finite floats are null.
fn value_json(v: &Value, max_items: usize) -> Json {
    let float = |s: String| {
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map_or(Json::Null, |f| json!(f))
    };
    match v {
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F32(x) => float(x.to_string()),
        Value::F64(x) => float(x.to_string()),
        Value::Bool(x) => json!(x),
        Value::String(x) => json!(x),
        Value::Array(ty, items) if items.len() > max_items => json!({
            "type": "array",
            "element_type": ty.name(),
            "len": items.len(),
            "head": items.iter().take(8).map(|x| value_json(x, max_items)).collect::<Vec<_>>(),
        }),
        Value::Array(_, items) => {
            Json::Array(items.iter().map(|x| value_json(x, max_items)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord_gguf::ValueType;

    #[test]
    fn json_values() {
        assert_eq!(value_json(&Value::F32(1e-6), 16), json!(1e-6));
        assert_eq!(value_json(&Value::F32(f32::NAN), 16), Json::Null);
        assert_eq!(value_json(&Value::I64(-3), 16), json!(-3));
        let arr = Value::Array(ValueType::U8, (0..20).map(Value::U8).collect());
        assert_eq!(value_json(&arr, 16)["len"], json!(20));
        assert_eq!(
            value_json(&arr, 16)["head"].as_array().map(Vec::len),
            Some(8)
        );
        assert_eq!(value_json(&arr, 32).as_array().map(Vec::len), Some(20));
    }
}
