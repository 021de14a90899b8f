//! The OpenAI HTTP face on real models, with a real HTTP client on 127.0.0.1.

mod common;

use chord_engine::{ChatMessage, GenerateOptions, SamplerConfig};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const GEMMA: &str = "gemma3-270m";
const QWEN: &str = "qwen2.5-coder-0.5b";

async fn post(s: &chord_server::Server, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(url(s, path))
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON body"))
}

/// Checks an OpenAI error response (status, `error.code`, an `*_error` type, a message) and
/// returns its body.
async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "{code}");
    let v: Value = r.json().await.expect("error body is JSON");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("_error")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    v
}

/// A bad request must not break the server: a small good one still succeeds.
async fn assert_still_serving(s: &chord_server::Server, after: &str) {
    let (st, v) = post(
        s,
        "/v1/completions",
        json!({"prompt": "Hello", "max_tokens": 1}),
    )
    .await;
    assert_eq!(st, 200, "after {after}: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_completion_and_its_stream_equal_session_output() {
    let prompt = "Once upon a time";
    let want = session_text(GEMMA, prompt, &greedy_opts(24));
    let s = start(GEMMA, &Opts::default()).await;
    let (st, v) = post(
        &s,
        "/v1/completions",
        json!({"model": GEMMA, "prompt": prompt, "max_tokens": 24, "temperature": 0}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"].as_str(), Some(want.as_str()));
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 24);
    assert_eq!(
        v["usage"]["prompt_tokens"],
        engine(GEMMA).prompt_tokens(prompt).unwrap().len()
    );

    let r = client()
        .post(url(&s, "/v1/completions"))
        .json(&json!({"prompt": prompt, "max_tokens": 24, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let ev = sse(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(stream_text(&ev), want);
    let usage: Value = serde_json::from_str(&ev[ev.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 24);
    let fin: Value = serde_json::from_str(&ev[ev.len() - 3]).unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "length");
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completion_uses_the_template_and_stop_strings() {
    let msgs = vec![ChatMessage::user(
        "Write a Python function that adds two numbers.",
    )];
    let want = session_chat(QWEN, &msgs, &greedy_opts(20));
    let stop_opts = GenerateOptions {
        stop: vec!["def".into()],
        ..greedy_opts(20)
    };
    let want_stop = session_chat(QWEN, &msgs, &stop_opts);
    let s = start(QWEN, &Opts::default()).await;
    let body = json!({"model": QWEN, "messages": [{"role": "user", "content": msgs[0].content}], "max_tokens": 20, "temperature": 0});
    let (st, v) = post(&s, "/v1/chat/completions", body.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"].as_str(),
        Some(want.as_str())
    );

    let mut sb = body.clone();
    sb["stream"] = json!(true);
    let ev = sse(client()
        .post(url(&s, "/v1/chat/completions"))
        .json(&sb)
        .send()
        .await
        .unwrap())
    .await;
    let first: Value = serde_json::from_str(&ev[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(stream_text(&ev), want);
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));

    // Content as parts, a stop string.
    let mut pb = body;
    pb["messages"] =
        json!([{"role": "user", "content": [{"type": "text", "text": msgs[0].content}]}]);
    pb["stop"] = json!("def");
    let (st, v) = post(&s, "/v1/chat/completions", pb).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"].as_str(),
        Some(want_stop.as_str())
    );
    if want.contains("def") {
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_their_alone_output() {
    let cases: Vec<(&str, usize, SamplerConfig)> = vec![
        ("The capital of France is", 16, SamplerConfig::greedy()),
        (
            "def fibonacci(n):",
            20,
            SamplerConfig {
                seed: 7,
                ..SamplerConfig::default()
            },
        ),
        ("My favourite colour is", 12, SamplerConfig::greedy()),
        (
            "In 1492,",
            18,
            SamplerConfig {
                seed: 99,
                temperature: 1.0,
                ..SamplerConfig::default()
            },
        ),
        ("Water boils at", 10, SamplerConfig::greedy()),
    ];
    let want: Vec<String> = cases
        .iter()
        .map(|(p, n, sc)| {
            session_text(
                GEMMA,
                p,
                &GenerateOptions {
                    max_tokens: *n,
                    sampler: *sc,
                    ..GenerateOptions::default()
                },
            )
        })
        .collect();
    // 5 requests on 3 slots: some queue, the rest are batched together.
    let s = start(
        GEMMA,
        &Opts {
            slots: 3,
            ..Opts::default()
        },
    )
    .await;
    let mut tasks = Vec::new();
    for (p, n, sc) in &cases {
        let body = json!({"prompt": p, "max_tokens": n, "temperature": sc.temperature, "top_k": sc.top_k, "top_p": sc.top_p, "min_p": sc.min_p, "seed": sc.seed, "stream": true});
        let u = url(&s, "/v1/completions");
        tasks.push(tokio::spawn(async move {
            let r = client().post(u).json(&body).send().await.unwrap();
            stream_text(&sse(r).await)
        }));
    }
    for (t, w) in tasks.into_iter().zip(&want) {
        assert_eq!(&t.await.unwrap(), w);
    }
    assert!(metric(&s, "chord_batch_steps_total").await.unwrap() > 0.0);
    s.shutdown().await.unwrap();
}

/// A request whose prompt prefix comes from the prefix cache gives exactly what a `Session`
/// gives that computed the same chunks: the earlier prompt in one pass, then (its cache cut back
/// to the common prefix, as `Session::feed` does too) the rest of the new prompt as a chunk.
///
/// It is not compared with a fresh session on the whole prompt: the kernels follow llama.cpp's
/// float order for a chunk's length (groups of four tokens in a chunk are summed in another
/// order than the rest), so keys and values computed in another chunking have other low bits,
/// and Qwen's Q8-quantized activations spread that into logits ~0.05 apart on average (0.3 at
/// most), as large as the difference between two attention kernels' (equally valid) orders.
/// Here the third token is a near-tie (" 's" vs " is", top-two margins of 0.015 to 0.065), so
/// whether cached and fresh texts agree is luck; what must hold is that the server adds no
/// difference of its own. (The attention is chunking-invariant bit for bit: `chord-cpu`
/// `tests/attention.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_reuse_shows_in_usage_and_keeps_output() {
    let base =
        "You are a careful assistant. Answer in one sentence.\nQuestion: why is the sky blue?";
    let longer = format!("{base}\nAnswer:");
    let e = engine(QWEN);
    let mut mirror = e.session(512);
    let first = mirror.generate(base, &greedy_opts(4), |_| true).unwrap();
    let want = mirror
        .generate(&longer, &greedy_opts(12), |_| true)
        .unwrap();
    let base_len = e.prompt_tokens(base).unwrap().len();
    assert!(
        want.cached_tokens >= base_len - 1,
        "mirror reused {}",
        want.cached_tokens
    );
    let s = start(QWEN, &Opts::default()).await;
    let (_, v) = post(
        &s,
        "/v1/completions",
        json!({"prompt": base, "max_tokens": 4, "temperature": 0}),
    )
    .await;
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    // Nothing cached: the same as a fresh session.
    assert_eq!(
        v["choices"][0]["text"].as_str(),
        Some(&*String::from_utf8_lossy(&first.output))
    );
    let (_, v) = post(
        &s,
        "/v1/completions",
        json!({"prompt": longer, "max_tokens": 12, "temperature": 0}),
    )
    .await;
    let cached = v["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert_eq!(cached, want.cached_tokens as u64, "{v}");
    assert_eq!(
        v["choices"][0]["text"].as_str(),
        Some(&*String::from_utf8_lossy(&want.output))
    );
    assert!(
        metric(&s, "chord_prompt_cached_tokens_total{tenant=\"default\"}")
            .await
            .unwrap()
            >= cached as f64
    );
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_stream_cancels_and_frees_the_slot() {
    let s = start(
        GEMMA,
        &Opts {
            slots: 2,
            ..Opts::default()
        },
    )
    .await;
    for _ in 0..2 {
        let r = client()
            .post(url(&s, "/v1/completions"))
            .json(&json!({"prompt": "Tell me a very long story.", "max_tokens": 450, "ignore_eos": true, "stream": true}))
            .send()
            .await
            .unwrap();
        let mut body = r.bytes_stream();
        use futures_util::StreamExt;
        let first = tokio::time::timeout(Duration::from_secs(60), body.next())
            .await
            .expect("first chunk in time");
        assert!(first.is_some());
        assert_eq!(metric(&s, "chord_slots_active").await, Some(1.0));
        drop(body); // the client goes away mid-stream
        assert!(
            wait_metric(&s, "chord_slots_active", 0.0).await,
            "slot not freed after disconnect"
        );
    }
    let done = metric(&s, "chord_completion_tokens_total{tenant=\"default\"}")
        .await
        .unwrap();
    assert!(done < 900.0, "cancelled streams ran on: {done} tokens");
    let (st, _) = post(
        &s,
        "/v1/completions",
        json!({"prompt": "Hi", "max_tokens": 3}),
    )
    .await;
    assert_eq!(st, 200);
    s.shutdown().await.unwrap();
}

const TENANTS: &str = r#"
[tenants.alice]
api_keys = ["sk-alice"]
models = ["gemma3-270m"]
max_concurrent = 1
[tenants.bob]
api_keys = ["sk-bob"]
models = ["some-other-model"]
[tenants.carol]
api_keys = ["sk-carol"]
tokens_per_minute = 6
[tenants.dave]
api_keys = ["sk-dave"]
max_context = 40
[metrics]
api_keys = ["sk-metrics"]
"#;

async fn metrics_as(s: &chord_server::Server, key: Option<&str>) -> (u16, String) {
    let mut r = client().get(url(s, "/metrics"));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post_key(s: &chord_server::Server, key: Option<&str>, body: Value) -> reqwest::Response {
    let mut r = client().post(url(s, "/v1/completions")).json(&body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_get_401_403_429_with_retry_after() {
    let s = start(
        GEMMA,
        &Opts {
            tenants: Some(TENANTS),
            ..Opts::default()
        },
    )
    .await;
    let body = json!({"model": GEMMA, "prompt": "Hello there", "max_tokens": 4});
    for key in [None, Some("sk-wrong"), Some("sk-alicex")] {
        let v = expect_error(
            post_key(&s, key, body.clone()).await,
            401,
            "invalid_api_key",
        )
        .await;
        assert!(
            !v.to_string().contains("sk-wrong"),
            "the key is echoed: {v}"
        );
    }
    let r = post_key(&s, Some("sk-bob"), body.clone()).await;
    expect_error(r, 403, "model_not_allowed").await;
    let models: Value = client()
        .get(url(&s, "/v1/models"))
        .bearer_auth("sk-bob")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"].as_array().unwrap().len(), 0);
    assert_eq!(
        client()
            .get(url(&s, "/v1/models"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Token rate: the first request spends more than the minute's 6 tokens.
    assert_eq!(
        post_key(&s, Some("sk-carol"), body.clone()).await.status(),
        200
    );
    let r = post_key(&s, Some("sk-carol"), body.clone()).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    expect_error(r, 429, "rate_limit_exceeded").await;

    // Concurrency: alice's second request while her first streams.
    let r1 = post_key(&s, Some("sk-alice"), json!({"prompt": "Count to one hundred:", "max_tokens": 300, "ignore_eos": true, "stream": true})).await;
    assert_eq!(r1.status(), 200);
    let r2 = post_key(&s, Some("sk-alice"), body.clone()).await;
    assert_eq!(r2.status(), 429);
    assert!(r2.headers().contains_key("retry-after"));
    // Another tenant is not held up by alice's stream.
    let r3 = post_key(&s, Some("sk-dave"), body.clone()).await;
    assert_eq!(r3.status(), 200);
    drop(r1);
    // Dave's context limit.
    let long = "word ".repeat(60);
    let r = post_key(
        &s,
        Some("sk-dave"),
        json!({"prompt": long, "max_tokens": 1}),
    )
    .await;
    expect_error(r, 400, "context_length_exceeded").await;
    // /metrics is not public with a tenants file: no key or a wrong one gets 401 (JSON).
    for key in [None, Some("sk-wrong")] {
        let (st, body) = metrics_as(&s, key).await;
        assert_eq!(st, 401, "{key:?}");
        let v: Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(v["error"]["code"], "invalid_api_key");
    }
    // The [metrics] key sees every tenant.
    let (st, text) = metrics_as(&s, Some("sk-metrics")).await;
    assert_eq!(st, 200);
    assert!(
        text.contains("chord_requests_total{tenant=\"carol\",code=\"429\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("chord_requests_total{tenant=\"unauthenticated\",code=\"401\"} 3"),
        "{text}"
    );
    // A tenant's key sees its own series and the server-wide gauges, nobody else's.
    let (st, text) = metrics_as(&s, Some("sk-carol")).await;
    assert_eq!(st, 200);
    assert!(
        text.contains("chord_requests_total{tenant=\"carol\",code=\"429\"} 1"),
        "{text}"
    );
    assert!(text.contains("chord_slots_total 4"), "{text}");
    for other in ["alice", "bob", "dave", "unauthenticated"] {
        assert!(
            !text.contains(&format!("tenant=\"{other}\"")),
            "{other} visible to carol:\n{text}"
        );
    }
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_openai_errors_and_the_server_keeps_serving() {
    let s = start(
        GEMMA,
        &Opts {
            ctx: 64,
            ..Opts::default()
        },
    )
    .await;
    const CMPL: &str = "/v1/completions";
    const CHAT: &str = "/v1/chat/completions";
    let long = "word ".repeat(100);
    let user = |content: &str| json!([{"role": "user", "content": content}]);
    let texts = |bodies: &[&str]| bodies.iter().map(|b| b.to_string()).collect::<Vec<_>>();
    let jsons = |bodies: &[Value]| bodies.iter().map(Value::to_string).collect::<Vec<_>>();
    // (path, status, error code, bodies)
    let groups: Vec<(&str, u16, &str, Vec<String>)> = vec![
        (
            CMPL,
            400,
            "invalid_json",
            texts(&["{not json", "[1, 2]", ""]),
        ),
        (
            CMPL,
            400,
            "invalid_request",
            texts(&[
                r#"{"prompt": "hi", "temperature": "hot"}"#,
                r#"{"prompt": 42}"#,
                r#"{"prompt": "hi", "max_tokens": "ten"}"#,
                r#"{"prompt": "hi", "stop": [1, 2]}"#,
                r#"{"prompt": "hi", "stream": "yes"}"#,
                r#"{"max_tokens": 3}"#,
                r#"{"prompt": "hi", "max_tokens": -1}"#,
            ]),
        ),
        (
            CMPL,
            400,
            "invalid_value",
            texts(&[
                r#"{"prompt": "hi", "max_tokens": 1000000000000}"#,
                r#"{"prompt": "hi", "n": 2}"#,
                r#"{"prompt": "hi", "temperature": 0.5, "repeat_penalty": 0}"#,
            ]),
        ),
        (
            CMPL,
            404,
            "model_not_found",
            texts(&[r#"{"prompt": "hi", "model": "gpt-4"}"#]),
        ),
        (
            CMPL,
            400,
            "context_length_exceeded",
            jsons(&[json!({"prompt": long})]),
        ),
        (
            CHAT,
            400,
            "invalid_request",
            jsons(&[
                json!({"messages": 5}),
                json!({"messages": user("hi"), "max_tokens": "ten"}),
            ]),
        ),
        (
            CHAT,
            400,
            "invalid_value",
            jsons(&[
                json!({"messages": []}),
                json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                json!({"messages": user("hi"), "n": 3}),
            ]),
        ),
        (
            CHAT,
            400,
            "context_length_exceeded",
            jsons(&[json!({"messages": user(&long)})]),
        ),
        // Over the body limit (2 MiB): 413 with an OpenAI error, not axum's plain text.
        (
            CMPL,
            413,
            "request_too_large",
            vec![format!(r#"{{"prompt": "{}"}}"#, "a".repeat(3 << 20))],
        ),
    ];
    let cases = groups.into_iter().flat_map(|(path, status, code, bodies)| {
        bodies.into_iter().map(move |b| (path, b, status, code))
    });
    for (path, body, status, code) in cases {
        let r = client()
            .post(url(&s, path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(r, status, code).await;
        assert_still_serving(&s, code).await;
    }
    // Unknown paths and methods get OpenAI errors too.
    let r = client().get(url(&s, "/v1/nothing")).send().await.unwrap();
    expect_error(r, 404, "unknown_url").await;
    let r = client().get(url(&s, CMPL)).send().await.unwrap();
    expect_error(r, 405, "method_not_supported").await;
    assert_still_serving(&s, "method_not_supported").await;
    // The prompt-too-long error names the sizes and the field.
    let r = post_key(&s, None, json!({"prompt": "word ".repeat(100)})).await;
    let v: Value = r.json().await.unwrap();
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("tokens") && m.contains("64"), "{m}");
    assert_eq!(v["error"]["param"], "prompt");
    // Unknown fields are ignored, as OpenAI does.
    let (st, v) = post(
        &s,
        "/v1/completions",
        json!({"prompt": "Hello", "max_tokens": 2, "frobnicate": {"x": [1, 2]}, "logit_bias": {}, "user": "u1"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 2);
    // max_tokens larger than the context: 400. Within the context but past the room the prompt
    // leaves: clamped to that room (as llama-server does), finish_reason "length".
    let (st, v) = post(
        &s,
        "/v1/completions",
        json!({"prompt": "Hello", "max_tokens": 65}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["param"], "max_tokens");
    let (st, v) = post(
        &s,
        "/v1/completions",
        json!({"prompt": "word ".repeat(30), "max_tokens": 64, "ignore_eos": true}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let used = v["usage"]["prompt_tokens"].as_u64().unwrap()
        + v["usage"]["completion_tokens"].as_u64().unwrap();
    assert_eq!(used, 64, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    // Still serving.
    let (st, v) = post(
        &s,
        "/v1/completions",
        json!({"prompt": "Hello", "max_tokens": 2}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        client()
            .get(url(&s, "/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_models_and_metrics() {
    let s = bind(GEMMA, &Opts::default()).await;
    let h = client().get(url(&s, "/health")).send().await.unwrap();
    assert_eq!(h.status(), 503);
    let r = post_key(&s, None, json!({"prompt": "hi"})).await;
    expect_error(r, 503, "model_loading").await;
    s.set_engine(engine(GEMMA)).unwrap();
    assert!(s.set_engine(engine(GEMMA)).is_err());
    let h: Value = client()
        .get(url(&s, "/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let m: Value = client()
        .get(url(&s, "/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["object"], "list");
    assert_eq!(m["data"][0]["id"], GEMMA);
    let (st, _) = post(
        &s,
        "/v1/completions",
        json!({"prompt": "Hello", "max_tokens": 3}),
    )
    .await;
    assert_eq!(st, 200);
    let text = client()
        .get(url(&s, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "chord_requests_total{tenant=\"default\",code=\"200\"} 1",
        "chord_prompt_tokens_total{tenant=\"default\"}",
        "chord_completion_tokens_total{tenant=\"default\"} 3",
        "chord_queue_depth 0",
        "chord_slots_active 0",
        "chord_slots_total 4",
        "chord_time_to_first_token_seconds_count{tenant=\"default\"} 1",
        "chord_inter_token_latency_seconds_count{tenant=\"default\"} 2",
        "# TYPE chord_time_to_first_token_seconds histogram",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_streams_cleanly_and_stops_listening() {
    let s = start(
        GEMMA,
        &Opts {
            grace: Duration::from_millis(1500),
            ..Opts::default()
        },
    )
    .await;
    let addr = s.local_addr();
    let base = format!("http://{addr}");
    let r = client()
        .post(url(&s, "/v1/completions"))
        .json(&json!({"prompt": "Tell me a long story.", "max_tokens": 450, "ignore_eos": true, "stream": true}))
        .send()
        .await
        .unwrap();
    let reader = tokio::spawn(sse(r));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = std::time::Instant::now();
    let stopping = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(30), s.shutdown())
            .await
            .expect("shutdown in time")
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // During the grace period: new requests get 503 with an OpenAI error, /health says so.
    let r = client()
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}))
        .send()
        .await
        .expect("still answering during the grace period");
    let v = expect_error(r, 503, "shutting_down").await;
    assert_eq!(v["error"]["type"], "server_error", "{v}");
    let h = client().get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(h.status(), 503);
    assert_eq!(h.json::<Value>().await.unwrap()["status"], "shutting_down");
    // The in-flight stream was cut at the end of the grace: a final chunk saying why, [DONE].
    stopping.await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "grace not given"
    );
    let ev = reader.await.unwrap();
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let fin: Value = serde_json::from_str(&ev[ev.len() - 2]).unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "cancelled");
    assert!(
        stream_text(&ev).len() > 1,
        "nothing streamed before the cut"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_short_generations_finish() {
    let s = start(GEMMA, &Opts::default()).await;
    let r = client()
        .post(url(&s, "/v1/completions"))
        .json(&json!({"prompt": "Once upon a time", "max_tokens": 12, "ignore_eos": true, "stream": true}))
        .send()
        .await
        .unwrap();
    let reader = tokio::spawn(sse(r));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(30), s.shutdown())
        .await
        .expect("shutdown in time")
        .unwrap();
    // Done as soon as the stream finished, not after the whole 10 s grace.
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    let ev = reader.await.unwrap();
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let fin: Value = serde_json::from_str(&ev[ev.len() - 2]).unwrap();
    assert_eq!(fin["choices"][0]["finish_reason"], "length");
}
