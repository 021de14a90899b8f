//! Prints a one-line summary per tensor: used to eyeball a file against `gguf-dump`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: gguf_summary FILE")?;
    let f = chord_gguf::GgufMmap::open(&path)?;
    let h = f.header();
    println!(
        "version {} kv {} tensors {} alignment {} data_offset {}",
        h.version,
        h.metadata.len(),
        h.tensors.len(),
        h.alignment,
        h.data_offset
    );
    for (k, v) in h.metadata.iter() {
        println!("kv {k} = {}", v.display_short(4));
    }
    for t in &h.tensors {
        println!(
            "tensor {} {:?} {} off {} bytes {}",
            t.name, t.dims, t.ty, t.offset, t.n_bytes
        );
    }
    Ok(())
}
