//! Writes the seed corpus of the `gguf_reader` fuzz target:
//!   cargo run --manifest-path fuzz/seedgen/Cargo.toml -- fuzz/corpus/gguf_reader_seed [FIXTURE_DIR]
//! Seeds: small GgufWriter outputs (every value type, nested arrays, v2, custom alignments, one
//! tensor of every ggml type), shrunken copies of the tiny-llama fixtures (arrays cut to 8
//! items, every tensor cut to one block row), and the first 4 KiB of a few fixtures (truncated).
use chord_gguf::{GgmlType, GgufSlice, GgufWriter, Value, ValueType};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: seedgen OUT_DIR [FIXTURE_DIR]")?);
    let fixtures = PathBuf::from(args.next().unwrap_or_else(|| "../shared/fixtures".into()));
    std::fs::create_dir_all(&out)?;
    let mut n = 0;
    let mut put = |name: &str, bytes: Vec<u8>| -> std::io::Result<()> {
        n += 1;
        std::fs::write(out.join(name), bytes)
    };

    put("empty", GgufWriter::new().to_bytes())?;
    put("empty_v2", GgufWriter::new().version(2).to_bytes())?;
    let mut w = GgufWriter::new();
    all_values(&mut w);
    put("all_values", w.to_bytes())?;
    for a in [1u64, 8, 64, 256] {
        let mut w = GgufWriter::new().alignment(a)?;
        w.add_kv("general.architecture", Value::String("llama".into()));
        w.add_f32("a", &[3], &[1.0, 2.0, 3.0])?;
        w.add_f32("b", &[2, 2], &[1.0, 2.0, 3.0, 4.0])?;
        put(&format!("align_{a}"), w.to_bytes())?;
    }
    let mut w = GgufWriter::new().version(2);
    for ty in GgmlType::ALL {
        let dims = [ty.block_size(), 1];
        let bytes = ty.row_bytes(ty.block_size()).unwrap_or(0) as usize;
        let data = (0..bytes).map(|i| i as u8).collect();
        w.add_tensor(format!("t.{}", ty.name()), &dims, *ty, data)?;
    }
    put("every_type_v2", w.to_bytes())?;

    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
        .collect();
    fixtures.sort();
    for (i, path) in fixtures.iter().enumerate() {
        let bytes = std::fs::read(path)?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("fixture")
            .to_string();
        let f = GgufSlice::parse(&bytes)?;
        let h = f.header();
        let mut w = GgufWriter::new().version(h.version);
        for (k, v) in h.metadata.iter() {
            let v = match v {
                Value::Array(t, items) => Value::Array(*t, items.iter().take(8).cloned().collect()),
                v => v.clone(),
            };
            w.add_kv(k, v);
        }
        for t in &h.tensors {
            let rows = if t.dims.len() > 1 { 1 } else { 0 };
            let mut dims = vec![t.ty.block_size().max(t.row_len().min(32))];
            dims[0] -= dims[0] % t.ty.block_size();
            dims.extend(std::iter::repeat(1).take(rows));
            let len = t.ty.row_bytes(dims[0]).unwrap_or(0) as usize;
            w.add_tensor(&t.name, &dims, t.ty, f.tensor_data(t)[..len].to_vec())?;
        }
        put(&format!("{stem}_small"), w.to_bytes())?;
        if i % 5 == 0 {
            put(
                &format!("{stem}_head4k"),
                bytes[..4096.min(bytes.len())].to_vec(),
            )?;
        }
    }
    eprintln!("wrote {n} seeds to {}", out.display());
    Ok(())
}

fn all_values(w: &mut GgufWriter) {
    w.add_kv("u8", Value::U8(200));
    w.add_kv("i8", Value::I8(-100));
    w.add_kv("u16", Value::U16(60000));
    w.add_kv("i16", Value::I16(-30000));
    w.add_kv("u32", Value::U32(4_000_000_000));
    w.add_kv("i32", Value::I32(-2_000_000_000));
    w.add_kv("f32", Value::F32(1.5));
    w.add_kv("bool", Value::Bool(true));
    w.add_kv("string", Value::String("héllo".into()));
    w.add_kv("u64", Value::U64(u64::MAX));
    w.add_kv("i64", Value::I64(i64::MIN));
    w.add_kv("f64", Value::F64(-2.25));
    w.add_kv(
        "arr.str",
        Value::Array(
            ValueType::String,
            vec![Value::String("a".into()), Value::String("".into())],
        ),
    );
    w.add_kv(
        "arr.nested",
        Value::Array(
            ValueType::Array,
            vec![
                Value::Array(ValueType::I32, vec![Value::I32(1), Value::I32(-2)]),
                Value::Array(ValueType::U8, vec![]),
            ],
        ),
    );
}
