//! From an OpenAI-style request to a running generation: prompt tokens, limits, sampling
//! options, the tenant's admission, and the stream of events back (with metrics and rate
//! accounting). Shared by the HTTP endpoints and the WebSocket protocol.

use crate::openai::{ApiError, OneOrMany, Options};
use crate::state::AppState;
use crate::tenants::{Permit, Refusal, Tenant};
use axum::http::StatusCode;
use chord_engine::{ChatMessage, EngineError, SamplerConfig, SeqEvent, SeqHandle, SeqRequest};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Most stop strings per request (OpenAI allows 4).
const MAX_STOPS: usize = 16;

pub enum PromptIn {
    Text(String),
    Chat(Vec<ChatMessage>),
}

/// A running generation. Dropping it cancels the request (the slot is freed at the scheduler's
/// next step) and releases the tenant's concurrency.
pub struct Running {
    handle: SeqHandle,
    rx: mpsc::UnboundedReceiver<SeqEvent>,
    permit: Permit,
    state: Arc<AppState>,
    pub prompt_tokens: usize,
    t0: Instant,
    last: Option<Instant>,
    completion: usize,
    done: bool,
}

impl Running {
    /// Asks the scheduler to stop this generation; `Done` (cancelled) follows.
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// The next event; `None` after `Done`/`Error` (or if the scheduler went away, reported as
    /// an `Error` first).
    pub async fn next(&mut self) -> Option<SeqEvent> {
        if self.done {
            return None;
        }
        let ev = match self.rx.recv().await {
            Some(ev) => ev,
            None => SeqEvent::Error(EngineError::SchedulerStopped),
        };
        let name = &self.permit.tenant().name;
        match &ev {
            SeqEvent::Token { index, .. } if *index == self.completion => {
                let now = Instant::now();
                match self.last {
                    None => self.state.metrics.ttft(name, now - self.t0),
                    Some(t) => self.state.metrics.itl(name, now - t),
                }
                self.last = Some(now);
                self.completion += 1;
                self.permit.tenant().charge(1);
            }
            SeqEvent::Token { .. } => {}
            SeqEvent::Done(s) => {
                self.done = true;
                self.state.metrics.finished(
                    name,
                    s.prompt_tokens,
                    s.cached_tokens,
                    s.completion_tokens,
                );
            }
            SeqEvent::Error(_) => {
                self.done = true;
                self.state
                    .metrics
                    .finished(name, self.prompt_tokens, 0, self.completion);
            }
        }
        Some(ev)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            let name = &self.permit.tenant().name;
            self.state
                .metrics
                .finished(name, self.prompt_tokens, 0, self.completion);
        }
    }
}

/// Validates, admits and submits one generation.
pub fn start(
    state: &Arc<AppState>,
    tenant: &Arc<Tenant>,
    prompt: PromptIn,
    o: &Options,
    default_max_tokens: Option<u64>,
) -> Result<Running, ApiError> {
    if state.shutting_down() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "shutting_down",
            "the server is shutting down",
        ));
    }
    let ready = state.ready()?;
    let engine = ready.scheduler.engine();
    let n_ctx = ready.scheduler.config().n_ctx;
    if let Some(m) = &o.model {
        if *m != state.model_id {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "the model '{m}' does not exist (this server serves '{}')",
                    state.model_id
                ),
            )
            .param("model"));
        }
    }
    if let Some(n) = o.n {
        if n != 1 {
            return Err(ApiError::invalid("invalid_value", "only n = 1 is supported").param("n"));
        }
    }
    let prompt_param = match &prompt {
        PromptIn::Text(_) => "prompt",
        PromptIn::Chat(_) => "messages",
    };
    let ids = match &prompt {
        PromptIn::Text(t) => engine.prompt_tokens(t),
        PromptIn::Chat(m) => {
            if m.is_empty() {
                return Err(
                    ApiError::invalid("invalid_value", "messages must not be empty")
                        .param("messages"),
                );
            }
            engine.chat_tokens(m)
        }
    }
    .map_err(|e| ApiError::invalid("invalid_prompt", e.to_string()).param(prompt_param))?;
    if ids.is_empty() {
        return Err(
            ApiError::invalid("invalid_prompt", "the prompt has no tokens").param(prompt_param),
        );
    }
    let limit = tenant.spec.max_context.map_or(n_ctx, |m| m.min(n_ctx));
    if ids.len() > limit {
        return Err(ApiError::invalid(
            "context_length_exceeded",
            format!(
                "the prompt has {} tokens; the context holds {limit}",
                ids.len()
            ),
        )
        .param(prompt_param));
    }
    let asked = o
        .max_tokens
        .or(o.max_completion_tokens)
        .or(default_max_tokens);
    if let Some(m) = asked {
        if m > limit as u64 {
            return Err(ApiError::invalid(
                "invalid_value",
                format!("max_tokens is {m}; at most {limit} (the context) is allowed"),
            )
            .param("max_tokens"));
        }
    }
    let room = limit - ids.len();
    let max_tokens = asked.map_or(room, |m| (m as usize).min(room));
    let stop = match &o.stop {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s.clone()],
        Some(OneOrMany::Many(v)) => v.clone(),
    };
    if stop.len() > MAX_STOPS {
        return Err(ApiError::invalid(
            "invalid_value",
            format!("at most {MAX_STOPS} stop strings"),
        )
        .param("stop"));
    }
    let sampler = sampler(o)?;

    let permit = tenant.admit(&state.model_id).map_err(|r| match r {
        Refusal::ModelNotAllowed => ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "model_not_allowed",
            format!("this API key may not use the model '{}'", state.model_id),
        ),
        Refusal::TooManyConcurrent => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "too_many_concurrent_requests",
                "too many concurrent requests for this API key",
            );
            e.retry_after = Some(1);
            e
        }
        Refusal::RateLimited(d) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limit_exceeded",
                "token rate limit reached for this API key",
            );
            e.retry_after = Some(d.as_secs_f64().ceil() as u64);
            e
        }
    })?;
    let prompt_tokens = ids.len();
    let req = SeqRequest {
        prompt: ids,
        max_tokens,
        sampler,
        stop,
        ignore_eos: o.ignore_eos,
        cache_key: tenant.name.clone(),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = ready
        .scheduler
        .submit(req, Box::new(move |ev| tx.send(ev).is_ok()))
        .map_err(|e| match e {
            EngineError::SchedulerStopped => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "shutting_down",
                "the server is shutting down",
            ),
            e => ApiError::invalid("invalid_request", e.to_string()),
        })?;
    tenant.charge(prompt_tokens);
    state.metrics.started(&tenant.name);
    Ok(Running {
        handle,
        rx,
        permit,
        state: state.clone(),
        prompt_tokens,
        t0: Instant::now(),
        last: None,
        completion: 0,
        done: false,
    })
}

/// llama.cpp's sampling defaults (as llama-server), overridden by the request's fields.
fn sampler(o: &Options) -> Result<SamplerConfig, ApiError> {
    let mut c = SamplerConfig::default();
    if let Some(t) = o.temperature {
        c.temperature = t;
    }
    if let Some(p) = o.top_p {
        c.top_p = p;
    }
    if let Some(k) = o.top_k {
        c.top_k = k as usize;
    }
    if let Some(m) = o.min_p {
        c.min_p = m;
    }
    if let Some(r) = o.repeat_penalty {
        c.repeat_penalty = r;
    }
    if let Some(f) = o.frequency_penalty {
        c.frequency_penalty = f;
    }
    if let Some(p) = o.presence_penalty {
        c.presence_penalty = p;
    }
    if let Some(s) = o.seed {
        c.seed = s;
    }
    c.validate()
        .map_err(|e| ApiError::invalid("invalid_value", e.to_string()))?;
    Ok(c)
}
