//! `chord pull NAME`: fetch a known model into the cache, with a progress bar on stderr; prints
//! the file's path on stdout.

use anyhow::Context;
use chord_hub::{Phase, Progress};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Model name (`gemma3-270m`, `qwen2.5-coder-0.5b`, `qwen2.5-coder-1.5b`, or an alias).
    pub name: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut bar = Bar::new(&args.name);
    let path = chord_hub::pull(&args.name, |p| bar.update(p))
        .with_context(|| format!("pulling '{}'", args.name))?;
    bar.finish();
    super::print_stdout(&format!("{}\n", path.display()))
}

/// A one-line progress bar on stderr: redrawn in place on a terminal, a line per 25% otherwise
/// (CI logs).
struct Bar {
    name: String,
    tty: bool,
    phase: Option<Phase>,
    started: Instant,
    last_draw: Instant,
    last_quarter: u64,
}

impl Bar {
    fn new(name: &str) -> Self {
        let now = Instant::now();
        Self {
            name: name.to_string(),
            tty: std::io::stderr().is_terminal(),
            phase: None,
            started: now,
            last_draw: now,
            last_quarter: 0,
        }
    }

    fn update(&mut self, p: Progress) {
        let new_phase = self.phase != Some(p.phase);
        if new_phase {
            if self.phase.is_some() && self.tty {
                eprintln!();
            }
            self.phase = Some(p.phase);
            self.started = Instant::now();
            self.last_quarter = u64::MAX;
        }
        let frac = if p.total == 0 {
            1.0
        } else {
            p.done as f64 / p.total as f64
        };
        if self.tty {
            if !new_phase
                && p.done < p.total
                && self.last_draw.elapsed() < Duration::from_millis(100)
            {
                return;
            }
            self.last_draw = Instant::now();
            let width = 30;
            let filled = ((frac * width as f64) as usize).min(width);
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            let _ = write!(
                std::io::stderr(),
                "\r{:<8} {} [{}{}] {:>4.0}% {:>8} / {:<8} {:>7}/s ",
                phase_name(p.phase),
                self.name,
                "#".repeat(filled),
                "-".repeat(width - filled),
                frac * 100.0,
                human(p.done),
                human(p.total),
                human((p.done as f64 / secs) as u64),
            );
        } else {
            let quarter = (frac * 4.0) as u64;
            if quarter != self.last_quarter {
                self.last_quarter = quarter;
                eprintln!(
                    "{} {}: {:.0}% ({} / {})",
                    phase_name(p.phase),
                    self.name,
                    frac * 100.0,
                    human(p.done),
                    human(p.total)
                );
            }
        }
    }

    fn finish(&self) {
        if self.tty && self.phase.is_some() {
            eprintln!();
        }
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Verify => "verify",
        Phase::Download => "download",
        Phase::Assemble => "assemble",
    }
}

/// Bytes in binary units, e.g. `241.4 MiB`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
