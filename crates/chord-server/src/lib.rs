//! chord-server: the `chord serve` face. OpenAI-compatible HTTP (`/v1/completions`,
//! `/v1/chat/completions`, `/v1/models`), a WebSocket protocol (`/v1/ws`), tenants (API keys,
//! allowed models, concurrency, token rate, context), `/health` and Prometheus `/metrics`.
//! Thin by design: tokenizing, sampling and scheduling are chord-engine's [`Scheduler`], which
//! runs on its own OS thread; this crate only translates between the wire and it.

mod gen;
mod http;
mod metrics;
mod openai;
mod state;
pub mod tenants;
mod ws;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use chord_engine::{Engine, EngineError, Scheduler, SchedulerConfig};
use state::{AppState, Ready};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tenants::Tenants;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use tenants::TenantsError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("binding {addr}: {err}")]
    Bind { addr: String, err: std::io::Error },
    #[error(
        "refusing to listen on {0} without a tenants file: an open server is only allowed on \
         loopback (use --host 127.0.0.1 or give --tenants FILE)"
    )]
    OpenNotLoopback(SocketAddr),
    #[error("the model is already loaded")]
    AlreadyReady,
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// How to serve.
pub struct ServerOptions {
    /// The name clients use for the model (`model` field, `/v1/models`).
    pub model_id: String,
    pub scheduler: SchedulerConfig,
    pub tenants: Tenants,
    /// After shutdown begins, how long in-flight generations may run before they are cancelled.
    pub shutdown_grace: Duration,
}

/// A running server. The socket is bound and answering (`/health` says "loading") before the
/// model is given with [`Server::set_engine`].
pub struct Server {
    state: Arc<AppState>,
    addr: SocketAddr,
    sched_cfg: SchedulerConfig,
    grace: Duration,
    shutdown_tx: watch::Sender<bool>,
    /// Closes the listener and the idle connections (axum's graceful shutdown); sent only once
    /// the generations have drained or been cancelled, so that until then a new request gets a
    /// 503 with an OpenAI error instead of a refused connection.
    close_tx: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

/// How long connections may take to close after the generations ended (a client that stopped
/// reading its stream must not hold the shutdown forever).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub async fn bind(addr: SocketAddr, opts: ServerOptions) -> Result<Server, ServerError> {
        if opts.tenants.is_open() && !addr.ip().is_loopback() {
            return Err(ServerError::OpenNotLoopback(addr));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| ServerError::Bind {
                addr: addr.to_string(),
                err,
            })?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = Arc::new(AppState {
            ready: OnceLock::new(),
            tenants: opts.tenants,
            metrics: metrics::Metrics::default(),
            model_id: opts.model_id,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            shutdown: shutdown_rx,
        });
        let app = Router::new()
            .route("/health", get(http::health))
            .route("/metrics", get(http::metrics))
            .route("/v1/models", get(http::models))
            .route("/v1/completions", post(http::completions))
            .route("/v1/chat/completions", post(http::chat_completions))
            .route("/v1/ws", get(ws::upgrade))
            .fallback(http::not_found)
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(DefaultBodyLimit::max(http::MAX_BODY_BYTES))
            .with_state(state.clone());
        let (close_tx, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|&s| s).await;
                })
                .await
        });
        Ok(Server {
            state,
            addr,
            sched_cfg: opts.scheduler,
            grace: opts.shutdown_grace,
            shutdown_tx,
            close_tx,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_open(&self) -> bool {
        self.state.tenants.is_open()
    }

    /// Starts the scheduler over `engine`; from now on the server is ready.
    pub fn set_engine(&self, engine: Arc<Engine>) -> Result<(), ServerError> {
        let scheduler = Scheduler::start(engine, self.sched_cfg.clone())?;
        self.state
            .ready
            .set(Ready { scheduler })
            .map_err(|_| ServerError::AlreadyReady)
    }

    /// A handle that begins graceful shutdown (e.g. from a signal handler).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown_tx.clone())
    }

    /// Graceful shutdown: from now on a new generation request gets 503 (`shutting_down`) and
    /// `/health` says "shutting_down"; in-flight generations get `shutdown_grace` to finish,
    /// then are cancelled (streams still end properly: a last chunk with `finish_reason`
    /// "cancelled", then `[DONE]`); then the listener closes. Returns when every connection
    /// has closed.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.shutdown_tx.send(true);
        self.wait().await
    }

    /// Serves until shutdown is requested through a [`ShutdownHandle`], then shuts down as
    /// [`Server::shutdown`] does.
    pub async fn wait(self) -> Result<(), ServerError> {
        let mut rx = self.shutdown_tx.subscribe();
        let _ = rx.wait_for(|&s| s).await;
        let deadline = tokio::time::Instant::now() + self.grace;
        // HTTP streams and WebSocket generations alike are scheduler requests: wait for them
        // to drain, up to the deadline, then cancel what is left.
        if let Some(r) = self.state.ready.get() {
            let stats = r.scheduler.stats();
            while tokio::time::Instant::now() < deadline
                && stats.active.load(Ordering::Relaxed) + stats.queued.load(Ordering::Relaxed) > 0
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            r.scheduler.shutdown();
        }
        let _ = self.close_tx.send(true);
        let mut task = self.task;
        let res = match tokio::time::timeout(CLOSE_TIMEOUT, &mut task).await {
            Ok(r) => r,
            Err(_) => {
                task.abort();
                return Ok(());
            }
        };
        match res {
            Ok(r) => Ok(r?),
            Err(e) => Err(ServerError::Io(std::io::Error::other(e))),
        }
    }
}

#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}
