//! Broken files: every way a GGUF header can be damaged gives the expected typed error (naming
//! the key or tensor and the offset where there is one), and nothing panics. Every mutated file
//! goes through all three readers (slice, stream, `Header::parse`) inside `catch_unwind`.

use chord_gguf::{
    GgmlType, GgufError, GgufSlice, GgufStream, GgufWriter, Header, Value, ValueType,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// A sample file and a map of where each header field sits in it.

/// Byte offsets of the fields of a valid file (found by walking it independently of the parser).
#[derive(Debug, Default)]
struct Layout {
    /// Per key: (key, offset of the key's length, offset of the type id, offset of the value).
    kv: Vec<(String, u64, u64, u64)>,
    /// Per tensor: name, offset of name length, of n_dims, of dims[0], of type id, of data offset.
    tensors: Vec<(String, u64, u64, u64, u64, u64)>,
    /// End of the tensor infos (before padding).
    header_end: u64,
}

fn rd_u32(b: &[u8], at: u64) -> u32 {
    u32::from_le_bytes(b[at as usize..at as usize + 4].try_into().unwrap())
}
fn rd_u64(b: &[u8], at: u64) -> u64 {
    u64::from_le_bytes(b[at as usize..at as usize + 8].try_into().unwrap())
}
fn wr_u32(b: &mut [u8], at: u64, v: u32) {
    b[at as usize..at as usize + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr_u64(b: &mut [u8], at: u64, v: u64) {
    b[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes());
}

fn skip_value(b: &[u8], mut at: u64, ty: u32) -> u64 {
    match ty {
        0 | 1 | 7 => at + 1,
        2 | 3 => at + 2,
        4..=6 => at + 4,
        10..=12 => at + 8,
        8 => at + 8 + rd_u64(b, at),
        9 => {
            let ety = rd_u32(b, at);
            let n = rd_u64(b, at + 4);
            at += 12;
            for _ in 0..n {
                at = skip_value(b, at, ety);
            }
            at
        }
        _ => panic!("bad type in a valid file"),
    }
}

fn layout(b: &[u8]) -> Layout {
    let mut l = Layout::default();
    let n_t = rd_u64(b, 8);
    let n_kv = rd_u64(b, 16);
    let mut at = 24;
    for _ in 0..n_kv {
        let len = rd_u64(b, at);
        let key = String::from_utf8(b[at as usize + 8..(at + 8 + len) as usize].to_vec()).unwrap();
        let ty_at = at + 8 + len;
        let val_at = ty_at + 4;
        l.kv.push((key, at, ty_at, val_at));
        at = skip_value(b, val_at, rd_u32(b, ty_at));
    }
    for _ in 0..n_t {
        let len = rd_u64(b, at);
        let name = String::from_utf8(b[at as usize + 8..(at + 8 + len) as usize].to_vec()).unwrap();
        let nd_at = at + 8 + len;
        let nd = rd_u32(b, nd_at) as u64;
        let ty_at = nd_at + 4 + 8 * nd;
        l.tensors
            .push((name, at, nd_at, nd_at + 4, ty_at, ty_at + 4));
        at = ty_at + 12;
    }
    l.header_end = at;
    l
}

impl Layout {
    fn key(&self, k: &str) -> (u64, u64, u64) {
        let e = self.kv.iter().find(|e| e.0 == k).unwrap();
        (e.1, e.2, e.3)
    }
    fn tensor(&self, n: &str) -> (u64, u64, u64, u64, u64) {
        let e = self.tensors.iter().find(|e| e.0 == n).unwrap();
        (e.1, e.2, e.3, e.4, e.5)
    }
}

fn sample_writer() -> GgufWriter {
    let mut w = GgufWriter::new().alignment(32).unwrap();
    w.add_kv("general.architecture", Value::String("llama".into()));
    w.add_kv("test.count", Value::U32(7));
    w.add_kv("test.flag", Value::Bool(true));
    w.add_kv(
        "test.arr",
        Value::Array(
            ValueType::U32,
            vec![Value::U32(1), Value::U32(2), Value::U32(3)],
        ),
    );
    w.add_kv(
        "test.strs",
        Value::Array(
            ValueType::String,
            vec![Value::String("ab".into()), Value::String("c".into())],
        ),
    );
    w.add_kv(
        "test.nested",
        Value::Array(
            ValueType::Array,
            vec![Value::Array(
                ValueType::I8,
                vec![Value::I8(-1), Value::I8(2)],
            )],
        ),
    );
    w.add_f32("a", &[4, 2], &[1.0; 8]).unwrap();
    w.add_tensor("b", &[32, 2], GgmlType::Q8_0, vec![0x11; 68])
        .unwrap();
    w.add_tensor("c", &[8], GgmlType::F16, vec![0x22; 16])
        .unwrap();
    w
}

fn sample() -> (Vec<u8>, Layout) {
    let b = sample_writer().to_bytes();
    let l = layout(&b);
    (b, l)
}

// ---------------------------------------------------------------------------------------------
// Parsing every way, with panics turned into test failures that name the mutation.

/// Parses `bytes` as slice, as stream and with `Header::parse`; all three must agree, none may
/// panic. On success every tensor's bytes and every value are touched.
fn parse(bytes: &[u8], what: &str) -> Result<Header, GgufError> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let slice = GgufSlice::parse(bytes).map(|f| {
            for t in &f.header().tensors {
                assert_eq!(f.tensor_data(t).len() as u64, t.n_bytes);
            }
            for (_, v) in f.header().metadata.iter() {
                let _ = v.display_short(3);
            }
            f.into_header()
        });
        let stream = GgufStream::open(bytes.to_vec()).map(|s| {
            let mut buf = Vec::new();
            for t in &s.header().tensors {
                s.read_tensor(t, &mut buf).unwrap();
            }
            s.header().tensors.len()
        });
        let direct = Header::parse(bytes);
        match (&slice, &stream, &direct) {
            (Ok(a), Ok(n), Ok(c)) => assert!(a.tensors.len() == *n && c.tensors.len() == *n),
            (Err(a), Err(b), Err(c)) => {
                assert_eq!(a.to_string(), b.to_string());
                assert_eq!(a.to_string(), c.to_string());
            }
            _ => panic!("readers disagree"),
        }
        slice
    }));
    match r {
        Ok(r) => r,
        Err(_) => panic!("parser panicked on: {what}"),
    }
}

fn expect_err(bytes: &[u8], what: &str) -> GgufError {
    match parse(bytes, what) {
        Ok(_) => panic!("{what}: parsed, expected an error"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn sample_is_valid() {
    let (b, l) = sample();
    let h = parse(&b, "sample").unwrap();
    assert_eq!(h.tensors.len(), 3);
    assert_eq!(h.metadata.len(), 7);
    assert_eq!(l.kv.len(), 7);
    assert!(l.header_end <= h.data_offset);
}

#[test]
fn truncation_at_every_header_offset_and_through_the_data() {
    let (b, l) = sample();
    let h = parse(&b, "sample").unwrap();
    let mut cuts: Vec<u64> = (0..h.data_offset + 1).collect();
    cuts.extend((h.data_offset + 1..b.len() as u64).step_by(7));
    for cut in cuts {
        let what = format!("truncated at {cut}");
        let e = expect_err(&b[..cut as usize], &what);
        if cut < l.header_end {
            match e {
                GgufError::Truncated {
                    offset,
                    needed,
                    len,
                    ..
                } => {
                    assert_eq!(len, cut, "{what}");
                    assert!(offset + needed > cut, "{what}: {offset}+{needed}");
                    assert!(
                        e.to_string().contains(&format!("offset {offset}")),
                        "{what}"
                    );
                }
                GgufError::AbsurdCount {
                    available, offset, ..
                } => {
                    assert!(offset + 8 <= cut, "{what}");
                    assert_eq!(available, cut - offset - 8, "{what}");
                }
                e => panic!("{what}: {e}"),
            }
        } else {
            // Header complete, data short: the first tensor (in header order) that ends
            // beyond the cut is named.
            let first_out = h
                .tensors
                .iter()
                .find(|t| h.tensor_range(t).end > cut)
                .unwrap();
            match &e {
                GgufError::TensorOutOfBounds {
                    tensor, end, len, ..
                } => {
                    assert_eq!(tensor, &first_out.name, "{what}");
                    assert_eq!(*len, cut, "{what}");
                    assert_eq!(*end, h.tensor_range(first_out).end, "{what}");
                    assert!(e.to_string().contains(&format!("'{tensor}'")), "{what}");
                }
                e => panic!("{what}: {e}"),
            }
        }
    }
}

#[test]
fn truncated_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    for name in [
        "tiny-llama-q4_k.gguf",
        "tiny-llama-f32.gguf",
        "tiny-llama-iq4_xs.gguf",
    ] {
        let b = std::fs::read(dir.join(name)).expect("../shared/fixtures beside the repo");
        let h = parse(&b, name).unwrap();
        let mut cuts: Vec<usize> = (0..h.data_offset as usize).step_by(13).collect();
        cuts.extend((h.data_offset as usize..b.len()).step_by(4099));
        for cut in cuts {
            let e = expect_err(&b[..cut], &format!("{name} cut at {cut}"));
            assert!(
                matches!(
                    e,
                    GgufError::Truncated { .. }
                        | GgufError::AbsurdCount { .. }
                        | GgufError::TensorOutOfBounds { .. }
                        | GgufError::BadMagic { .. }
                ),
                "{name} at {cut}: {e}"
            );
        }
    }
}

#[test]
fn magic_and_version() {
    let (b, _) = sample();
    for i in 0..4 {
        let mut m = b.clone();
        m[i] ^= 0x20;
        match expect_err(&m, "magic") {
            GgufError::BadMagic { found } => assert_eq!(&found[..], &m[..4]),
            e => panic!("{e}"),
        }
    }
    for v in [0u32, 1, 4, 0x0300_0000, u32::MAX] {
        let mut m = b.clone();
        wr_u32(&mut m, 4, v);
        match expect_err(&m, "version") {
            GgufError::UnsupportedVersion { version } => assert_eq!(version, v),
            e => panic!("{e}"),
        }
    }
    // v2 is the same layout and accepted.
    let mut m = b.clone();
    wr_u32(&mut m, 4, 2);
    assert_eq!(parse(&m, "v2").unwrap().version, 2);
}

#[test]
fn absurd_counts_are_rejected_before_allocating() {
    let (b, l) = sample();
    let cases: Vec<(u64, u64, &str)> = vec![
        (8, 1 << 40, "tensor count"),
        (8, u64::MAX, "tensor count"),
        (16, 1 << 60, "metadata key/value count"),
        (16, u64::MAX / 13 + 1, "metadata key/value count"),
        (
            l.key("test.arr").2 + 4,
            1 << 60,
            "array length of 'test.arr'",
        ),
        (
            l.key("test.strs").2 + 4,
            u64::MAX,
            "array length of 'test.strs'",
        ),
        (
            l.key("general.architecture").2,
            1 << 63,
            "value of 'general.architecture'",
        ),
        (l.key("test.count").0, 1 << 63, "metadata key"),
        (l.key("test.strs").2 + 12, 1 << 62, "value of 'test.strs'"),
        (l.tensor("b").0, 1 << 63, "tensor name"),
    ];
    for (at, v, what) in cases {
        let mut m = b.clone();
        wr_u64(&mut m, at, v);
        let e = expect_err(&m, what);
        match &e {
            GgufError::AbsurdCount {
                what: w,
                count,
                offset,
                ..
            } => {
                assert_eq!(w, what);
                assert_eq!(*count, v, "{what}");
                assert_eq!(*offset, at, "{what}");
                assert!(e.to_string().contains(&format!("offset {at}")), "{e}");
            }
            e => panic!("{what}: {e}"),
        }
    }
}

#[test]
fn lengths_slightly_off_give_errors_not_panics() {
    let (b, l) = sample();
    let mut fields: Vec<(u64, bool)> = vec![(8, true), (16, true)];
    for (_, klen, ty, val) in &l.kv {
        fields.push((*klen, true));
        fields.push((*ty, false));
        fields.push((*val, false));
    }
    for (_, nlen, nd, d0, ty, off) in &l.tensors {
        fields.extend([
            (*nlen, true),
            (*nd, false),
            (*d0, true),
            (*ty, false),
            (*off, true),
        ]);
    }
    for (at, wide) in fields {
        for delta in [1i64, -1, 2, 31, -31, 1 << 20, 1 << 31] {
            let mut m = b.clone();
            if wide {
                let v = rd_u64(&m, at).wrapping_add(delta as u64);
                wr_u64(&mut m, at, v);
            } else {
                let v = rd_u32(&m, at).wrapping_add(delta as u32);
                wr_u32(&mut m, at, v);
            }
            // Some deltas still describe a valid file (e.g. a u32 value); only panics fail.
            let _ = parse(&m, &format!("field at {at} + {delta}"));
        }
    }
}

#[test]
fn every_header_byte_flipped() {
    let (b, _) = sample();
    let h = parse(&b, "sample").unwrap();
    for i in 0..h.data_offset as usize {
        for x in [0x01u8, 0x80, 0xff] {
            let mut m = b.clone();
            m[i] ^= x;
            let _ = parse(&m, &format!("byte {i} ^ {x:#x}"));
        }
    }
}

#[test]
fn bad_value_types() {
    let (b, l) = sample();
    for id in [13u32, 255, u32::MAX] {
        let (_, ty_at, _) = l.key("test.count");
        let mut m = b.clone();
        wr_u32(&mut m, ty_at, id);
        match expect_err(&m, "value type") {
            GgufError::BadValueType {
                key,
                type_id,
                offset,
            } => {
                assert_eq!((key.as_str(), type_id, offset), ("test.count", id, ty_at));
            }
            e => panic!("{e}"),
        }
        // Array element type.
        let (_, _, val) = l.key("test.arr");
        let mut m = b.clone();
        wr_u32(&mut m, val, id);
        match expect_err(&m, "array element type") {
            GgufError::BadValueType {
                key,
                type_id,
                offset,
            } => {
                assert_eq!((key.as_str(), type_id, offset), ("test.arr", id, val));
            }
            e => panic!("{e}"),
        }
    }
    // A bool that is neither 0 nor 1.
    let (_, _, val) = l.key("test.flag");
    let mut m = b.clone();
    m[val as usize] = 2;
    match expect_err(&m, "bool") {
        GgufError::BadValueType { key, offset, .. } => {
            assert_eq!((key.as_str(), offset), ("test.flag", val))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn bad_utf8() {
    let (b, l) = sample();
    let (klen, _, _) = l.key("test.count");
    let mut m = b.clone();
    m[klen as usize + 8] = 0xff;
    match expect_err(&m, "key utf8") {
        GgufError::BadUtf8 { what, offset } => {
            assert_eq!((what.as_str(), offset), ("metadata key", klen + 8));
        }
        e => panic!("{e}"),
    }
    let (_, _, val) = l.key("general.architecture");
    let mut m = b.clone();
    m[val as usize + 8] = 0xc3; // a lone UTF-8 lead byte
    match expect_err(&m, "value utf8") {
        GgufError::BadUtf8 { what, offset } => {
            assert_eq!(what, "value of 'general.architecture'");
            assert_eq!(offset, val + 8);
        }
        e => panic!("{e}"),
    }
    let (nlen, ..) = l.tensor("c");
    let mut m = b.clone();
    m[nlen as usize + 8] = 0x80;
    assert!(
        matches!(expect_err(&m, "name utf8"), GgufError::BadUtf8 { offset, .. } if offset == nlen + 8)
    );
}

#[test]
fn bad_shapes() {
    let (b, l) = sample();
    let (_, nd, d0, _, _) = l.tensor("a");
    for n in [0u32, 5, u32::MAX] {
        let mut m = b.clone();
        wr_u32(&mut m, nd, n);
        match expect_err(&m, "n_dims") {
            GgufError::BadShape { tensor, why, .. } => {
                assert_eq!(tensor, "a");
                assert!(why.contains(&n.to_string()), "{why}");
            }
            e => panic!("{e}"),
        }
    }
    let cases: Vec<(&str, u64, u64, &str)> = vec![
        ("a", d0, 0, "zero"),
        ("a", d0 + 8, 0, "zero"),
        ("a", d0, 1 << 62, "overflows"),
        ("a", d0 + 8, u64::MAX, "overflows"),
        ("b", l.tensor("b").2, 33, "block size"),
        ("b", l.tensor("b").2, 16, "block size"),
    ];
    for (t, at, v, why_part) in cases {
        let mut m = b.clone();
        wr_u64(&mut m, at, v);
        match expect_err(&m, why_part) {
            GgufError::BadShape { tensor, dims, why } => {
                assert_eq!(tensor, t);
                assert!(dims.contains(&v));
                assert!(why.contains(why_part), "{why}");
            }
            e => panic!("{e}"),
        }
    }
    // A shape that is valid but bigger than the file.
    let mut m = b.clone();
    wr_u64(&mut m, l.tensor("c").2, 1 << 20);
    match expect_err(&m, "too big") {
        GgufError::TensorOutOfBounds { tensor, len, .. } => {
            assert_eq!(tensor, "c");
            assert_eq!(len, b.len() as u64);
        }
        e => panic!("{e}"),
    }
    // A shape that grows into the next tensor.
    let mut m = b.clone();
    wr_u64(&mut m, d0 + 8, 3);
    match expect_err(&m, "overlap") {
        GgufError::Overlap { a, b, offset } => {
            assert_eq!((a.as_str(), b.as_str()), ("a", "b"));
            assert_eq!(offset, 32);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn unknown_tensor_types() {
    let (b, l) = sample();
    let (_, _, _, ty, _) = l.tensor("b");
    for id in [4u32, 5, 31, 36, 40, 1000, u32::MAX] {
        let mut m = b.clone();
        wr_u32(&mut m, ty, id);
        let e = expect_err(&m, "tensor type");
        match &e {
            GgufError::UnknownTensorType {
                tensor,
                type_id,
                offset,
            } => {
                assert_eq!((tensor.as_str(), *type_id, *offset), ("b", id, ty));
                assert!(e.to_string().contains("'b'"));
            }
            e => panic!("{e}"),
        }
    }
}

#[test]
fn bad_tensor_offsets() {
    let (b, l) = sample();
    let off = |n: &str| l.tensor(n).4;
    // Not a multiple of the alignment.
    for v in [1u64, 16, 33] {
        let mut m = b.clone();
        wr_u64(&mut m, off("b"), v);
        match expect_err(&m, "misaligned") {
            GgufError::Misaligned {
                tensor,
                offset,
                alignment,
            } => {
                assert_eq!((tensor.as_str(), offset, alignment), ("b", v, 32));
            }
            e => panic!("{e}"),
        }
    }
    // Beyond the end, including offsets that overflow when added to the data start.
    for v in [1u64 << 20, 1 << 62, u64::MAX - 31] {
        let mut m = b.clone();
        wr_u64(&mut m, off("c"), v);
        match expect_err(&m, "out of range") {
            GgufError::TensorOutOfBounds { tensor, len, .. } => {
                assert_eq!(tensor, "c");
                assert_eq!(len, b.len() as u64);
            }
            e => panic!("{e}"),
        }
    }
    // Two tensors at the same place.
    let mut m = b.clone();
    let a_off = rd_u64(&m, off("a"));
    wr_u64(&mut m, off("c"), a_off);
    match expect_err(&m, "overlap") {
        GgufError::Overlap { a, b, offset } => {
            let mut pair = [a, b];
            pair.sort();
            assert_eq!(pair, ["a".to_string(), "c".to_string()]);
            assert_eq!(offset, a_off);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn duplicates() {
    let mut w = sample_writer();
    w.add_kv("test.count", Value::U32(8));
    let b = w.to_bytes();
    let l = layout(&b);
    let dup_at = l.kv.iter().rfind(|e| e.0 == "test.count").unwrap().1;
    let e = expect_err(&b, "dup key");
    match &e {
        GgufError::DuplicateKey { key, offset } => {
            assert_eq!((key.as_str(), *offset), ("test.count", dup_at));
            assert!(e.to_string().contains("'test.count'"));
            assert!(e.to_string().contains(&dup_at.to_string()));
        }
        e => panic!("{e}"),
    }
    let mut w = sample_writer();
    w.add_f32("a", &[2], &[0.0, 1.0]).unwrap();
    let b = w.to_bytes();
    let l = layout(&b);
    let dup_at = l.tensors.last().unwrap().1;
    match expect_err(&b, "dup tensor") {
        GgufError::DuplicateTensor { name, offset } => {
            assert_eq!((name.as_str(), offset), ("a", dup_at))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn bad_alignment() {
    let (b, l) = sample();
    let (_, ty, val) = l.key("general.alignment");
    assert_eq!(rd_u32(&b, ty), ValueType::U32 as u32);
    for a in [0u32, 3, 48, 1 << 17, u32::MAX] {
        let mut m = b.clone();
        wr_u32(&mut m, val, a);
        match expect_err(&m, "alignment") {
            GgufError::BadAlignment { alignment } => assert_eq!(alignment, a as u64),
            e => panic!("{e}"),
        }
    }
    // A non-integer alignment: u32 -> f32 keeps the size.
    let mut m = b.clone();
    wr_u32(&mut m, ty, ValueType::F32 as u32);
    match expect_err(&m, "alignment type") {
        GgufError::WrongValueType { key, found, .. } => {
            assert_eq!((key.as_str(), found), ("general.alignment", "f32"))
        }
        e => panic!("{e}"),
    }
    // A smaller valid alignment with offsets that are no longer a multiple of it is fine
    // (32-aligned offsets are 8-aligned), but the data section then starts elsewhere.
    let mut m = b.clone();
    wr_u32(&mut m, val, 8);
    let _ = parse(&m, "alignment 8");
    // The writer refuses bad alignments too.
    for a in [0u64, 3, 1 << 17] {
        assert!(matches!(
            GgufWriter::new().alignment(a),
            Err(GgufError::BadAlignment { .. })
        ));
    }
}

#[test]
fn arrays_nested_too_deep() {
    let mut v = Value::Array(ValueType::U8, vec![Value::U8(1)]);
    for _ in 0..9 {
        v = Value::Array(ValueType::Array, vec![v]);
    }
    let mut w = GgufWriter::new();
    w.add_kv("deep", v);
    match expect_err(&w.to_bytes(), "deep") {
        GgufError::TooDeep { key, max, .. } => assert_eq!((key.as_str(), max), ("deep", 8)),
        e => panic!("{e}"),
    }
    // Eight levels are fine.
    let mut v = Value::Array(ValueType::U8, vec![Value::U8(1)]);
    for _ in 0..7 {
        v = Value::Array(ValueType::Array, vec![v]);
    }
    let mut w = GgufWriter::new();
    w.add_kv("deep", v.clone());
    let h = parse(&w.to_bytes(), "8 deep").unwrap();
    assert_eq!(h.metadata.get("deep"), Some(&v));
}

#[test]
fn garbage_inputs() {
    // Short and random inputs.
    for len in 0..64 {
        let b: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let _ = parse(&b, &format!("{len} bytes of garbage"));
    }
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    let _ = expect_err(&b, "magic+version only");
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    // The smallest valid file: no keys, no tensors.
    let h = parse(&b, "empty").unwrap();
    assert!(h.tensors.is_empty() && h.metadata.is_empty());
}
