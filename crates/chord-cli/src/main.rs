//! `chord`: the command line of wasm-chord. One subcommand per file in `src/cmd/`, each with an
//! `Args` (clap) and a `run(Args) -> anyhow::Result<()>`. Results go to stdout, logs and
//! progress to stderr (`RUST_LOG=debug` for more).

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "chord",
    version,
    about = "Run GGUF language models (wasm-chord)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download a known model into the local cache (verified by size and sha256).
    Pull(cmd::pull::Args),
    /// Show a GGUF file's hyperparameters, tokenizer, metadata and tensors.
    Inspect(cmd::inspect::Args),
    /// Generate text from a prompt, streamed to stdout.
    Run(cmd::run::Args),
    /// Chat interactively using the model's chat template.
    Chat(cmd::chat::Args),
    /// Print the token ids of a text as JSON.
    Tokenize(cmd::tokenize::Args),
    /// Print the top next-token logits after a prompt as JSON.
    Logits(cmd::logits::Args),
    /// Measure prefill and decode speed, latency, load time, memory and bandwidth use.
    Bench(cmd::bench::Args),
    /// Serve the model over OpenAI-compatible HTTP and a WebSocket protocol.
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pull(args) => cmd::pull::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Chat(args) => cmd::chat::run(args),
        Command::Tokenize(args) => cmd::tokenize::run(args),
        Command::Logits(args) => cmd::logits::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Serve(args) => cmd::serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
