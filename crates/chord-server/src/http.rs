//! The OpenAI-compatible HTTP endpoints, `/health` and `/metrics`.

use crate::gen::{self, PromptIn, Running};
use crate::openai::{self, ApiError, ChatRequest, CompletionRequest, OneOrMany, Options};
use crate::state::AppState;
use crate::tenants::MetricsAccess;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chord_engine::{SeqEvent, SeqSummary};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// OpenAI's default `max_tokens` for `/v1/completions`; chat runs to the end of the context.
const COMPLETIONS_DEFAULT_MAX_TOKENS: u64 = 16;

/// Largest request body (a whole context of text is far smaller); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 2 << 20;

pub async fn health(State(st): State<Arc<AppState>>) -> Response {
    if st.shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        )
            .into_response();
    }
    match st.ready() {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "model": st.model_id})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading"})),
        )
            .into_response(),
    }
}

/// With a tenants file, per-tenant numbers are not public: a `[metrics]` key sees every
/// tenant, a tenant's key only its own series (plus the server-wide gauges), no key gets 401.
pub async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let only = match st.tenants.metrics_access(crate::state::bearer(&headers)) {
        Some(MetricsAccess::All) => None,
        Some(MetricsAccess::Tenant(name)) => Some(name),
        None => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "/metrics needs 'Authorization: Bearer KEY' with a [metrics] or a tenant key",
            )
            .into_response()
        }
    };
    let text = st.metrics.render(&st.gauges(), only.as_deref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Unknown paths: an OpenAI-style 404 rather than an empty body.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown_url",
        format!("unknown URL: {}", uri.path()),
    )
    .into_response()
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_supported",
        format!("{method} is not supported on {}", uri.path()),
    )
    .into_response()
}

/// A body that could not be read: over [`MAX_BODY_BYTES`] (413) or cut short (400).
fn body_error(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    } else {
        ApiError::invalid(
            "invalid_body",
            format!("cannot read the request body: {}", r.body_text()),
        )
    }
}

pub async fn models(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let tenant = match st.authenticate(&headers) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let data: Vec<Value> = if tenant.allows_model(&st.model_id) && st.ready.get().is_some() {
        vec![
            json!({"id": st.model_id, "object": "model", "created": st.created, "owned_by": "wasm-chord"}),
        ]
    } else {
        Vec::new()
    };
    Json(json!({"object": "list", "data": data})).into_response()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Completion,
    Chat,
}

pub async fn completions(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(st, headers, body, Kind::Completion).await
}

pub async fn chat_completions(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(st, headers, body, Kind::Chat).await
}

async fn handle(
    st: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: Kind,
) -> Response {
    let tenant = match st.authenticate(&headers) {
        Ok(t) => t,
        Err(e) => {
            st.metrics.request("unauthenticated", e.status.as_u16());
            return e.into_response();
        }
    };
    let r = body
        .map_err(body_error)
        .and_then(|body| start(&st, &tenant, &body, kind));
    let (run, opts) = match r {
        Ok(x) => x,
        Err(e) => {
            st.metrics.request(&tenant.name, e.status.as_u16());
            return e.into_response();
        }
    };
    st.metrics.request(&tenant.name, 200);
    let meta = Meta::new(&st, kind);
    if opts.stream {
        let include_usage = opts
            .stream_options
            .as_ref()
            .is_some_and(|s| s.include_usage);
        stream(run, meta, include_usage)
    } else {
        whole(run, meta).await
    }
}

fn start(
    st: &Arc<AppState>,
    tenant: &Arc<crate::tenants::Tenant>,
    body: &[u8],
    kind: Kind,
) -> Result<(Running, Options), ApiError> {
    match kind {
        Kind::Completion => {
            let req: CompletionRequest = openai::parse(body)?;
            let prompt = match req.prompt {
                OneOrMany::One(p) => p,
                OneOrMany::Many(mut v) if v.len() == 1 => v.remove(0),
                OneOrMany::Many(_) => {
                    return Err(ApiError::invalid(
                        "invalid_value",
                        "only one prompt per request is supported",
                    )
                    .param("prompt"))
                }
            };
            let run = gen::start(
                st,
                tenant,
                PromptIn::Text(prompt),
                &req.opts,
                Some(COMPLETIONS_DEFAULT_MAX_TOKENS),
            )?;
            Ok((run, req.opts))
        }
        Kind::Chat => {
            let req: ChatRequest = openai::parse(body)?;
            let msgs = req
                .messages
                .iter()
                .map(|m| m.to_chat())
                .collect::<Result<Vec<_>, _>>()?;
            let run = gen::start(st, tenant, PromptIn::Chat(msgs), &req.opts, None)?;
            Ok((run, req.opts))
        }
    }
}

/// Fields every response of one request repeats.
struct Meta {
    kind: Kind,
    id: String,
    created: u64,
    model: String,
}

impl Meta {
    fn new(st: &AppState, kind: Kind) -> Meta {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let prefix = if kind == Kind::Chat {
            "chatcmpl"
        } else {
            "cmpl"
        };
        Meta {
            kind,
            id: format!("{prefix}-{now:x}"),
            created: (now / 1_000_000_000) as u64,
            model: st.model_id.clone(),
        }
    }
    fn object(&self, chunk: bool) -> &'static str {
        match (self.kind, chunk) {
            (Kind::Completion, _) => "text_completion",
            (Kind::Chat, false) => "chat.completion",
            (Kind::Chat, true) => "chat.completion.chunk",
        }
    }
    fn envelope(&self, chunk: bool, choices: Value) -> Value {
        json!({"id": self.id, "object": self.object(chunk), "created": self.created, "model": self.model, "choices": choices})
    }
    /// A streamed piece of text (or, with `finish`, the closing chunk).
    fn chunk(&self, text: Option<&str>, finish: Option<&str>) -> Value {
        let choice = match self.kind {
            Kind::Completion => {
                json!({"index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": finish})
            }
            Kind::Chat => {
                let delta = match text {
                    Some(t) => json!({"content": t}),
                    None => json!({}),
                };
                json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
            }
        };
        self.envelope(true, json!([choice]))
    }
}

fn server_error(msg: String) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "generation_failed",
        msg,
    )
}

async fn whole(mut run: Running, meta: Meta) -> Response {
    let mut text = String::new();
    let sum: SeqSummary = loop {
        match run.next().await {
            Some(SeqEvent::Token { text: t, .. }) => text.push_str(&t),
            Some(SeqEvent::Done(s)) => break s,
            Some(SeqEvent::Error(e)) => return server_error(e.to_string()).into_response(),
            None => {
                return server_error("generation ended without a result".into()).into_response()
            }
        }
    };
    let finish = sum.stop_reason.finish_reason();
    let choice = match meta.kind {
        Kind::Completion => {
            json!({"index": 0, "text": text, "logprobs": null, "finish_reason": finish})
        }
        Kind::Chat => {
            json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": finish})
        }
    };
    let mut body = meta.envelope(false, json!([choice]));
    body["usage"] = openai::usage(sum.prompt_tokens, sum.cached_tokens, sum.completion_tokens);
    Json(body).into_response()
}

/// Server-sent events: one chunk per piece of text, a closing chunk with `finish_reason`, the
/// usage chunk if asked for, then `data: [DONE]`. Dropping the response (client gone) drops the
/// generation, which cancels it and frees its slot.
fn stream(run: Running, meta: Meta, include_usage: bool) -> Response {
    enum Phase {
        Start,
        Body,
        Finished,
    }
    let events = futures_util::stream::unfold(
        (run, meta, Phase::Start, Vec::<Event>::new()),
        move |(mut run, meta, mut phase, mut queue)| async move {
            loop {
                if let Some(ev) = queue.pop() {
                    return Some((Ok::<Event, Infallible>(ev), (run, meta, phase, queue)));
                }
                match phase {
                    Phase::Finished => return None,
                    Phase::Start => {
                        phase = Phase::Body;
                        if meta.kind == Kind::Chat {
                            let mut c = meta.chunk(None, None);
                            c["choices"][0]["delta"] = json!({"role": "assistant", "content": ""});
                            return Some((Ok(data(&c)), (run, meta, phase, queue)));
                        }
                    }
                    Phase::Body => match run.next().await {
                        Some(SeqEvent::Token { text, .. }) => {
                            if !text.is_empty() {
                                return Some((
                                    Ok(data(&meta.chunk(Some(&text), None))),
                                    (run, meta, phase, queue),
                                ));
                            }
                        }
                        Some(SeqEvent::Done(s)) => {
                            phase = Phase::Finished;
                            // Popped from the back: pushed in reverse order.
                            queue.push(Event::default().data("[DONE]"));
                            if include_usage {
                                let mut u = meta.envelope(true, json!([]));
                                u["usage"] = openai::usage(
                                    s.prompt_tokens,
                                    s.cached_tokens,
                                    s.completion_tokens,
                                );
                                queue.push(data(&u));
                            }
                            queue
                                .push(data(&meta.chunk(None, Some(s.stop_reason.finish_reason()))));
                        }
                        Some(SeqEvent::Error(e)) => {
                            phase = Phase::Finished;
                            queue.push(Event::default().data("[DONE]"));
                            queue.push(data(&server_error(e.to_string()).body()));
                        }
                        None => phase = Phase::Finished,
                    },
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn data(v: &Value) -> Event {
    Event::default().data(v.to_string())
}
