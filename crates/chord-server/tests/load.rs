//! Bounded load on 127.0.0.1: many concurrent streams all complete without errors, and a crowd
//! of clients dropping mid-stream leaves every slot free.

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const GEMMA: &str = "gemma3-270m";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_streams_complete_and_sixteen_dropped_streams_free_their_slots() {
    let s = start(
        GEMMA,
        &Opts {
            slots: 8,
            ..Opts::default()
        },
    )
    .await;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let u = url(&s, "/v1/completions");
        tasks.push(tokio::spawn(async move {
            let body = json!({"prompt": format!("Story number {i}:"), "max_tokens": 8, "ignore_eos": true, "temperature": 0, "stream": true});
            let r = client().post(u).json(&body).send().await.expect("send");
            assert_eq!(r.status(), 200);
            let ev = sse(r).await;
            assert_eq!(ev.last().map(String::as_str), Some("[DONE]"), "stream {i} incomplete");
            let fin: Value = serde_json::from_str(&ev[ev.len() - 2]).unwrap();
            assert_eq!(fin["choices"][0]["finish_reason"], "length", "stream {i}");
            assert!(!stream_text(&ev).is_empty());
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(240), t)
            .await
            .expect("streams finish in time")
            .expect("stream ok");
    }
    assert!(t0.elapsed() < Duration::from_secs(240));
    assert_eq!(
        metric(&s, "chord_completion_tokens_total{tenant=\"default\"}").await,
        Some(256.0)
    );
    assert!(wait_metric(&s, "chord_slots_active", 0.0).await);

    // 16 clients start long streams and drop them after the first chunk.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let u = url(&s, "/v1/completions");
        tasks.push(tokio::spawn(async move {
            let body = json!({"prompt": format!("Essay {i}:"), "max_tokens": 400, "ignore_eos": true, "stream": true});
            let r = client().post(u).json(&body).send().await.expect("send");
            let mut b = r.bytes_stream();
            let first = tokio::time::timeout(Duration::from_secs(120), b.next()).await.expect("first chunk in time");
            assert!(first.is_some());
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    assert!(
        wait_metric(&s, "chord_slots_active", 0.0).await,
        "slots still busy after 16 disconnects"
    );
    assert!(wait_metric(&s, "chord_queue_depth", 0.0).await);
    assert!(wait_metric(&s, "chord_requests_in_flight{tenant=\"default\"}", 0.0).await);
    s.shutdown().await.unwrap();
}
