//! `chord chat`: an interactive conversation using the model's chat template. Each line on
//! stdin is a user turn; the reply streams to stdout. `/reset` starts over, `/exit` or EOF ends.

use super::common::{load_engine, ModelArgs, SamplingArgs};
use chord_engine::{ChatMessage, GenerateOptions};
use std::io::{BufRead, Write};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// System prompt.
    #[arg(long = "system")]
    pub system: Option<String>,
    /// Most tokens per reply.
    #[arg(short = 'n', long = "n-predict", default_value_t = 512)]
    pub n: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = load_engine(&args.model)?;
    eprintln!(
        "[chat template: {}; /reset to start over, /exit or Ctrl-D to quit]",
        engine.chat.source()
    );
    let mut session = engine.session(args.model.ctx);
    let opts = GenerateOptions {
        max_tokens: args.n,
        sampler: args.sampling.config(),
        ..GenerateOptions::default()
    };
    let initial: Vec<ChatMessage> = args
        .system
        .iter()
        .map(|s| ChatMessage {
            role: "system".into(),
            content: s.clone(),
        })
        .collect();
    let mut messages = initial.clone();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let mut line = String::new();
    loop {
        eprint!("> ");
        line.clear();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        match text {
            "/exit" | "/quit" => break,
            "/reset" => {
                messages = initial.clone();
                session.reset();
                continue;
            }
            "" => continue,
            _ => {}
        }
        messages.push(ChatMessage {
            role: "user".into(),
            content: text.to_string(),
        });
        let gen = session.chat(&messages, &opts, |ev| {
            out.write_all(ev.output).and_then(|_| out.flush()).is_ok()
        });
        match gen {
            Ok(g) => {
                writeln!(out)?;
                messages.push(ChatMessage {
                    role: "assistant".into(),
                    content: String::from_utf8_lossy(&g.output).into_owned(),
                });
            }
            Err(e) => {
                // A failed turn (e.g. context full) is reported; the conversation stays usable.
                eprintln!("error: {e}");
                messages.pop();
            }
        }
    }
    Ok(())
}
