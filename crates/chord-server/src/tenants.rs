//! Tenants: API keys mapped to tenants, each with allowed models and limits, read from TOML:
//!
//! ```toml
//! [tenants.alice]
//! api_keys = ["sk-alice-1"]
//! models = ["gemma3-270m"]     # or ["*"]; absent = every model
//! max_concurrent = 4           # requests at once; absent = no limit
//! tokens_per_minute = 20000    # prompt + completion tokens; absent = no limit
//! max_context = 2048           # prompt + completion tokens of one request; absent = the server's
//!
//! [metrics]                    # optional: keys that may read every tenant's /metrics series
//! api_keys = ["sk-metrics-1"]  # (a tenant's own key reads only that tenant's series)
//! ```
//!
//! Keys are compared in constant time and never logged or echoed.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    #[error("reading {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("tenants file: {0}")]
    Parse(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tenants: BTreeMap<String, TenantSpec>,
    #[serde(default)]
    metrics: Option<MetricsSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSpec {
    api_keys: Vec<String>,
}

/// What a key may read of `/metrics`.
#[derive(Debug, PartialEq)]
pub enum MetricsAccess {
    /// Every tenant's series (a `[metrics]` key, or an open server).
    All,
    /// Only this tenant's series and the server-wide gauges.
    Tenant(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    pub api_keys: Vec<String>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub max_concurrent: Option<usize>,
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    #[serde(default)]
    pub max_context: Option<usize>,
}

/// One tenant and its live usage.
pub struct Tenant {
    pub name: String,
    pub spec: TenantSpec,
    usage: Mutex<Usage>,
}

struct Usage {
    in_flight: usize,
    /// Token bucket: tokens available now (may go negative: a request is charged for what it
    /// really used, and the debt delays the next one).
    bucket: f64,
    refilled: Instant,
}

/// Why a request is refused before it runs.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    ModelNotAllowed,
    TooManyConcurrent,
    /// Out of tokens for now; retry after this long.
    RateLimited(Duration),
}

/// A request's hold on its tenant's concurrency; released on drop.
pub struct Permit {
    tenant: Arc<Tenant>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut u) = self.tenant.usage.lock() {
            u.in_flight = u.in_flight.saturating_sub(1);
        }
    }
}

impl Permit {
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }
}

impl Tenant {
    fn new(name: String, spec: TenantSpec) -> Tenant {
        let bucket = spec.tokens_per_minute.unwrap_or(0) as f64;
        Tenant {
            name,
            spec,
            usage: Mutex::new(Usage {
                in_flight: 0,
                bucket,
                refilled: Instant::now(),
            }),
        }
    }

    pub fn allows_model(&self, model: &str) -> bool {
        match &self.spec.models {
            None => true,
            Some(list) => list.iter().any(|m| m == "*" || m == model),
        }
    }

    /// Admits one request for `model` or says why not.
    pub fn admit(self: &Arc<Self>, model: &str) -> Result<Permit, Refusal> {
        if !self.allows_model(model) {
            return Err(Refusal::ModelNotAllowed);
        }
        let mut u = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tpm) = self.spec.tokens_per_minute {
            refill(&mut u, tpm);
            if u.bucket < 1.0 {
                let per_sec = tpm as f64 / 60.0;
                let wait = if per_sec > 0.0 {
                    (1.0 - u.bucket) / per_sec
                } else {
                    60.0
                };
                return Err(Refusal::RateLimited(Duration::from_secs_f64(
                    wait.clamp(1.0, 3600.0),
                )));
            }
        }
        if let Some(max) = self.spec.max_concurrent {
            if u.in_flight >= max {
                return Err(Refusal::TooManyConcurrent);
            }
        }
        u.in_flight += 1;
        Ok(Permit {
            tenant: self.clone(),
        })
    }

    /// Charges tokens used (prompt tokens computed, tokens generated).
    pub fn charge(&self, tokens: usize) {
        if let Some(tpm) = self.spec.tokens_per_minute {
            let mut u = self.usage.lock().unwrap_or_else(|p| p.into_inner());
            refill(&mut u, tpm);
            u.bucket -= tokens as f64;
        }
    }
}

fn refill(u: &mut Usage, tpm: u64) {
    let now = Instant::now();
    let dt = now.duration_since(u.refilled).as_secs_f64();
    u.refilled = now;
    u.bucket = (u.bucket + dt * tpm as f64 / 60.0).min(tpm as f64);
}

/// Every tenant, or open access (no tenants file: one unlimited tenant, `default`).
pub struct Tenants {
    /// (key bytes, tenant)
    keys: Vec<(Vec<u8>, Arc<Tenant>)>,
    /// `[metrics]` keys.
    metrics_keys: Vec<Vec<u8>>,
    open: Option<Arc<Tenant>>,
}

impl Tenants {
    /// No authentication: everyone is the `default` tenant without limits.
    pub fn open() -> Tenants {
        let spec = TenantSpec {
            api_keys: Vec::new(),
            models: None,
            max_concurrent: None,
            tokens_per_minute: None,
            max_context: None,
        };
        Tenants {
            keys: Vec::new(),
            metrics_keys: Vec::new(),
            open: Some(Arc::new(Tenant::new("default".into(), spec))),
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    pub fn load(path: &std::path::Path) -> Result<Tenants, TenantsError> {
        let text = std::fs::read_to_string(path).map_err(|err| TenantsError::Read {
            path: path.display().to_string(),
            err,
        })?;
        Tenants::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Tenants, TenantsError> {
        let file: File = toml::from_str(text).map_err(|e| TenantsError::Parse(e.to_string()))?;
        let mut keys: Vec<(Vec<u8>, Arc<Tenant>)> = Vec::new();
        for (name, spec) in file.tenants {
            if spec.api_keys.is_empty() {
                return Err(TenantsError::Parse(format!(
                    "tenant '{name}' has no api_keys"
                )));
            }
            let t = Arc::new(Tenant::new(name.clone(), spec.clone()));
            for k in &spec.api_keys {
                if k.is_empty() {
                    return Err(TenantsError::Parse(format!(
                        "tenant '{name}' has an empty key"
                    )));
                }
                if keys.iter().any(|(other, _)| other == k.as_bytes()) {
                    // The key itself is not named: it would end up in logs.
                    return Err(TenantsError::Parse(format!(
                        "tenant '{name}' repeats a key already used"
                    )));
                }
                keys.push((k.as_bytes().to_vec(), t.clone()));
            }
        }
        if keys.is_empty() {
            return Err(TenantsError::Parse("no tenants defined".into()));
        }
        let mut metrics_keys: Vec<Vec<u8>> = Vec::new();
        for k in file.metrics.map(|m| m.api_keys).unwrap_or_default() {
            if k.is_empty() {
                return Err(TenantsError::Parse("[metrics] has an empty key".into()));
            }
            let k = k.into_bytes();
            if keys.iter().any(|(other, _)| *other == k) || metrics_keys.contains(&k) {
                return Err(TenantsError::Parse(
                    "[metrics] repeats a key already used".into(),
                ));
            }
            metrics_keys.push(k);
        }
        Ok(Tenants {
            keys,
            metrics_keys,
            open: None,
        })
    }

    /// The tenant of a presented key (None: missing or unknown key). Every configured key is
    /// compared, each in constant time, so the timing says nothing about which bytes matched.
    pub fn authenticate(&self, key: Option<&str>) -> Option<Arc<Tenant>> {
        if let Some(t) = &self.open {
            return Some(t.clone());
        }
        let key = key?.as_bytes();
        let mut found = None;
        for (k, t) in &self.keys {
            if ct_eq(k, key) && found.is_none() {
                found = Some(t.clone());
            }
        }
        found
    }
}

impl Tenants {
    /// What a presented key may read of `/metrics` (None: nothing, 401). An open server's
    /// metrics are open, like the rest of it.
    pub fn metrics_access(&self, key: Option<&str>) -> Option<MetricsAccess> {
        if self.open.is_some() {
            return Some(MetricsAccess::All);
        }
        let k = key?.as_bytes();
        let mut all = false;
        for m in &self.metrics_keys {
            all |= ct_eq(m, k);
        }
        if all {
            return Some(MetricsAccess::All);
        }
        self.authenticate(key)
            .map(|t| MetricsAccess::Tenant(t.name.clone()))
    }
}

/// Constant-time equality for equal lengths (the length itself is not secret enough to hide).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[tenants.alice]
api_keys = ["ka"]
models = ["m1"]
max_concurrent = 1
[tenants.bob]
api_keys = ["kb", "kb2"]
tokens_per_minute = 60
"#;

    #[test]
    fn keys_models_concurrency_and_rate() {
        let t = Tenants::parse(FILE).unwrap();
        assert!(t.authenticate(None).is_none());
        assert!(t.authenticate(Some("nope")).is_none());
        let alice = t.authenticate(Some("ka")).unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(t.authenticate(Some("kb2")).unwrap().name, "bob");
        assert_eq!(alice.admit("m2").err(), Some(Refusal::ModelNotAllowed));
        let p = alice.admit("m1").unwrap();
        assert_eq!(alice.admit("m1").err(), Some(Refusal::TooManyConcurrent));
        drop(p);
        assert!(alice.admit("m1").is_ok());
        let bob = t.authenticate(Some("kb")).unwrap();
        let p = bob.admit("anything").unwrap();
        bob.charge(100);
        drop(p);
        match bob.admit("anything") {
            Err(Refusal::RateLimited(d)) => assert!(d >= Duration::from_secs(30), "{d:?}"),
            other => panic!("expected a rate limit, got {:?}", other.err()),
        }
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(Tenants::parse("").is_err());
        assert!(Tenants::parse("[tenants.a]\napi_keys = []").is_err());
        assert!(Tenants::parse("[tenants.a]\napi_keys = [1]").is_err());
        assert!(
            Tenants::parse("[tenants.a]\napi_keys=[\"k\"]\n[tenants.b]\napi_keys=[\"k\"]").is_err()
        );
        assert!(Tenants::parse("[tenants.a]\napi_keys=[\"k\"]\nextra = 1").is_err());
        assert!(
            Tenants::parse("[tenants.a]\napi_keys=[\"k\"]\n[metrics]\napi_keys=[\"k\"]").is_err()
        );
        assert!(
            Tenants::parse("[tenants.a]\napi_keys=[\"k\"]\n[metrics]\napi_keys=[\"\"]").is_err()
        );
    }

    #[test]
    fn metrics_access_by_key() {
        let t = Tenants::parse(&format!("{FILE}[metrics]\napi_keys = [\"km\"]\n")).unwrap();
        assert_eq!(t.metrics_access(None), None);
        assert_eq!(t.metrics_access(Some("nope")), None);
        assert_eq!(t.metrics_access(Some("km")), Some(MetricsAccess::All));
        assert_eq!(
            t.metrics_access(Some("kb2")),
            Some(MetricsAccess::Tenant("bob".into()))
        );
        let no_section = Tenants::parse(FILE).unwrap();
        assert_eq!(no_section.metrics_access(Some("km")), None);
        assert_eq!(
            Tenants::open().metrics_access(None),
            Some(MetricsAccess::All)
        );
    }
}
