//! Shared by the server tests: real models loaded once per test binary, servers on 127.0.0.1
//! port 0, a small SSE reader, and what `Session` produces for the same input (the expected
//! output: the scheduler must not change results).
#![allow(dead_code)]

use chord_engine::{
    ChatMessage, Engine, EngineOptions, GenerateOptions, SamplerConfig, SchedulerConfig,
};
use chord_server::tenants::Tenants;
use chord_server::{Server, ServerOptions};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub fn engine(name: &str) -> Arc<Engine> {
    static ENGINES: OnceLock<Mutex<HashMap<String, Arc<Engine>>>> = OnceLock::new();
    let map = ENGINES.get_or_init(Default::default);
    let mut m = map.lock().unwrap();
    m.entry(name.to_string())
        .or_insert_with(|| {
            let path = chord_testkit::model(name);
            Arc::new(Engine::open(&path, &EngineOptions::default()).expect("load model"))
        })
        .clone()
}

pub struct Opts {
    pub slots: usize,
    pub ctx: usize,
    pub tenants: Option<&'static str>,
    pub grace: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            slots: 4,
            ctx: 512,
            tenants: None,
            grace: Duration::from_secs(10),
        }
    }
}

/// A server bound to 127.0.0.1:0, not yet given a model.
pub async fn bind(model: &str, o: &Opts) -> Server {
    let tenants = match o.tenants {
        Some(t) => Tenants::parse(t).expect("tenants"),
        None => Tenants::open(),
    };
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Server::bind(
        addr,
        ServerOptions {
            model_id: model.to_string(),
            scheduler: SchedulerConfig {
                n_slots: o.slots,
                n_ctx: o.ctx,
                max_batch_tokens: 64,
            },
            tenants,
            shutdown_grace: o.grace,
        },
    )
    .await
    .expect("bind")
}

/// A ready server.
pub async fn start(model: &str, o: &Opts) -> Server {
    let s = bind(model, o).await;
    s.set_engine(engine(model)).expect("set engine");
    s
}

pub fn url(s: &Server, path: &str) -> String {
    format!("http://{}{path}", s.local_addr())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

pub fn greedy_opts(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampler: SamplerConfig::greedy(),
        ..GenerateOptions::default()
    }
}

/// `Session::generate`'s output for a text prompt.
pub fn session_text(model: &str, prompt: &str, opts: &GenerateOptions) -> String {
    let e = engine(model);
    let mut s = e.session(512);
    let g = s.generate(prompt, opts, |_| true).expect("generate");
    String::from_utf8_lossy(&g.output).into_owned()
}

/// `Session::chat`'s output.
pub fn session_chat(model: &str, msgs: &[ChatMessage], opts: &GenerateOptions) -> String {
    let e = engine(model);
    let mut s = e.session(512);
    let g = s.chat(msgs, opts, |_| true).expect("chat");
    String::from_utf8_lossy(&g.output).into_owned()
}

/// Reads a whole SSE response: the `data:` payloads in order.
pub async fn sse(resp: reqwest::Response) -> Vec<String> {
    let mut buf = String::new();
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("body chunk")));
        while let Some(end) = buf.find("\n\n") {
            let ev: String = buf.drain(..end + 2).collect();
            for line in ev.lines() {
                if let Some(d) = line
                    .strip_prefix("data: ")
                    .or_else(|| line.strip_prefix("data:"))
                {
                    out.push(d.to_string());
                }
            }
        }
    }
    out
}

/// The text of streamed chunks (completion `text` or chat `delta.content`).
pub fn stream_text(events: &[String]) -> String {
    let mut t = String::new();
    for e in events {
        if e == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(e).expect("chunk is JSON");
        if let Some(c) = v["choices"].get(0) {
            if let Some(s) = c["text"].as_str() {
                t.push_str(s);
            }
            if let Some(s) = c["delta"]["content"].as_str() {
                t.push_str(s);
            }
        }
    }
    t
}

/// The `[metrics]` key of the tests' tenants files (an open server ignores it).
pub const METRICS_KEY: &str = "sk-metrics";

/// A metric's value from /metrics text (first line starting with `series`).
pub async fn metric(s: &Server, series: &str) -> Option<f64> {
    let text = client()
        .get(url(s, "/metrics"))
        .bearer_auth(METRICS_KEY)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits (bounded) until a metric has the wanted value.
pub async fn wait_metric(s: &Server, series: &str, want: f64) -> bool {
    for _ in 0..300 {
        if metric(s, series).await == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
