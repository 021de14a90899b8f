//! The WebSocket protocol at `/v1/ws` (docs/websocket.md): authenticate, then any number of
//! `generate` requests multiplexed by id, each streaming `token` events and ending with one
//! `done` or `error`; `cancel` by id. Closing the socket cancels everything it started.

use crate::gen::{self, PromptIn, Running};
use crate::openai::{self, ApiError, InMessage, Options};
use crate::state::{bearer, AppState};
use crate::tenants::Tenant;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chord_engine::SeqEvent;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most generations in flight on one socket (tenants' own limits apply on top).
const MAX_PER_SOCKET: usize = 64;
/// Largest client message accepted.
const MAX_MESSAGE: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMsg {
    Auth {
        api_key: String,
    },
    Generate {
        id: String,
        #[serde(default)]
        prompt: Option<String>,
        #[serde(default)]
        messages: Option<Vec<InMessage>>,
        #[serde(flatten)]
        opts: Box<Options>,
    },
    Cancel {
        id: String,
    },
}

pub async fn upgrade(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A bearer header authenticates the whole socket (and a wrong one is refused before the
    // upgrade); otherwise the first message must be `auth` (browsers cannot set headers).
    let tenant = if bearer(&headers).is_some() || st.tenants.is_open() {
        match st.authenticate(&headers) {
            Ok(t) => Some(t),
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| session(st, socket, tenant))
}

fn error(id: Option<&str>, e: &ApiError) -> Value {
    let mut v = json!({"type": "error", "id": id, "code": e.code, "status": e.status.as_u16(), "message": e.message});
    if let Some(s) = e.retry_after {
        v["retry_after"] = json!(s);
    }
    v
}

async fn session(st: Arc<AppState>, socket: WebSocket, mut tenant: Option<Arc<Tenant>>) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        while let Some(v) = out_rx.recv().await {
            if sink
                .send(Message::Text(v.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let ready = |t: &Tenant| json!({"type": "ready", "tenant": t.name, "model": st.model_id});
    if let Some(t) = &tenant {
        let _ = out.send(ready(t));
    }
    let mut gens: HashMap<String, oneshot::Sender<()>> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let mut shutdown = st.shutdown.clone();
    let mut shutting = st.shutting_down();
    loop {
        if shutting && gens.is_empty() {
            break;
        }
        tokio::select! {
            msg = stream.next() => {
                let text = match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let _ = out.send(error(None, &ApiError::invalid("invalid_json", "messages are JSON text frames")));
                        continue;
                    }
                    Some(Ok(_)) => continue, // ping/pong: answered by the library
                };
                let msg: ClientMsg = match openai::parse(text.as_bytes()) {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = out.send(error(None, &e));
                        continue;
                    }
                };
                match (msg, &tenant) {
                    (ClientMsg::Auth { api_key }, None) => match st.tenant_for(Some(&api_key)) {
                        Ok(t) => {
                            let _ = out.send(ready(&t));
                            tenant = Some(t);
                        }
                        Err(e) => {
                            st.metrics.request("unauthenticated", 401);
                            let _ = out.send(error(None, &e));
                            break;
                        }
                    },
                    (ClientMsg::Auth { .. }, Some(_)) => {
                        let _ = out.send(error(None, &ApiError::invalid("already_authenticated", "this socket is already authenticated")));
                    }
                    (_, None) => {
                        st.metrics.request("unauthenticated", 401);
                        let e = st.tenant_for(None).err().unwrap_or_else(|| ApiError::invalid("invalid_api_key", "authenticate first"));
                        let _ = out.send(error(None, &e));
                        break;
                    }
                    (ClientMsg::Cancel { id }, Some(_)) => match gens.remove(&id) {
                        Some(c) => {
                            let _ = c.send(());
                        }
                        None => {
                            let _ = out.send(error(Some(&id), &ApiError::invalid("unknown_id", format!("no generation '{id}' is running"))));
                        }
                    },
                    (ClientMsg::Generate { id, prompt, messages, opts }, Some(t)) => {
                        let started = if gens.contains_key(&id) {
                            Err(ApiError::invalid("duplicate_id", format!("a generation '{id}' is already running")))
                        } else if gens.len() >= MAX_PER_SOCKET {
                            Err(ApiError::invalid("too_many_generations", format!("at most {MAX_PER_SOCKET} generations per socket")))
                        } else if shutting {
                            Err(ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "server_error", "shutting_down", "the server is shutting down"))
                        } else {
                            start(&st, t, prompt, messages, &opts)
                        };
                        match started {
                            Ok(run) => {
                                st.metrics.request(&t.name, 200);
                                let (ctx, crx) = oneshot::channel();
                                gens.insert(id.clone(), ctx);
                                tokio::spawn(forward(run, id, crx, out.clone(), done_tx.clone()));
                            }
                            Err(e) => {
                                st.metrics.request(&t.name, e.status.as_u16());
                                let _ = out.send(error(Some(&id), &e));
                            }
                        }
                    }
                }
            }
            Some(id) = done_rx.recv() => {
                gens.remove(&id);
            }
            _ = shutdown.changed() => {
                shutting = true;
            }
        }
    }
    // Dropping the cancel senders cancels whatever still runs (the client is gone or shutdown).
    drop(gens);
    drop(out);
    let _ = writer.await;
}

fn start(
    st: &Arc<AppState>,
    t: &Arc<Tenant>,
    prompt: Option<String>,
    messages: Option<Vec<InMessage>>,
    opts: &Options,
) -> Result<Running, ApiError> {
    let p = match (prompt, messages) {
        (Some(p), None) => PromptIn::Text(p),
        (None, Some(m)) => PromptIn::Chat(m.iter().map(|m| m.to_chat()).collect::<Result<_, _>>()?),
        _ => {
            return Err(ApiError::invalid(
                "invalid_request",
                "give exactly one of 'prompt' and 'messages'",
            ))
        }
    };
    gen::start(st, t, p, opts, None)
}

/// Streams one generation's events to the socket; a cancel (or the socket going away) cancels
/// the request and still reports its `done`.
async fn forward(
    mut run: Running,
    id: String,
    mut cancel: oneshot::Receiver<()>,
    out: mpsc::UnboundedSender<Value>,
    done: mpsc::UnboundedSender<String>,
) {
    let mut cancelled = false;
    loop {
        let ev = tokio::select! {
            ev = run.next() => ev,
            _ = &mut cancel, if !cancelled => {
                cancelled = true;
                run.cancel();
                continue;
            }
        };
        let msg = match ev {
            Some(SeqEvent::Token { index, text, .. }) => {
                if text.is_empty() {
                    continue;
                }
                json!({"type": "token", "id": id, "index": index, "text": text})
            }
            Some(SeqEvent::Done(s)) => json!({
                "type": "done", "id": id,
                "finish_reason": s.stop_reason.finish_reason(),
                "usage": openai::usage(s.prompt_tokens, s.cached_tokens, s.completion_tokens),
            }),
            Some(SeqEvent::Error(e)) => error(
                Some(&id),
                &ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "generation_failed",
                    e.to_string(),
                ),
            ),
            None => break,
        };
        let _ = out.send(msg);
    }
    let _ = done.send(id);
}
