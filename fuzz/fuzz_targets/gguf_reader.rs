//! Arbitrary bytes into the GGUF parser. Whatever parses must be internally consistent: every
//! tensor's slice is in bounds and of its declared size, the stream reader returns the same bytes,
//! every metadata value can be read, and writing the header back out with `GgufWriter` gives a file
//! that parses to the same metadata and tensor table.
#![no_main]

use chord_gguf::{GgufSlice, GgufStream, GgufWriter, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufSlice::parse(data) else {
        return;
    };
    let h = file.header();
    assert!(h.data_offset <= h.file_len || h.tensors.is_empty());
    assert_eq!(h.data_offset % h.alignment, 0);

    // Metadata: every value, every accessor.
    for (k, v) in h.metadata.iter() {
        assert!(h.metadata.get(k).is_some());
        let _ = v.display_short(4);
        let _ = (
            v.as_int(),
            v.as_f64(),
            v.as_bool(),
            v.as_str(),
            v.as_array(),
        );
        let _ = h.metadata.get_u64(k);
        let _ = h.metadata.get_f64(k);
        let _ = h.metadata.get_str(k);
        let _ = h.metadata.get_str_array(k);
        let _ = h.metadata.get_f32_array(k);
        let _ = h.metadata.get_int_array(k);
    }
    let _ = h.architecture();

    // Tensors: the borrowed slice and the streamed copy agree and have the declared size.
    let stream = GgufStream::open(data).expect("a slice that parses must also stream-parse");
    let mut buf = Vec::new();
    for t in &h.tensors {
        let bytes = file.tensor_data(t);
        assert_eq!(bytes.len() as u64, t.n_bytes);
        assert_eq!(t.n_elements, t.dims.iter().product::<u64>());
        assert!(std::ptr::eq(h.tensor(&t.name).expect("indexed"), t));
        stream.read_tensor(t, &mut buf).expect("in-bounds read");
        assert_eq!(buf, bytes);
    }

    // Round trip through the writer.
    let mut w = GgufWriter::new().version(h.version);
    if h.metadata.contains("general.alignment") {
        w = w
            .alignment(h.alignment)
            .expect("alignment validated by the parser");
    }
    for (k, v) in h.metadata.iter() {
        if k != "general.alignment" {
            w.add_kv(k, v.clone());
        }
    }
    for t in &h.tensors {
        w.add_tensor(&t.name, &t.dims, t.ty, file.tensor_data(t).to_vec())
            .expect("parsed tensor is writable");
    }
    let out = w.to_bytes();
    let again = GgufSlice::parse(&out).expect("written file parses");
    let h2 = again.header();
    assert_eq!(h2.version, h.version);
    assert_eq!(h2.alignment, h.alignment);
    let kv = |m: &chord_gguf::Metadata| -> Vec<(String, String)> {
        m.iter()
            .filter(|(k, _)| *k != "general.alignment")
            .map(|(k, v): (&str, &Value)| (k.to_string(), format!("{v:?}")))
            .collect()
    };
    assert_eq!(kv(&h.metadata), kv(&h2.metadata));
    assert_eq!(h.tensors.len(), h2.tensors.len());
    for (a, b) in h.tensors.iter().zip(&h2.tensors) {
        assert_eq!(
            (&a.name, &a.dims, a.ty, a.n_bytes),
            (&b.name, &b.dims, b.ty, b.n_bytes)
        );
        assert_eq!(file.tensor_data(a), again.tensor_data(b));
    }
});
