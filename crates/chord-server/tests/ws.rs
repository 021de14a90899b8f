//! The WebSocket protocol (docs/websocket.md) with a real client on 127.0.0.1.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const GEMMA: &str = "gemma3-270m";
const TENANTS: &str = r#"
[tenants.alice]
api_keys = ["sk-alice"]
[metrics]
api_keys = ["sk-metrics"]
"#;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(s: &chord_server::Server, key: Option<&str>) -> Ws {
    let mut req = format!("ws://{}/v1/ws", s.local_addr())
        .into_client_request()
        .unwrap();
    if let Some(k) = key {
        req.headers_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .expect("connect")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// Next JSON message, or None when the socket closed (bounded wait).
async fn recv(ws: &mut Ws) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("message in time");
        match m {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
            Some(Ok(Message::Text(t))) => {
                return Some(serde_json::from_str(&t).expect("JSON message"))
            }
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_two_multiplexed_generations_cancel_and_error_codes() {
    let prompt_b = "The capital of France is";
    let want_b = session_text(GEMMA, prompt_b, &greedy_opts(16));
    let s = start(
        GEMMA,
        &Opts {
            tenants: Some(TENANTS),
            ..Opts::default()
        },
    )
    .await;

    // Anything before auth: an error, then the socket closes.
    let mut ws = connect(&s, None).await;
    send(
        &mut ws,
        json!({"type": "generate", "id": "x", "prompt": "hi"}),
    )
    .await;
    let e = recv(&mut ws).await.expect("error");
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str(), e["status"].as_u64()),
        (Some("error"), Some("invalid_api_key"), Some(401))
    );
    assert!(recv(&mut ws).await.is_none(), "socket should close");
    // A wrong key: the same.
    let mut ws = connect(&s, None).await;
    send(&mut ws, json!({"type": "auth", "api_key": "sk-nope"})).await;
    assert_eq!(recv(&mut ws).await.unwrap()["code"], "invalid_api_key");
    assert!(recv(&mut ws).await.is_none());
    // A wrong bearer header is refused at the upgrade.
    let mut req = format!("ws://{}/v1/ws", s.local_addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer sk-nope".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());

    // Auth by first message.
    let mut ws = connect(&s, None).await;
    send(&mut ws, json!({"type": "auth", "api_key": "sk-alice"})).await;
    let r = recv(&mut ws).await.unwrap();
    assert_eq!(
        (r["type"].as_str(), r["tenant"].as_str()),
        (Some("ready"), Some("alice"))
    );

    send(&mut ws, json!({"type": "generate", "id": "a", "prompt": "Tell me a long story.", "max_tokens": 400, "ignore_eos": true})).await;
    send(&mut ws, json!({"type": "generate", "id": "b", "prompt": prompt_b, "max_tokens": 16, "temperature": 0})).await;
    send(
        &mut ws,
        json!({"type": "generate", "id": "b", "prompt": "again"}),
    )
    .await;
    send(&mut ws, json!({"type": "cancel", "id": "zzz"})).await;
    send(&mut ws, json!({"type": "generate", "id": "c", "prompt": 5})).await;
    send(&mut ws, json!({"type": "generate", "id": "d"})).await;
    let mut text_b = String::new();
    let (mut done_a, mut done_b) = (None, None);
    let mut a_tokens = 0;
    let mut codes = Vec::new();
    let mut cancelled = false;
    while done_a.is_none() || done_b.is_none() {
        let m = recv(&mut ws).await.expect("socket open");
        match (m["type"].as_str().unwrap(), m["id"].as_str()) {
            ("token", Some("a")) => {
                a_tokens += 1;
                if !cancelled {
                    send(&mut ws, json!({"type": "cancel", "id": "a"})).await;
                    cancelled = true;
                }
            }
            ("token", Some("b")) => text_b.push_str(m["text"].as_str().unwrap()),
            ("done", Some("a")) => done_a = Some(m),
            ("done", Some("b")) => done_b = Some(m),
            ("error", id) => codes.push((
                id.map(String::from),
                m["code"].as_str().unwrap().to_string(),
            )),
            other => panic!("unexpected {other:?}: {m}"),
        }
    }
    let done_a = done_a.unwrap();
    assert_eq!(done_a["finish_reason"], "cancelled");
    assert!(a_tokens < 400 && done_a["usage"]["completion_tokens"].as_u64().unwrap() < 400);
    let done_b = done_b.unwrap();
    assert_eq!(text_b, want_b);
    assert_eq!(done_b["finish_reason"], "length");
    assert_eq!(done_b["usage"]["completion_tokens"], 16);
    codes.sort();
    assert_eq!(
        codes,
        vec![
            (None, "invalid_request".to_string()),
            (Some("b".into()), "duplicate_id".into()),
            (Some("d".into()), "invalid_request".into()),
            (Some("zzz".into()), "unknown_id".into()),
        ]
    );
    // Malformed JSON: an error, the socket stays usable.
    ws.send(Message::Text("{oops".into())).await.unwrap();
    assert_eq!(recv(&mut ws).await.unwrap()["code"], "invalid_json");
    assert!(wait_metric(&s, "chord_slots_active", 0.0).await);

    // Bearer header: ready at once; closing the socket mid-generation frees the slot.
    let mut ws2 = connect(&s, Some("sk-alice")).await;
    assert_eq!(recv(&mut ws2).await.unwrap()["type"], "ready");
    send(&mut ws2, json!({"type": "generate", "id": "long", "prompt": "Once upon a time", "max_tokens": 400, "ignore_eos": true})).await;
    assert_eq!(recv(&mut ws2).await.unwrap()["type"], "token");
    drop(ws2);
    assert!(
        wait_metric(&s, "chord_slots_active", 0.0).await,
        "slot not freed after the socket closed"
    );
    s.shutdown().await.unwrap();
}
