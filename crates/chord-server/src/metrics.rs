//! Prometheus text metrics, per tenant, written by hand (a handful of counters and two
//! histograms do not need a metrics framework in the dependency tree).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (c, &b) in self.counts.iter_mut().zip(&BUCKETS) {
            if s <= b {
                *c += 1;
            }
        }
        self.count += 1;
        self.sum += s;
    }
}

#[derive(Default, Clone)]
struct TenantMetrics {
    /// By HTTP status (or WebSocket outcome) code.
    requests: BTreeMap<u16, u64>,
    prompt_tokens: u64,
    cached_tokens: u64,
    completion_tokens: u64,
    in_flight: i64,
    ttft: Histogram,
    itl: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    tenants: Mutex<BTreeMap<String, TenantMetrics>>,
}

/// Scheduler numbers sampled when the metrics are read.
pub struct Gauges {
    pub queue_depth: usize,
    pub slots_active: usize,
    pub slots_total: usize,
    pub steps: u64,
    pub batch_tokens: u64,
}

impl Metrics {
    fn with(&self, tenant: &str, f: impl FnOnce(&mut TenantMetrics)) {
        let mut m = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(tenant.to_string()).or_default());
    }
    pub fn request(&self, tenant: &str, status: u16) {
        self.with(tenant, |t| *t.requests.entry(status).or_default() += 1);
    }
    pub fn started(&self, tenant: &str) {
        self.with(tenant, |t| t.in_flight += 1);
    }
    pub fn finished(&self, tenant: &str, prompt: usize, cached: usize, completion: usize) {
        self.with(tenant, |t| {
            t.in_flight -= 1;
            t.prompt_tokens += prompt as u64;
            t.cached_tokens += cached as u64;
            t.completion_tokens += completion as u64;
        });
    }
    pub fn ttft(&self, tenant: &str, d: Duration) {
        self.with(tenant, |t| t.ttft.observe(d));
    }
    pub fn itl(&self, tenant: &str, d: Duration) {
        self.with(tenant, |t| t.itl.observe(d));
    }

    /// The Prometheus text; `only` keeps one tenant's series (the server-wide gauges stay).
    pub fn render(&self, g: &Gauges, only: Option<&str>) -> String {
        let mut o = String::new();
        let all = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let one: BTreeMap<String, TenantMetrics>;
        let m = match only {
            None => &*all,
            Some(name) => {
                one = all
                    .get(name)
                    .map(|t| (name.to_string(), t.clone()))
                    .into_iter()
                    .collect();
                &one
            }
        };
        let _ = writeln!(
            o,
            "# HELP chord_requests_total Requests by tenant and status code."
        );
        let _ = writeln!(o, "# TYPE chord_requests_total counter");
        for (name, t) in m.iter() {
            for (code, n) in &t.requests {
                let _ = writeln!(
                    o,
                    "chord_requests_total{{tenant=\"{}\",code=\"{code}\"}} {n}",
                    esc(name)
                );
            }
        }
        counter(
            &mut o,
            m,
            "chord_prompt_tokens_total",
            "Prompt tokens (tokens in).",
            |t| t.prompt_tokens,
        );
        counter(
            &mut o,
            m,
            "chord_prompt_cached_tokens_total",
            "Prompt tokens reused from the prefix cache.",
            |t| t.cached_tokens,
        );
        counter(
            &mut o,
            m,
            "chord_completion_tokens_total",
            "Generated tokens (tokens out).",
            |t| t.completion_tokens,
        );
        let _ = writeln!(
            o,
            "# HELP chord_requests_in_flight Generations running or queued."
        );
        let _ = writeln!(o, "# TYPE chord_requests_in_flight gauge");
        for (name, t) in m.iter() {
            let _ = writeln!(
                o,
                "chord_requests_in_flight{{tenant=\"{}\"}} {}",
                esc(name),
                t.in_flight
            );
        }
        histogram(
            &mut o,
            m,
            "chord_time_to_first_token_seconds",
            "Time from request to first token.",
            |t| &t.ttft,
        );
        histogram(
            &mut o,
            m,
            "chord_inter_token_latency_seconds",
            "Time between consecutive tokens of a stream.",
            |t| &t.itl,
        );
        let gauges = [
            (
                "chord_queue_depth",
                "Requests waiting for a free slot.",
                g.queue_depth as u64,
            ),
            (
                "chord_slots_active",
                "Slots running a request.",
                g.slots_active as u64,
            ),
            (
                "chord_slots_total",
                "Slots in the pool.",
                g.slots_total as u64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters = [
            (
                "chord_batch_steps_total",
                "Batched forward passes run.",
                g.steps,
            ),
            (
                "chord_batch_tokens_total",
                "Tokens run through batched forward passes.",
                g.batch_tokens,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        o
    }
}

fn counter(
    o: &mut String,
    m: &BTreeMap<String, TenantMetrics>,
    name: &str,
    help: &str,
    f: impl Fn(&TenantMetrics) -> u64,
) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
    for (t, tm) in m {
        let _ = writeln!(o, "{name}{{tenant=\"{}\"}} {}", esc(t), f(tm));
    }
}

fn histogram(
    o: &mut String,
    m: &BTreeMap<String, TenantMetrics>,
    name: &str,
    help: &str,
    f: impl Fn(&TenantMetrics) -> &Histogram,
) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (t, tm) in m {
        let h = f(tm);
        let t = esc(t);
        for (c, b) in h.counts.iter().zip(&BUCKETS) {
            let _ = writeln!(o, "{name}_bucket{{tenant=\"{t}\",le=\"{b}\"}} {c}");
        }
        let _ = writeln!(o, "{name}_bucket{{tenant=\"{t}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(o, "{name}_sum{{tenant=\"{t}\"}} {}", h.sum);
        let _ = writeln!(o, "{name}_count{{tenant=\"{t}\"}} {}", h.count);
    }
}

/// Label values are tenant names from the operator's file; escaped as the text format asks.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
