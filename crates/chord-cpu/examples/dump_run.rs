//! Our side of `tools/llama_dump`: runs the prompt and the greedy steps that `dumptool` chose
//! (its `tokens.txt`: prompt ids on line 1, step tokens on line 2) with an F32 KV cache, so
//! with `CHORD_DUMP_DIR=DIR` set the named intermediates land where `compare.py` expects them:
//! the prompt's in DIR, step i's in DIR/step<i>/, each with a LOGITS.bin.
//!
//! `cargo run --release -p chord-cpu --example dump_run -- MODEL.gguf TOKENS.txt`

use chord_cpu::CpuBackend;
use chord_model::{KvType, Logits, Model, Scratch};
use std::error::Error;
use std::path::Path;

fn ids(line: Option<&str>) -> Result<Vec<u32>, Box<dyn Error>> {
    Ok(line
        .unwrap_or("")
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?)
}

fn write_logits(dir: &Path, l: &[f32]) -> std::io::Result<()> {
    let bytes: Vec<u8> = l.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("LOGITS.bin"), bytes)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, tokens] = &args[..] else {
        return Err("usage: dump_run MODEL.gguf TOKENS.txt (with CHORD_DUMP_DIR set)".into());
    };
    let dir = std::path::PathBuf::from(std::env::var("CHORD_DUMP_DIR")?);
    let model = Model::open(model)?;
    let text = std::fs::read_to_string(tokens)?;
    let mut lines = text.lines();
    let prompt = ids(lines.next())?;
    let steps = ids(lines.next())?;
    let backend = CpuBackend::new(2);
    let mut cache = model.new_cache_with(prompt.len() + steps.len() + 1, KvType::F32);
    let mut s = Scratch::default();
    // Each forward pass rewrites the same file names in DIR: park them after each pass (the
    // prompt's in DIR/.prompt until the end, then back in DIR; step i's in DIR/step<i>).
    let park = |to: &Path| -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name();
            if e.file_type()?.is_file() && name.to_string_lossy().contains('-') {
                std::fs::rename(e.path(), to.join(&name))?;
            }
        }
        Ok(())
    };
    let held = dir.join(".prompt");
    let l = model.forward(&backend, &mut cache, &prompt, Logits::Last, &mut s)?;
    write_logits(&dir, l)?;
    park(&held)?;
    for (i, &t) in steps.iter().enumerate() {
        let step_dir = dir.join(format!("step{i}"));
        let l = model.forward(&backend, &mut cache, &[t], Logits::Last, &mut s)?;
        park(&step_dir)?;
        write_logits(&step_dir, l)?;
    }
    for e in std::fs::read_dir(&held)? {
        let e = e?;
        std::fs::rename(e.path(), dir.join(e.file_name()))?;
    }
    std::fs::remove_dir(&held)?;
    Ok(())
}
