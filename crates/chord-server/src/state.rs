//! What every handler shares: readiness (the model loads after the socket is bound, so
//! `/health` can say "loading"), tenants, metrics, the shutdown signal.

use crate::metrics::{Gauges, Metrics};
use crate::openai::ApiError;
use crate::tenants::{Tenant, Tenants};
use axum::http::{HeaderMap, StatusCode};
use chord_engine::Scheduler;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;

pub struct Ready {
    pub scheduler: Scheduler,
}

pub struct AppState {
    pub ready: OnceLock<Ready>,
    pub tenants: Tenants,
    pub metrics: Metrics,
    pub model_id: String,
    /// Unix time the server started (the model's `created`).
    pub created: u64,
    /// Becomes true when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub fn ready(&self) -> Result<&Ready, ApiError> {
        self.ready.get().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "model_loading",
                "the model is still loading",
            )
        })
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The tenant of a request's `Authorization: Bearer KEY`, or 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Tenant>, ApiError> {
        let key = bearer(headers);
        self.tenant_for(key)
    }

    pub fn tenant_for(&self, key: Option<&str>) -> Result<Arc<Tenant>, ApiError> {
        self.tenants.authenticate(key).ok_or_else(|| {
            let msg = if key.is_some() {
                "incorrect API key provided"
            } else {
                "missing API key: send 'Authorization: Bearer KEY'"
            };
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                msg,
            )
        })
    }

    pub fn gauges(&self) -> Gauges {
        match self.ready.get() {
            Some(r) => {
                let s = r.scheduler.stats();
                Gauges {
                    queue_depth: s.queued.load(Ordering::Relaxed),
                    slots_active: s.active.load(Ordering::Relaxed),
                    slots_total: r.scheduler.config().n_slots,
                    steps: s.steps.load(Ordering::Relaxed),
                    batch_tokens: s.batch_tokens.load(Ordering::Relaxed),
                }
            }
            None => Gauges {
                queue_depth: 0,
                slots_active: 0,
                slots_total: 0,
                steps: 0,
                batch_tokens: 0,
            },
        }
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}
