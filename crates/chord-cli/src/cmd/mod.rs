//! One module per subcommand.

pub mod bandwidth;
pub mod bench;
pub mod bytesize;
pub mod chat;
pub mod common;
pub mod inspect;
pub mod logits;
pub mod pull;
pub mod run;
pub mod serve;
pub mod tokenize;

use std::io::Write;

/// Writes `text` to stdout; a closed pipe (`chord inspect x | head`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
