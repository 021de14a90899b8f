//! Writer → reader round trips: every metadata value type (nested arrays included), v2 and v3,
//! custom alignments, tensors of every ggml type; what is read back is what was written.

use chord_gguf::{GgmlType, GgufSlice, GgufStream, GgufWriter, Value, ValueType};

fn every_value() -> Vec<(&'static str, Value)> {
    vec![
        ("u8", Value::U8(255)),
        ("i8", Value::I8(-128)),
        ("u16", Value::U16(65535)),
        ("i16", Value::I16(-32768)),
        ("u32", Value::U32(u32::MAX)),
        ("i32", Value::I32(i32::MIN)),
        ("f32", Value::F32(-1.25e-7)),
        ("bool.t", Value::Bool(true)),
        ("bool.f", Value::Bool(false)),
        ("string", Value::String("ünïcødé ✓".into())),
        ("string.empty", Value::String(String::new())),
        ("u64", Value::U64(u64::MAX)),
        ("i64", Value::I64(i64::MIN)),
        ("f64", Value::F64(std::f64::consts::PI)),
        ("arr.empty", Value::Array(ValueType::F32, vec![])),
        (
            "arr.u8",
            Value::Array(ValueType::U8, (0..=255).map(Value::U8).collect()),
        ),
        (
            "arr.bool",
            Value::Array(ValueType::Bool, vec![Value::Bool(true), Value::Bool(false)]),
        ),
        (
            "arr.f64",
            Value::Array(ValueType::F64, vec![Value::F64(1e300), Value::F64(-0.0)]),
        ),
        (
            "arr.str",
            Value::Array(
                ValueType::String,
                vec![Value::String("a".into()), Value::String(String::new())],
            ),
        ),
        (
            "arr.nested",
            Value::Array(
                ValueType::Array,
                vec![
                    Value::Array(ValueType::I64, vec![Value::I64(-1), Value::I64(2)]),
                    Value::Array(ValueType::I64, vec![]),
                    Value::Array(
                        ValueType::Array,
                        vec![Value::Array(
                            ValueType::String,
                            vec![Value::String("deep".into())],
                        )],
                    ),
                ],
            ),
        ),
    ]
}

/// Tensor bytes for one row of `ty` (a recognisable pattern).
fn tensor_bytes(ty: GgmlType, rows: u64, seed: u8) -> Vec<u8> {
    let n = ty.row_bytes(ty.block_size()).unwrap() * rows;
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn check(version: u32, alignment: Option<u64>) {
    let mut w = GgufWriter::new().version(version);
    if let Some(a) = alignment {
        w = w.alignment(a).unwrap();
    }
    for (k, v) in every_value() {
        w.add_kv(k, v);
    }
    let mut expected = Vec::new();
    for (i, ty) in GgmlType::ALL.iter().enumerate() {
        let rows = 1 + (i as u64 % 3);
        let data = tensor_bytes(*ty, rows, i as u8);
        let dims = if rows == 1 {
            vec![ty.block_size()]
        } else {
            vec![ty.block_size(), rows]
        };
        w.add_tensor(format!("t{i}.{}", ty.name()), &dims, *ty, data.clone())
            .unwrap();
        expected.push((format!("t{i}.{}", ty.name()), dims, *ty, data));
    }
    let bytes = w.to_bytes();
    let f = GgufSlice::parse(&bytes).unwrap();
    let h = f.header();
    let align = alignment.unwrap_or(32);
    assert_eq!(h.version, version);
    assert_eq!(h.alignment, align);
    assert_eq!(h.data_offset % align, 0);
    let extra = usize::from(alignment.is_some());
    assert_eq!(h.metadata.len(), every_value().len() + extra);
    for (k, v) in every_value() {
        assert_eq!(h.metadata.get(k), Some(&v), "{k}");
    }
    // File order is kept.
    let keys: Vec<&str> = h
        .metadata
        .iter()
        .map(|(k, _)| k)
        .filter(|k| *k != "general.alignment")
        .take(3)
        .collect();
    assert_eq!(keys, ["u8", "i8", "u16"]);
    assert_eq!(h.tensors.len(), expected.len());
    let stream = GgufStream::open(bytes.as_slice()).unwrap();
    let mut buf = Vec::new();
    for (t, (name, dims, ty, data)) in h.tensors.iter().zip(&expected) {
        assert_eq!((&t.name, &t.dims, t.ty), (name, dims, *ty));
        assert_eq!(t.offset % align, 0, "{name}");
        assert_eq!(f.tensor_data(t), &data[..], "{name}");
        assert_eq!(f.tensor(name).unwrap().1, &data[..]);
        stream.read_tensor(t, &mut buf).unwrap();
        assert_eq!(buf, *data);
    }
    assert!(f.tensor("nope").is_err());
}

#[test]
fn v3_default_alignment() {
    check(3, None);
}

#[test]
fn v2_default_alignment() {
    check(2, None);
}

#[test]
fn custom_alignments() {
    for a in [1, 2, 8, 64, 4096, 65536] {
        check(3, Some(a));
        check(2, Some(a));
    }
}

#[test]
fn empty_file_and_metadata_only() {
    let b = GgufWriter::new().to_bytes();
    assert_eq!(b.len(), 32, "24-byte header padded to 32");
    let f = GgufSlice::parse(&b).unwrap();
    assert!(f.header().tensors.is_empty());
    let mut w = GgufWriter::new();
    w.add_kv("general.architecture", Value::String("x".into()));
    let f2 = w.to_bytes();
    let h = GgufSlice::parse(&f2).unwrap().into_header();
    assert_eq!(h.architecture(), Some("x"));
}

#[test]
fn writer_rejects_wrong_tensor_sizes() {
    let mut w = GgufWriter::new();
    assert!(w
        .add_tensor("x", &[32], GgmlType::Q4_0, vec![0; 17])
        .is_err());
    assert!(w
        .add_tensor("x", &[33], GgmlType::Q4_0, vec![0; 18])
        .is_err());
    assert!(w.add_tensor("x", &[], GgmlType::F32, vec![]).is_err());
    assert!(w.add_tensor("x", &[0, 4], GgmlType::F32, vec![]).is_err());
    // Shapes whose size overflows are an error, not a panic.
    assert!(w
        .add_tensor("x", &[1 << 40, 1 << 40], GgmlType::F32, vec![])
        .is_err());
    assert!(w
        .add_tensor("x", &[u64::MAX], GgmlType::F64, vec![])
        .is_err());
    assert!(w
        .add_tensor("x", &[32], GgmlType::Q4_0, vec![0; 18])
        .is_ok());
}
