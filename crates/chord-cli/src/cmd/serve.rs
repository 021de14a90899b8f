//! `chord serve`: the OpenAI-compatible HTTP + WebSocket server (chord-server) over the
//! engine's batching scheduler. The socket is bound first (so `/health` answers "loading"
//! while the model loads); SIGTERM or Ctrl-C shut down gracefully, also during the load (the
//! handlers are installed before it: the listener closes, exit status 0).

use super::common::{load_engine, DeviceArg, KvTypeArg, ModelArgs};
use anyhow::Context;
use chord_engine::SchedulerConfig;
use chord_server::tenants::Tenants;
use chord_server::{Server, ServerOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model: a GGUF path or a known name (`chord pull --list`).
    #[arg(short = 'm', long = "model")]
    pub model: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Sequences served at once (one KV cache each).
    #[arg(long, default_value_t = 8)]
    pub slots: usize,
    /// Context of each slot, in tokens.
    #[arg(long, default_value_t = 4096)]
    pub ctx: usize,
    /// Prompt tokens per batched forward pass, read in chunks of this size (as `chord run`'s
    /// 512-token batches, so a request's output does not depend on the load); the decode tokens
    /// of running streams come on top.
    #[arg(long = "batch-tokens", default_value_t = 512)]
    pub batch_tokens: usize,
    /// TOML file of API keys, tenants and limits; without it the server is open (loopback only).
    #[arg(long)]
    pub tenants: Option<PathBuf>,
    /// CPU threads (0 = all cores).
    #[arg(short = 't', long = "threads", default_value_t = 0)]
    pub threads: usize,
    /// Element type of the slots' KV caches.
    #[arg(long = "kv-type", value_enum, default_value_t = KvTypeArg::F16)]
    pub kv_type: KvTypeArg,
    /// Where the model runs (`cpu`, `gpu`, `auto`), as for `chord run`.
    #[arg(long = "device", value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Seconds in-flight generations may run after SIGTERM before they are cancelled.
    #[arg(long = "shutdown-grace", default_value_t = 10)]
    pub shutdown_grace: u64,
    /// Name of the model in the API (default: the -m value, or the file's stem for a path).
    #[arg(long = "model-id")]
    pub model_id: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Registered before anything slow (tenants file, bind, model load): from here a SIGTERM or
    // Ctrl-C no longer kills the process with the default action, it is seen by the select
    // around the load or by the graceful-shutdown task once serving.
    let signals = {
        let _guard = rt.enter();
        Signals::install().context("installing the SIGTERM/SIGINT handlers")?
    };
    let res = rt.block_on(serve(args, signals));
    // A load interrupted by a signal still runs on a blocking thread (loading cannot be
    // cancelled midway); dropping the runtime would wait for it, so leave it to the exit.
    rt.shutdown_background();
    res
}

async fn serve(args: Args, mut signals: Signals) -> anyhow::Result<()> {
    let tenants = match &args.tenants {
        Some(p) => Tenants::load(p)?,
        None => Tenants::open(),
    };
    let model_id = args.model_id.clone().unwrap_or_else(|| {
        let p = std::path::Path::new(&args.model);
        if p.is_file() {
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| args.model.clone())
        } else {
            args.model.clone()
        }
    });
    let opts = ServerOptions {
        model_id,
        scheduler: SchedulerConfig {
            n_slots: args.slots,
            n_ctx: args.ctx,
            max_batch_tokens: args.batch_tokens,
        },
        tenants,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
    };
    let server = Server::bind(SocketAddr::new(args.host, args.port), opts).await?;
    if server.is_open() {
        eprintln!(
            "warning: no --tenants file: the server is open to anyone on this machine (loopback only)"
        );
    }
    eprintln!("listening on http://{}", server.local_addr());
    let model_args = ModelArgs {
        model: args.model.clone(),
        threads: args.threads,
        ctx: args.ctx,
        kv_type: args.kv_type,
        device: args.device,
        stream_budget: None,
        prefetch: 1,
    };
    let load = tokio::task::spawn_blocking(move || load_engine(&model_args));
    let engine = tokio::select! {
        r = load => r.context("loading the model")??,
        _ = signals.recv() => {
            // No engine yet, so nothing is in flight: shutting down just closes the listener.
            // The load thread is abandoned (see `run`); exit status 0, as a shutdown after load.
            say("shutdown requested during model load; exiting");
            server.shutdown().await?;
            return Ok(());
        }
    };
    server.set_engine(Arc::new(engine))?;
    eprintln!("ready: {} slots × {} tokens", args.slots, args.ctx);
    let handle = server.shutdown_handle();
    tokio::spawn(async move {
        signals.recv().await;
        say("shutting down");
        handle.shutdown();
    });
    server.wait().await?;
    Ok(())
}

/// A line on stderr that cannot panic: on the shutdown paths stderr may already be a closed
/// pipe, and `eprintln!` would panic there (in the signal task: the shutdown would never begin).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// SIGTERM and SIGINT (Ctrl-C), registered at once by [`Signals::install`] (not lazily on first
/// poll, as `tokio::signal::ctrl_c()` is), so one delivered at any later point is kept until
/// [`Signals::recv`] looks.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Signals {
    /// Needs the runtime's context (`Runtime::enter`).
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self.ctrl_c.recv().await;
        }
    }
}
